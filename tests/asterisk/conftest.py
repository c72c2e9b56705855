"""The real Asterisk 22 (Debian sid chroot) for the tests in this folder.

The session fixture builds or reuses the sandbox root, renders tongdai's Asterisk configuration for
the test deployment, (re)starts Asterisk with it and waits for ``FullyBooted`` on AMI: no fixed sleeps.
These tests never skip in CI: a missing sandbox there is a failure. On a failing test, the tail of
Asterisk's log is attached to the report.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from asterisk_conf.render import write_all
from core.ami import AmiClient
from crm_bridge.demo_data import load_demo
from ivr.prompts import generate_prompts
from tests.support.settings import REPO, SIMPLE_IVR, TEST_QUEUES, base_config, free_port, make_settings
from tests.support.sip import SIP_QUEUES, session_overrides, sip_agents
from tests.support.softphone import WEBRTC_QUEUES, sandbox_certificates, webrtc_agents, webrtc_config
from tongdai.app import Bridge
from tongdai.settings import Settings

SANDBOX = REPO / "asterisk_conf" / "sandbox.sh"
AMI_SECRET = "test-ami-secret"
# In Asterisk's configuration for the ACD tests only (test_acd_*.py add them to their own bridges'
# settings; other tests' bridges never see them): a queue with a wrap-up, and an agent whose SIP
# phone (PJSIP endpoint) never registers.
ACD_WRAPUP_QUEUE: dict[str, Any] = {"name": "aftercall", "label": "Hậu mãi", "wrapup": 3, "members": []}
VOICEMAIL_BOX = "7000"
ACD_SIP_AGENT: dict[str, Any] = {
    "id": "7001",
    "name": "Máy SIP chưa đăng ký",
    "phone": "pjsip",
    "sip_secret": "Unregistered-phone-s3cret",
    "password_hash": base_config()["agents"][0]["password_hash"],
}

# Skills, VIP group and sticky agent (test_acd_routing.py): a queue of the internet skill, three
# simulated agents of its own (a plain member, an internet expert, the VIP desk), a VIP stage, a sticky
# stage and a fast widening rule, rendered into this Asterisk for those tests only.
ROUTING_QUEUE: dict[str, Any] = {
    "name": "skills",
    "label": "Kỹ năng",
    "skill": "internet",
    "strategy": "linear",  # without the window, the plain member (logged in first) would be rung first
    "wrapup": 0,
    "members": [{"agent": "7301"}],
}
ROUTING_AGENTS: list[dict[str, Any]] = [
    {
        **ACD_SIP_AGENT,
        "id": aid,
        "name": name,
        "phone": "local",
        "auto_login": False,
        "sip_secret": None,
        **extra,
    }
    for aid, name, extra in (
        ("7301", "Thành viên thường", {}),
        ("7302", "Chuyên gia Internet", {"skills": {"internet": 5}}),
        ("7303", "Bàn VIP", {}),
    )
]
ROUTING: dict[str, Any] = {
    "skills": {"widen_every_seconds": 2, "all_after_seconds": 4},
    "queues": {
        "skills": {"vip_agents": ["7303"], "vip_first_seconds": 15, "sticky": {"days": 30, "seconds": 10}}
    },
}


@dataclass
class AsteriskSandbox:
    root: Path
    settings: Settings  # the deployment Asterisk was configured for
    agi_port: int
    # Free ports chosen per run, so several sandboxes (TONGDAI_SANDBOX=another root) can run side by side.
    ami_port: int = 5038
    sip_port: int = 5060
    wss_port: int = 8089  # the softphone: Asterisk's TLS listener and ARI (tests/support/softphone.py)
    ari_port: int = 8088

    @property
    def log_path(self) -> Path:
        return self.root / "var" / "log" / "asterisk" / "messages.log"

    def cli(self, command: str) -> str:
        return subprocess.run(
            [str(SANDBOX), "cli", command], capture_output=True, text=True, check=True, timeout=30
        ).stdout

    def settings_for(self, tmp_path: Path, db_url: str | None = None, **over: Any) -> Settings:
        """Per-test bridge settings that match what Asterisk was configured with."""
        web_port = free_port()
        base: dict[str, Any] = {
            "node": {"name": "tongdai-test", "data_dir": str(tmp_path / "var")},
            "asterisk": {
                "system_name": "tdtest",
                "ami": {"secret": AMI_SECRET, "ping_interval": 2, "port": self.ami_port},
                "agi": {"port": self.agi_port},
                "sip": {"port": self.sip_port},
                "webrtc": webrtc_config(self.wss_port, self.ari_port),
            },
            "database": {"url": db_url or f"sqlite+aiosqlite:///{tmp_path / 'tongdai.db'}"},
            "web": {"port": web_port, "allowed_origins": [f"http://127.0.0.1:{web_port}"]},
            "queues": TEST_QUEUES,
            "ivr": SIMPLE_IVR,
            # Where the sandbox's Asterisk writes recordings and its own CDR file, seen from outside.
            "recordings": {"dir": str(self.root / "var/spool/asterisk/monitor")},
            "cdr": {"csv_path": str(self.root / "var/log/asterisk/cdr-custom/tongdai.csv")},
        }
        from tests.support.settings import deep_merge

        return make_settings(**deep_merge(base, over))


def _require(cond: bool, why: str) -> None:
    if cond:
        return
    if os.environ.get("CI"):
        pytest.fail(f"Asterisk tests must run in CI: {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def asterisk_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteriskSandbox]:
    _require(os.geteuid() == 0, "the Asterisk sandbox needs root (chroot)")
    build = subprocess.run([str(SANDBOX), "build"], capture_output=True, text=True, timeout=900, check=False)
    _require(build.returncode == 0, f"sandbox build failed: {build.stderr[-2000:]}")
    root = Path(
        subprocess.run([str(SANDBOX), "root"], capture_output=True, text=True, check=True).stdout.strip()
    )
    agi_port = free_port()
    conf = tmp_path_factory.mktemp("asterisk-conf")
    sandbox = AsteriskSandbox(root, make_settings(), agi_port, *(free_port() for _ in range(4)))
    sandbox_certificates(root)
    settings = sandbox.settings_for(
        tmp_path_factory.mktemp("base"),
        queues=[*TEST_QUEUES, ACD_WRAPUP_QUEUE, ROUTING_QUEUE, *SIP_QUEUES, *WEBRTC_QUEUES],
        agents=[*base_config()["agents"], ACD_SIP_AGENT, *ROUTING_AGENTS, *sip_agents(), *webrtc_agents()],
        routing=ROUTING,
        # A voicemail box for the queue-exit test (test_queue_exits.py): voicemail.conf and app_voicemail.
        queue_exits={
            "queues": {ACD_WRAPUP_QUEUE["name"]: {"exit": {"action": "voicemail", "mailbox": VOICEMAIL_BOX}}}
        },
        # The SIP tier (tests/sip): carrier trunks, SIP phones and their queue, in the same Asterisk.
        **session_overrides(),
    )
    sandbox.settings = settings
    write_all(settings, conf)
    # Asterisk's own CDR file outlives runs (a load bench leaves thousands of rows): every test
    # bridge would "recover" them at start. Each session starts from an empty file.
    settings.cdr.csv_path.parent.mkdir(parents=True, exist_ok=True)
    settings.cdr.csv_path.write_text("")
    # The real prompts, spoken by espeak-ng: the IVR plays them as it would in production.
    sounds = tmp_path_factory.mktemp("sounds")
    generate_prompts(make_settings().ivr, sounds)
    generate_prompts(settings.ivr, sounds)
    subprocess.run([str(SANDBOX), "restart", str(conf), str(sounds)], check=True, timeout=120)
    yield sandbox
    if not os.environ.get("TONGDAI_KEEP_ASTERISK"):
        subprocess.run([str(SANDBOX), "stop"], check=False, timeout=60)


@pytest.fixture
async def bridge(asterisk_sandbox: AsteriskSandbox, tmp_path: Path) -> AsyncIterator[Bridge]:
    """A running tongdai bridge (SQLite) connected to the sandbox, with the demo customers loaded."""
    b = Bridge(asterisk_sandbox.settings_for(tmp_path))
    await b.start()
    assert b.ami is not None and b.engine is not None
    await b.ami.wait_connected(30)
    await b.ami.wait_booted(30)
    # Queue membership is dynamic: wait until the simulated agents are logged in to their queues.
    await b.agents.ready(30)
    await load_demo(b.engine, 0)
    yield b
    await b.stop()


@pytest.fixture
async def ami(asterisk_sandbox: AsteriskSandbox) -> AsyncIterator[AmiClient]:
    """The test's own AMI connection (for placing calls), ready once Asterisk is fully booted."""
    m = asterisk_sandbox.settings.asterisk.ami
    client = AmiClient(m.host, m.port, m.username, AMI_SECRET, reconnect_min=0.2, reconnect_max=1)
    await client.start()
    await client.wait_connected(60)
    await client.wait_booted(60)
    yield client
    await client.stop()


