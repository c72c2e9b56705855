"""The AGI environment parser: Asterisk 22's header, with caller-controlled values written raw."""

from __future__ import annotations

import pytest

from core.agi import AgiRequest, display_text, parse_agi_env
from core.errors import AgiError

# Asterisk 22.10's header for AGI(agi://127.0.0.1:4573/ivr) on a Local channel (res_agi.c order).
REAL = """agi_network: yes
agi_network_script: ivr
agi_request: agi://127.0.0.1:4573/ivr
agi_channel: Local/18001090@tongdai-hotline-00000001;2
agi_language: en
agi_type: Local
agi_uniqueid: tdtest-1700000000.12
agi_version: 22.10.1
agi_callerid: 0987654321
agi_calleridname: NAME
agi_callingpres: 0
agi_callingani2: 0
agi_callington: 0
agi_callingtns: 0
agi_dnid: unknown
agi_rdnis: unknown
agi_context: tongdai-ivr
agi_extension: s
agi_priority: 4
agi_enhanced: 0.0
agi_accountcode:\x20
agi_threadid: 140218061526720

"""


def env_with(name: str, header: str = REAL) -> dict[str, str]:
    return parse_agi_env(header.replace("NAME", name))


def test_the_real_header_parses_to_every_key() -> None:
    env = env_with("Nguyen Van An")
    assert env["calleridname"] == "Nguyen Van An" and env["callerid"] == "0987654321"
    assert env["network_script"] == "ivr" and env["threadid"] == "140218061526720"
    assert env["accountcode"] == "" and len(env) == 22


@pytest.mark.parametrize(
    "name",
    [
        "x\nEXEC System touch pwned",
        "x\n\nEXEC System touch pwned\n",  # blank lines too: the header cannot end before threadid
        "x\nagi_unknown_key: y\n200 result=1",  # not one of Asterisk's keys: just text
        'x"\\\nHANGUP',
    ],
)
def test_stray_lines_after_the_name_are_the_name(name: str) -> None:
    env = env_with(name)
    assert env["calleridname"] == name
    assert env["callingpres"] == "0" and env["context"] == "tongdai-ivr"


def test_a_number_with_a_newline_stays_in_its_field() -> None:
    env = parse_agi_env(REAL.replace("0987654321", "0987\nEXEC x"))
    assert env["callerid"] == "0987\nEXEC x" and env["calleridname"] == "NAME"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("x\nagi_network_script: evil", "out of order"),
        ("x\nagi_request: agi://evil/x", "out of order"),
        ("x\nagi_calleridname: y", "out of order"),
        ("x\nagi_callingpres: 0", "out of order"),  # taken as the real one; the real one repeats it
        ("x\nagi_dnid: 1900", "before agi_callingpres"),
        ("x\nagi_arg_1: evil", "before agi_callingpres"),
    ],
)
def test_keys_forged_inside_a_value_refuse_the_request(name: str, why: str) -> None:
    with pytest.raises(AgiError, match=why):
        env_with(name)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("agi_callingpres: 0", "agi_callingpres: zero"),
        ("agi_enhanced: 0.0", "agi_enhanced: 2.0"),
        ("agi_network: yes", "agi_network: no"),
        ("agi_callingani2: 0\n", ""),  # a required key missing
        ("agi_language: en", "agi_language: en\nsecond line"),  # Asterisk's own values are one line
        ("agi_threadid: 140218061526720\n", ""),  # the blank line cannot end the header early
    ],
)
def test_anything_but_asterisks_shape_is_refused(old: str, new: str) -> None:
    with pytest.raises(AgiError):
        parse_agi_env(REAL.replace(old, new))


def test_arguments_in_order_and_optional_script() -> None:
    header = REAL.replace("agi_network_script: ivr\n", "").replace(
        "140218061526720\n", "140218061526720\nagi_arg_1: a\nagi_arg_2: b\nc\n"
    )
    env = parse_agi_env(header)
    assert env["arg_1"] == "a" and env["arg_2"] == "b\nc" and "network_script" not in env
    with pytest.raises(AgiError):
        parse_agi_env(REAL.replace("140218061526720\n", "140218061526720\nagi_arg_2: b\n"))


def test_display_name_has_no_controls() -> None:
    req = AgiRequest(env_with("x\nEXEC System\ttouch\x1b[2J pwned\u202e"), "ivr", {})
    assert req.caller_name == "x EXEC System touch [2J pwned"
    assert AgiRequest(env_with("unknown"), "ivr", {}).caller_name == ""
    assert display_text("a" * 200) == "a" * 80
