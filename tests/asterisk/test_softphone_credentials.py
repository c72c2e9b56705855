"""The desktop softphone's credentials against the real Asterisk: a logged-in WebRTC agent gets a
fresh password that registers over WSS; a second login's password replaces the first; after logout
the password no longer registers and the old cookie obtains nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from tests.asterisk.conftest import AsteriskSandbox
from tests.support.desktop import login
from tests.support.settings import TEST_QUEUES, base_config
from tests.support.softphone import CERT_DIR, WEBRTC_AGENT, WEBRTC_QUEUES, webrtc_agents
from tests.support.wss_sip import register
from tongdai.app import Bridge

pytestmark = [pytest.mark.asterisk]
CREDS = "/api/softphone/credentials"


@pytest.fixture
async def webrtc_bridge(asterisk_sandbox: AsteriskSandbox, tmp_path: Path) -> AsyncIterator[Bridge]:
    settings = asterisk_sandbox.settings_for(
        tmp_path,
        queues=[*TEST_QUEUES, *WEBRTC_QUEUES],
        agents=[*base_config()["agents"], *webrtc_agents()],
    )
    b = Bridge(settings)
    await b.start()
    assert b.ami is not None
    await b.ami.wait_connected(30)
    await b.ami.wait_booted(30)
    yield b
    await b.stop()


async def desk_session(base: str) -> tuple[aiohttp.ClientSession, str]:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    await login(http, base, WEBRTC_AGENT, "demo-1001")  # tests/support/softphone.py: 1001's demo hash
    async with http.get(f"{base}/") as r:
        m = re.search(r'data-csrf="([^"]+)"', await r.text())
    assert m
    return http, m.group(1)


async def credentials(
    http: aiohttp.ClientSession, base: str, csrf: str, renew: bool = False
) -> tuple[int, dict[str, Any]]:
    body = {"renew": True} if renew else None
    async with http.post(f"{base}{CREDS}", headers={"X-CSRF-Token": csrf}, json=body) as r:
        return r.status, await r.json()


async def test_session_password_registers_and_dies_with_the_session(
    webrtc_bridge: Bridge, asterisk_sandbox: AsteriskSandbox
) -> None:
    base = f"http://127.0.0.1:{webrtc_bridge.web_port}"
    ca = asterisk_sandbox.root / CERT_DIR / "ca.pem"
    first, csrf1 = await desk_session(base)
    second, csrf2 = await desk_session(base)
    try:
        # Without the CSRF token: refused (a cross-site page cannot fetch the agent's password).
        async with first.post(f"{base}{CREDS}") as r:
            assert r.status == 403
        status, c1 = await credentials(first, base, csrf1)
        assert status == 200, c1
        assert c1["ws_url"] == f"wss://127.0.0.1:{asterisk_sandbox.wss_port}/ws"
        assert c1["uri"] == f"sip:{WEBRTC_AGENT}@127.0.0.1" and c1["username"] == WEBRTC_AGENT
        assert len(c1["password"]) >= 32
        # The page never carries it: only this API answer does.
        async with first.get(f"{base}/") as r:
            assert c1["password"] not in await r.text()
        assert await register(c1["ws_url"], ca, WEBRTC_AGENT, c1["password"], "127.0.0.1") == 200
        assert await register(c1["ws_url"], ca, WEBRTC_AGENT, "a-guessed-password-123", "127.0.0.1") != 200

        # A second login elsewhere gets its own password; the first one stops working.
        status, c2 = await credentials(second, base, csrf2)
        assert status == 200 and c2["password"] != c1["password"]
        assert await register(c2["ws_url"], ca, WEBRTC_AGENT, c2["password"], "127.0.0.1") == 200
        assert await register(c1["ws_url"], ca, WEBRTC_AGENT, c1["password"], "127.0.0.1") != 200
        # The first page's retry after its refused refresh (renew) does not take it back: 409, and
        # the second login's password still works. The second's own renewal is granted.
        status, taken = await credentials(first, base, csrf1, renew=True)
        assert status == 409 and taken["error"]["code"] == "softphone.taken", taken
        assert await register(c2["ws_url"], ca, WEBRTC_AGENT, c2["password"], "127.0.0.1") == 200
        status, c2 = await credentials(second, base, csrf2, renew=True)
        assert status == 200, c2
        assert await register(c2["ws_url"], ca, WEBRTC_AGENT, c2["password"], "127.0.0.1") == 200

        # Logout: the password is withdrawn from Asterisk, and the old cookie obtains no new one.
        copied = {k: v.value for k, v in second.cookie_jar.filter_cookies(URL(base)).items()}
        async with second.post(f"{base}/logout", data={"csrf": csrf2}, allow_redirects=False) as r:
            assert r.status == 302
        assert f"{WEBRTC_AGENT}-webrtc" not in asterisk_sandbox.cli("pjsip show auths")
        assert await register(c2["ws_url"], ca, WEBRTC_AGENT, c2["password"], "127.0.0.1") != 200
        stolen = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        stolen.cookie_jar.update_cookies(copied)
        async with stolen.post(f"{base}{CREDS}", headers={"X-CSRF-Token": csrf2}) as r:
            assert r.status == 401, await r.text()
        await stolen.close()
    finally:
        await first.close()
        await second.close()


async def test_an_agent_without_a_softphone_gets_no_credentials(webrtc_bridge: Bridge) -> None:
    base = f"http://127.0.0.1:{webrtc_bridge.web_port}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await login(http, base, "1001", "demo-1001")
        async with http.get(f"{base}/") as r:
            m = re.search(r'data-csrf="([^"]+)"', await r.text())
        assert m
        status, body = await credentials(http, base, m.group(1))
        assert status == 404 and body["error"]["code"] == "softphone.not_configured"
