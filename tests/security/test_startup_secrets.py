"""A node never starts with a shipped or weak secret outside loopback demo mode, and never sends its
session cookie in clear beyond loopback: ``Node.start()`` refuses before anything listens, and
``tongdai check-config`` names the same problems by config path. Real files, real ports, real CLI."""

from __future__ import annotations

import base64
import re
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlalchemy import select

from core.models import AuditEntry
from core.passwords import hash_password
from core.secrets_policy import SHIPPED_DEMO_PASSWORD_HASHES, generate
from tests.support.settings import REPO, deep_merge, free_port, shipped_config
from tongdai.app import Node
from tongdai.cli import main
from tongdai.settings import Settings
from tongdai.startup_checks import UnsafeSecrets, unsafe_problems

SHIPPED_WEAK = [
    "web.session_secret",
    "asterisk.ami.secret",
    "agents.0.password_hash",
    "agents.1.password_hash",
    "agents.2.password_hash",
    "agents.3.password_hash",
]


def local(tmp_path: Path, data: dict[str, Any], **over: Any) -> dict[str, Any]:
    web_port = free_port()
    return deep_merge(
        deep_merge(
            data,
            {
                "node": {"data_dir": str(tmp_path / "var")},
                "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"},
                "web": {"port": web_port},
                "asterisk": {"agi": {"port": free_port()}},
                "redis": {"url": None},
                "cdr": {"csv_path": str(tmp_path / "none.csv")},
            },
        ),
        over,
    )


def strong(data: dict[str, Any]) -> dict[str, Any]:
    """The shipped deployment with every secret replaced as an operator would."""
    env = generate()
    agents = [{**a, "password_hash": hash_password(f"Real-pass-{a['id']}-x9")} for a in data["agents"]]
    return deep_merge(
        data,
        {
            "web": {"session_secret": env["TONGDAI__WEB__SESSION_SECRET"]},
            "asterisk": {"ami": {"secret": env["TONGDAI__ASTERISK__AMI__SECRET"]}},
            "agents": agents,
        },
    )


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def paths_in(err: str) -> list[str]:
    """The weak secrets named in ``err`` (each with its line in the file where it is written)."""
    return [p for p in SHIPPED_WEAK if re.search(rf"^  {re.escape(p)}(?: \(line \d+\))?: ", err, re.M)]


async def test_the_shipped_config_does_not_start_and_nothing_listens(tmp_path: Path) -> None:
    s = Settings.model_validate(local(tmp_path, shipped_config()))
    node = Node(s)
    with pytest.raises(UnsafeSecrets) as err:
        await node.start(connect_ami=False)
    text = str(err.value)
    assert paths_in(text) == SHIPPED_WEAK, text
    assert "demo mode" in text and "tongdai secrets generate" in text
    assert err.value.error_id == "config.unsafe_secrets"
    assert not listening(s.web.port) and not listening(s.asterisk.agi.port)
    assert node.engine is None  # refused before the database was even opened


