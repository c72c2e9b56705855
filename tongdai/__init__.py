"""The composition root: assembles core and the feature packages into one tongdai node."""
