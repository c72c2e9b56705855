"""tongdai ACD: tier-aware call distribution.

``policy`` holds the routing rules (tier priorities, wait aging, per-tier service-level targets),
``erlang`` the Erlang C formulas, ``simulator`` a discrete-event simulation of a day driven by the
same policy objects, and ``simulate_cli`` the ``tongdai acd simulate`` command.
"""
