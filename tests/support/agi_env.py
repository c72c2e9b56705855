"""What Asterisk 22 sends to open a FastAGI ``ivr`` session for a carrier's call, in its fixed key
order (core/agi.py refuses anything else): for tests that play Asterisk's side of the socket."""

IVR_HEADER = (
    "agi_network: yes\nagi_network_script: ivr\nagi_request: agi://127.0.0.1/ivr\n"
    "agi_channel: PJSIP/trunk-1\nagi_language: en\nagi_type: PJSIP\n"
    "agi_uniqueid: ast1-9.1\nagi_version: 22.10.1\n"
    "agi_callerid: 0912345678\nagi_calleridname: unknown\n"
    "agi_callingpres: 0\nagi_callingani2: 0\nagi_callington: 0\nagi_callingtns: 0\n"
    "agi_dnid: 18001090\nagi_rdnis: unknown\nagi_context: tongdai-ivr\nagi_extension: s\n"
    "agi_priority: 4\nagi_enhanced: 0.0\nagi_accountcode: \nagi_threadid: 140212\n\n"
)
