"""No config value can inject into Asterisk's *.conf: a CR/LF, NUL, control character or ';' in any
value that asterisk_conf/ renders is refused at config load, with the dotted path and line.

The sweep finds the rendered values itself: every string of a full deployment (trunks with
registration and TLS, SIP phones) that appears in the rendered files gets each hostile form in turn,
and each must be refused, or else not reach the files at all. A field added to a template later is
covered without editing this test."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from asterisk_conf.render import render_all
from core.errors import ConfigError
from tests.support.settings import REPO, base_config, deep_merge
from tongdai.settings import Settings, parse_config

PHONE_SECRET = "kT9-vQ2m-Lx7p-Rw4z"
HOSTILE = {
    "newline": "\n[evil]\nexten => _X.,1,System(id)",
    "crlf": "\r\n#exec /bin/sh",
    "nul": "\x00evil",
    "comment": ";evil",
    "tab": "\tevil",
    "line-separator": "\u2028evil",
}
MARKERS = {"newline": "[evil]", "crlf": "#exec", "nul": "\x00", "comment": ";evil", "tab": "\tevil"}


def full_deployment() -> dict[str, Any]:
    base = base_config()
    phone = {**base["agents"][0], "id": "7101", "name": "Võ Thị Sương", "phone": "pjsip"}
    return deep_merge(
        base,
        {
            "agents": [*base["agents"], {**phone, "sip_secret": PHONE_SECRET}],
            "trunks": {
                "tls": {
                    "cert_file": "/etc/tongdai/tls.crt",
                    "priv_key_file": "/etc/tongdai/tls.key",
                    "ca_list_file": "/etc/ssl/ca.pem",
                },
                "carriers": [
                    {
                        "name": "viettel",
                        "host": "10.0.0.1",
                        "match": ["10.0.0.0/29"],
                        "from_domain": "sip.viettel.vn",
                        "dids": [
                            {"number": "+8418001090", "hotline": "18001090"},
                            {"number": "02437001234", "queue": "billing"},
                        ],
                    },
                    {
                        "name": "vnpt",
                        "host": "10.0.1.1",
                        "transport": "tls",
                        "registration": {
                            "username": "tongdai",
                            "secret": "Reg-s3cret-Qw8zLp",
                            "server": "reg.vnpt.vn:5061",
                        },
                    },
                ],
                "outbound": [
                    {
                        "name": "mobile",
                        "patterns": ["0[35789]XXXXXXXX"],
                        "trunks": ["viettel", "vnpt"],
                        "caller_id": "19001091",
                    }
                ],
            },
        },
    )


def leaves(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from leaves(v, (*path, i))
    elif isinstance(node, str):
        yield path, node


def with_value(data: dict[str, Any], path: tuple[str | int, ...], value: str) -> dict[str, Any]:
    out = copy.deepcopy(data)
    target: Any = out
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    return out


def rendered_text(data: dict[str, Any]) -> str:
    return "\n".join(render_all(Settings.model_validate(data)).values())


def test_every_rendered_value_refuses_every_hostile_form() -> None:
    data = full_deployment()
    text = rendered_text(data)
    candidates = [(p, v) for p, v in leaves(data) if v and v in text]
    dotted = {".".join(map(str, p)) for p, _ in candidates}
    # The sweep really reaches the free-text values of every renderer (not a vacuous pass).
    assert {
        "asterisk.ami.secret",
        "asterisk.ami.username",
        "asterisk.ami.host",
        "asterisk.agi.advertise_host",
        "asterisk.sip.bind",
        "agents.4.name",
        "agents.4.sip_secret",
        "queues.0.label",
        "default_queue",
        "trunks.carriers.1.registration.secret",
        "trunks.carriers.1.registration.server",
        "trunks.tls.cert_file",
        "trunks.outbound.0.caller_id",
    } <= dotted, sorted(dotted)
    leaked = []
    for path, value in candidates:
        for name, payload in HOSTILE.items():
            # At the end of the value, and for a line break also at its start.
            for hostile in (value + payload, payload + value)[: 2 if name == "newline" else 1]:
                try:
                    out = rendered_text(with_value(data, path, hostile))
                except ValidationError:
                    continue
                if MARKERS.get(name, payload) in out:
                    leaked.append(f"{'.'.join(map(str, path))} [{name}]")
                elif name == "newline":
                    break  # accepted but not written: a value Asterisk never sees (an IVR label)
            else:
                continue
            break
    assert not leaked, leaked


SHIPPED = (REPO / "config.yaml").read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


@pytest.mark.parametrize(
    ("original", "hostile", "path", "what"),
    [
        ("secret: demo-ami-secret-change-me", 'secret: "abc\\n[evil]"', "asterisk.ami.secret", "line feed"),
        ("username: tongdai", 'username: "tongdai]\\n[admin"', "asterisk.ami.username", "line feed"),
        ("advertise_host: 127.0.0.1", 'advertise_host: "127.0.0.1;x"', "asterisk.agi.advertise_host", "';'"),
        ("name: Nguyễn Thị Lan", 'name: "Nguyễn\\r\\n#exec /bin/sh"', "agents.0.name", "carriage return"),
        ("label: Di động", 'label: "Di động\\u0000"', "queues.0.label", "NUL"),
        ("default_queue: care", 'default_queue: "care\\n"', "default_queue", "line feed"),
        ("- name: demo-carrier", '- name: "demo-carrier\\n"', "trunks.carriers.0.name", "line feed"),
        ("- name: mobile\n", '- name: "mobile\\n[x]"\n', "queues.0.name", "line feed"),
    ],
)
def test_a_hostile_value_in_the_file_is_refused_with_its_path_and_line(
    original: str, hostile: str, path: str, what: str
) -> None:
    assert original in SHIPPED, original
    text = SHIPPED.replace(original, hostile, 1)
    with pytest.raises(ConfigError) as err:
        parse_config(text, env={})
    msg = str(err.value)
    assert f"  {path} (line {line_of(SHIPPED, original)}): holds " in msg and what in msg, msg


def test_a_hostile_secret_from_the_environment_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(SHIPPED, env={"TONGDAI__ASTERISK__AMI__SECRET": "Zq8-hidden-value\n#exec /bin/sh"})
    msg = str(err.value)
    assert "asterisk.ami.secret" in msg and "line feed" in msg
    assert "hidden-value" not in msg and "/bin/sh" not in msg


@pytest.mark.parametrize("value", ["tongdai", "Nguyễn Thị Lan", "reg.vnpt.vn:5061", "a-b_c.d@e"])
def test_ordinary_values_pass(value: str) -> None:
    data = with_value(full_deployment(), ("agents", 0, "name"), value)
    assert Settings.model_validate(data).agents[0].name == value
