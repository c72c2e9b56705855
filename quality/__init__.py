"""Quality evaluations: score forms from config.yaml, filled by QA analysts while listening to calls."""
