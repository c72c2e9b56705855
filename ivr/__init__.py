"""IVR: the menu tree every caller meets first (config model, pure state machine, prompts, read-backs).

``ivr.config`` validates the tree, ``ivr.machine`` walks it one step at a time without any I/O,
``ivr.numbers`` turns figures into word sounds, ``ivr.prompts`` builds the audio at build time and
``ivr.hours`` judges business hours; the FastAGI route (``ivr.agi_route``) only drives the machine.
"""
