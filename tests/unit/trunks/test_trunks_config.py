"""config.yaml ``trunks``: every mistake is one clear error naming the key and its line."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from tests.support.settings import REPO
from tongdai.settings import parse_config

TRUNKS = """
trunks:
  carriers:
    - name: viettel
      host: 10.0.0.1
      match: ["10.0.0.0/29"]
      dids:
        - {number: "+8418001090", hotline: "18001090"}
        - {number: "02437001234", queue: billing}
    - name: vnpt
      host: 10.0.1.1
      transport: tcp
      registration: {username: tongdai, secret: from-the-environment}
      dids:
        - {number: "19001091", hotline: "19001091"}
  outbound:
    - {name: mobile, patterns: ["0[35789]XXXXXXXX"], trunks: [viettel, vnpt]}
"""


def config(extra: str = TRUNKS) -> str:
    return (REPO / "config.yaml").read_text(encoding="utf-8").split("\ntrunks:\n")[0] + extra


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config(text, env={})
    return str(err.value)


def line_of(text: str, needle: str, nth: int = 0) -> int:
    return [i for i, ln in enumerate(text.splitlines(), 1) if needle in ln][nth]


def test_a_valid_trunk_section_loads() -> None:
    s = parse_config(config(), env={}).trunks
    assert [t.name for t in s.carriers] == ["viettel", "vnpt"]
    assert s.carriers[0].dids[0].national() == "18001090"
    assert s.carriers[0].dids[1].national() == "02437001234"
    assert s.registers and s.transports == {"udp", "tcp"}
    assert s.outbound[0].trunks == ["viettel", "vnpt"]


def test_the_shipped_demo_trunk_is_valid() -> None:
    s = parse_config((REPO / "config.yaml").read_text(encoding="utf-8"), env={}).trunks
    assert s.carriers[0].match == ["127.0.0.2"]
    assert s.outbound[0].simulate


def test_registration_secret_comes_from_the_environment() -> None:
    env = {"TONGDAI__TRUNKS__CARRIERS__1__REGISTRATION__SECRET": "s3cret-from-env"}
    s = parse_config(config(), env=env).trunks
    reg = s.carriers[1].registration
    assert reg is not None and reg.secret.get_secret_value() == "s3cret-from-env"


def test_misspelt_trunk_key_is_named_with_its_line() -> None:
    text = config(TRUNKS.replace("      transport: tcp", "      transprt: tcp"))
    msg = error_of(text)
    assert f"trunks.carriers.1.transprt (line {line_of(text, 'transprt')}): unknown key" in msg


def test_a_did_claimed_twice_is_refused_even_in_another_form() -> None:
    # 8418001090 is 18001090 (already viettel's as +8418001090) in another carrier form.
    text = config(
        TRUNKS.replace(
            '{number: "19001091", hotline: "19001091"}', '{number: "8418001090", hotline: "18001090"}'
        )
    )
    msg = error_of(text)
    line = line_of(text, '"8418001090"')
    assert (
        f"trunks.carriers.1.dids.0.number (line {line}): "
        "DID '8418001090' is already claimed by trunk 'viettel'" in msg
    )


def test_unknown_trunk_in_a_route_is_named_with_its_line() -> None:
    text = config(TRUNKS.replace("trunks: [viettel, vnpt]", "trunks: [viettel, fpt]"))
    msg = error_of(text)
    assert "trunks.outbound.0.trunks.1" in msg and "unknown trunk 'fpt'" in msg
    assert f"(line {line_of(text, 'fpt')})" in msg


def test_a_did_to_an_unknown_hotline_or_queue_is_named_with_its_line() -> None:
    text = config(
        TRUNKS.replace("queue: billing", "queue: nowhere").replace('hotline: "19001091"', 'hotline: "1900"')
    )
    msg = error_of(text)
    assert f"trunks.carriers.0.dids.1.queue (line {line_of(text, 'nowhere')}): unknown queue 'nowhere'" in msg
    assert "trunks.carriers.1.dids.0.hotline" in msg and "'1900' is not one of hotline.numbers" in msg


def test_a_did_needs_exactly_one_target() -> None:
    msg = error_of(config(TRUNKS.replace("queue: billing}", 'queue: billing, hotline: "18001090"}')))
    assert "trunks.carriers.0.dids.1" in msg and "exactly one of 'hotline' or 'queue'" in msg


def test_a_trunk_with_dids_must_be_identifiable() -> None:
    msg = error_of(config(TRUNKS.replace('      match: ["10.0.0.0/29"]\n', "")))
    assert "trunks.carriers.0" in msg and "needs 'match'" in msg


def test_bad_network_is_refused() -> None:
    msg = error_of(config(TRUNKS.replace("10.0.0.0/29", "10.0.0.300")))
    assert "trunks.carriers.0.match" in msg and "not an IP address or CIDR" in msg


def test_international_needs_an_explicit_route() -> None:
    # "0X." would also match 00… (international): refused unless the route says international: true.
    msg = error_of(config(TRUNKS.replace('"0[35789]XXXXXXXX"', '"0X."')))
    assert "trunks.outbound.0" in msg and "can reach international numbers" in msg
    ok = config(TRUNKS.replace('patterns: ["0[35789]XXXXXXXX"]', 'patterns: ["00X."], international: true'))
    assert parse_config(ok, env={}).trunks.outbound[0].international


def test_caller_id_must_be_a_hotline_never_an_extension() -> None:
    msg = error_of(
        config(TRUNKS.replace("trunks: [viettel, vnpt]}", 'trunks: [viettel], caller_id: "1001"}'))
    )
    assert "trunks.outbound.0.caller_id" in msg and "an agent's extension" in msg


def test_tls_trunk_needs_certificates() -> None:
    msg = error_of(config(TRUNKS.replace("transport: tcp", "transport: tls")))
    assert "trunks.carriers.1.transport" in msg and "trunks.tls" in msg


def test_sip_phone_agent_needs_a_strong_secret() -> None:
    base = (REPO / "config.yaml").read_text(encoding="utf-8")
    weak = base.replace(
        "    name: Nguyễn Thị Lan\n    phone: local",
        '    name: Nguyễn Thị Lan\n    phone: pjsip\n    sip_secret: "1001-secret"',
    )
    msg = error_of(weak)
    assert (
        f"agents.0.sip_secret (line {line_of(weak, 'sip_secret')}): the SIP secret must be at least 16" in msg
    )
    none = base.replace(
        "    name: Nguyễn Thị Lan\n    phone: local", "    name: Nguyễn Thị Lan\n    phone: pjsip"
    )
    assert "agents.0.sip_secret" in error_of(none)
    strong = weak.replace('"1001-secret"', '"kT9-vQ2m-Lx7p-Rw4z"')
    assert parse_config(strong, env={}).agents[0].phone == "pjsip"
