"""The SIP tier: real SIP to the Asterisk sandbox of tests/asterisk (same session fixtures).

SIPp plays the carrier (calls from 127.0.0.2 to a DID), the agents' desk phones (registered from
127.0.0.1) and the customers behind the carrier (127.0.0.3, 127.0.0.4). In CI these tests run, never
skip: a missing SIPp there is a failure, like a missing sandbox.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from crm_bridge.demo_data import load_demo
from tests.asterisk.conftest import (  # noqa: F401  (fixtures shared with the Asterisk tier)
    AsteriskSandbox,
    ami,
    asterisk_sandbox,
    pytest_runtest_makereport,
)
from tests.support.settings import TEST_QUEUES, base_config
from tests.support.sip import SIP_AGENT, SIP_QUEUE, sip_agents, sip_trunks
from tongdai.app import Bridge

# The IVR a carrier's caller walks with RFC 4733 keys: 1, then 2, then the SIP agents' queue.
SIP_IVR: dict[str, Any] = {
    "default_language": "vi",
    "languages": ["vi", "en"],
    "entry": "main",
    "fallback": "agent",
    "input": {"timeout_ms": 6000, "retries": 1},
    "nodes": {
        "main": {"type": "menu", "prompt": "main_menu", "options": {"1": "sipmenu", "2": "agent"}},
        "sipmenu": {"type": "menu", "prompt": "mobile_menu", "options": {"2": "to_sip", "1": "agent"}},
        "to_sip": {"type": "transfer", "queue": SIP_QUEUE, "label": "Điện thoại SIP"},
        "agent": {"type": "transfer", "queue": "care", "label": "Tổng đài viên"},
    },
}


def sip_bridge_settings(sandbox: AsteriskSandbox, tmp_path: Path, **over: Any) -> Any:
    queues = [
        *TEST_QUEUES,
        {
            "name": SIP_QUEUE,
            "label": "SIP",
            "wrapup": 0,
            "ring_timeout": 20,
            "members": [{"agent": SIP_AGENT}],
        },
    ]
    agents = [*base_config()["agents"], *sip_agents(auto_login=True)]
    return sandbox.settings_for(
        tmp_path, queues=queues, agents=agents, ivr=SIP_IVR, trunks=sip_trunks(), **over
    )


@pytest.fixture(scope="session", autouse=True)
def _sipp_installed() -> None:
    if shutil.which("sipp"):
        return
    if os.environ.get("CI"):
        pytest.fail("the SIP tier must run in CI: sipp (Debian sip-tester) is not installed")
    pytest.skip("sipp (Debian sip-tester) is not installed")


@pytest.fixture
async def sip_bridge(asterisk_sandbox: AsteriskSandbox, tmp_path: Path) -> AsyncIterator[Bridge]:  # noqa: F811
    """A bridge whose SIP agent 7101 is logged in to ``sipq`` (its phone registers in the test)."""
    b = Bridge(sip_bridge_settings(asterisk_sandbox, tmp_path))
    await b.start()
    assert b.ami is not None and b.engine is not None
    await b.ami.wait_connected(30)
    await b.ami.wait_booted(30)
    await b.agents.ready(30)
    await load_demo(b.engine, 0)
    yield b
    await b.stop()