def write_config(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def test_check_config_on_the_shipped_file_off_loopback_names_every_weak_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TONGDAI__WEB__HOST", "0.0.0.0")
    assert main(["-c", str(REPO / "config.yaml"), "check-config"]) == 2
    err = capsys.readouterr().err
    assert paths_in(err) == SHIPPED_WEAK, err
    assert re.search(r"^  web.secure_cookies( \(line \d+\))?: must be true", err, re.M), err
    assert "Traceback" not in err
    # Each problem points at its line, found in the file itself (not a number kept in the test).
    shipped = (REPO / "config.yaml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(shipped, 1) if text.strip().startswith("session_secret:"))
    assert f"  web.session_secret (line {line}): a shipped demo value" in err, err
    # The same file in demo mode off loopback: still refused, and it says which address is the reason.
    monkeypatch.setenv("TONGDAI__DEMO", "1")
    assert main(["-c", str(REPO / "config.yaml"), "check-config"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"^  web.host( \(line \d+\))?: 0.0.0.0 is not loopback", err, re.M), err
    assert paths_in(err) == SHIPPED_WEAK, err


@pytest.mark.parametrize("softphones", [False, True])
def test_check_config_passes_with_generated_secrets_from_the_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], softphones: bool
) -> None:
    data = local(tmp_path, shipped_config())
    if softphones:  # the softphones' ARI secret, shipped weak, is generated too
        weak = {"cert_file": "/etc/asterisk/keys/s.pem", "priv_key_file": "/etc/asterisk/keys/s.key"}
        data["asterisk"]["webrtc"] = {**weak, "ari_secret": "demo-ari-secret-change-me"}
    data["agents"] = strong(data)["agents"]  # hashes live in the file; secrets come from the env file
    cfg = write_config(tmp_path, data)
    env_file = tmp_path / "secrets.env"
    assert main(["-c", cfg, "secrets", "generate", "--out", str(env_file)]) == 0
    for line in env_file.read_text(encoding="utf-8").splitlines():
        name, _, value = line.partition("=")
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TONGDAI__WEB__HOST", "0.0.0.0")
    monkeypatch.setenv("TONGDAI__WEB__SECURE_COOKIES", "true")
    capsys.readouterr()
    assert main(["-c", cfg, "check-config"]) == 0, capsys.readouterr().err
    assert "valid" in capsys.readouterr().out


async def test_loopback_demo_mode_starts_and_real_secrets_start_without_it(tmp_path: Path) -> None:
    for i, data in enumerate((shipped_config() | {"demo": True}, strong(shipped_config()))):
        node = Node(Settings.model_validate(local(tmp_path / str(i), data)))
        await node.start(connect_ami=False)
        try:
            assert listening(node.web_port)
        finally:
            await node.stop()


@pytest.mark.parametrize(
    ("where", "over"),
    [
        ("web.host", {"web": {"host": "0.0.0.0", "secure_cookies": True}}),
        ("asterisk.agi.bind", {"asterisk": {"agi": {"bind": "0.0.0.0"}}}),
        ("asterisk.ami.host", {"asterisk": {"ami": {"host": "10.0.0.5"}}}),
    ],
)
def test_demo_mode_off_loopback_is_refused(tmp_path: Path, where: str, over: dict[str, Any]) -> None:
    s = Settings.model_validate(local(tmp_path, shipped_config() | {"demo": True}, **over))
    problems = [str(p) for p in unsafe_problems(s)]
    assert any(p.startswith(f"{where}: ") and "not loopback" in p for p in problems), problems
    assert {p.split(":")[0] for p in problems} >= set(SHIPPED_WEAK)


def test_secure_cookies_are_required_off_loopback_even_with_real_secrets(tmp_path: Path) -> None:
    s = Settings.model_validate(local(tmp_path, strong(shipped_config()), web={"host": "0.0.0.0"}))
    assert [p.path for p in unsafe_problems(s)] == ["web.secure_cookies"]
    ok = Settings.model_validate(
        local(tmp_path, strong(shipped_config()), web={"host": "0.0.0.0", "secure_cookies": True})
    )
    assert unsafe_problems(ok) == []


PJSIP_AGENT = {"id": "7101", "name": "Máy SIP", "phone": "pjsip"}


@pytest.mark.parametrize(
    ("path", "over"),
    [
        (
            "agents.4.sip_secret",
            {"agents": [{**PJSIP_AGENT, "sip_secret": "demo-phone-Kq8-xyz", "password_hash": "x"}]},
        ),
        (
            "trunks.carriers.1.registration.secret",
            {
                "trunks": {
                    "carriers": [
                        {"name": "c1", "host": "127.0.0.2", "match": ["127.0.0.2"]},
                        {
                            "name": "c2",
                            "host": "sip.carrier.vn",
                            "registration": {"username": "u", "secret": "abcabcabcabcabcabc"},
                        },
                    ]
                }
            },
        ),
        (
            "recordings.encryption_key",
            {"recordings": {"encryption_key": base64.b64encode(b"k" * 32).decode()}},
        ),
        (
            "desktop.api_tokens.0.token",
            {"desktop": {"api_tokens": [{"name": "crm", "token": "x" * 30, "scopes": ["calls:read"]}]}},
        ),
    ],
)
def test_each_kind_of_secret_is_judged_by_its_path(tmp_path: Path, path: str, over: dict[str, Any]) -> None:
    data = strong(shipped_config())
    if "agents" in over:
        extra = {**over["agents"][0], "password_hash": hash_password("Another-real-pass-7101")}
        over = {"agents": [*data["agents"], extra]}
    s = Settings.model_validate(local(tmp_path, data, **over))
    assert [p.path for p in unsafe_problems(s)] == ["demo", path]


def test_the_shipped_demo_hashes_are_exactly_the_shipped_files() -> None:
    assert {a["password_hash"] for a in shipped_config()["agents"]} == SHIPPED_DEMO_PASSWORD_HASHES


async def test_a_re_hashed_demo_password_is_refused_at_login_outside_demo_mode(tmp_path: Path) -> None:
    # A fresh salt gives a hash nobody shipped, so the config check cannot see it; the login can.
    data = strong(shipped_config())
    data["agents"][0]["password_hash"] = hash_password(f"demo-{data['agents'][0]['id']}")
    node = Node(Settings.model_validate(local(tmp_path, data)))
    await node.start(connect_ami=False)
    try:
        base = f"http://127.0.0.1:{node.web_port}"
        first, second = data["agents"][0]["id"], data["agents"][1]["id"]
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            refused = await form_login(http, base, first, f"demo-{first}")
            assert refused.status == 403
            assert "tongdai hash-password" in await refused.text()
            assert "tongdai_session" not in {c.key for c in http.cookie_jar}
            fine = await form_login(http, base, second, f"Real-pass-{second}-x9")
            assert fine.status == 302
        assert node.sessions is not None
        async with node.sessions() as s:
            rows = list(await s.scalars(select(AuditEntry).where(AuditEntry.action == "auth.demo_password")))
        assert [(r.subject_type, r.subject_id) for r in rows] == [("agent", first)]
    finally:
        await node.stop()


async def form_login(
    http: aiohttp.ClientSession, base: str, agent: str, password: str
) -> aiohttp.ClientResponse:
    async with http.get(f"{base}/login") as r:
        m = re.search(r'name="csrf" value="([^"]+)"', await r.text())
    assert m
    r = await http.post(
        f"{base}/login",
        data={"agent": agent, "password": password, "csrf": m.group(1)},
        allow_redirects=False,
    )
    await r.read()
    return r