async def place_call(
    ami: AmiClient,
    caller: str,
    *,
    hotline: str = "18001090",
    dtmf: str = "",
    stay: float = 4,
    dtmf_delay: float = 1,
    caller_name: str = "",
    variables: dict[str, str] | None = None,
) -> None:
    """A simulated caller: dials the hotline from ``caller``, keys ``dtmf`` and hangs up after ``stay`` s.

    ``variables`` are extra channel variables (``__NAME`` ones are inherited by the agent's leg).
    """
    name = caller_name.replace('"', "")
    extra = [f"{k}={v}" for k, v in (variables or {}).items()]
    await ami.action(
        "Originate",
        {
            "Channel": f"Local/{hotline}@tongdai-hotline",
            "Context": "tongdai-callsim",
            "Exten": "s",
            "Priority": "1",
            "CallerID": f'"{name}" <{caller}>' if name else caller,
            "Variable": [
                f"TONGDAI_DTMF={dtmf}",
                f"TONGDAI_STAY={stay}",
                f"TONGDAI_DTMF_DELAY={dtmf_delay}",
                *extra,
            ],
            "Async": "true",
        },
    )


async def eventually(fn: Any, timeout: float = 15.0, interval: float = 0.1) -> Any:
    """Poll ``fn`` (sync or async) until it returns a truthy value, within a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        got = fn()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return got
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed and "asterisk_sandbox" in getattr(item, "fixturenames", ()):
        root = Path(
            subprocess.run([str(SANDBOX), "root"], capture_output=True, text=True, check=False).stdout.strip()
            or "/"
        )
        log = root / "var" / "log" / "asterisk" / "messages.log"
        if log.exists():
            tail = log.read_text(errors="replace").splitlines()[-80:]
            report.sections.append(("Asterisk messages.log (tail)", "\n".join(tail)))
