"""An outage notice posted through the API and heard on the real Asterisk: the bridge speaks the text
into the sandbox's sounds directory, and Asterisk's own log shows it played to the caller from the
area right before the main menu, never to a caller from elsewhere; the one who heard it is counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from core.ami import AmiClient
from tests.asterisk.conftest import AsteriskSandbox
from tests.asterisk.test_ivr_menus import BridgeFactory, call, full_tree, make_bridge

__all__ = ["make_bridge"]  # the fixture, imported

pytestmark = pytest.mark.asterisk

NOC = "noc-token-0123456789abcdef-asterisk"
HANOI = "0912345678"  # KH0000000001, Hà Nội
DANANG = "0333333333"  # KH0000000003, Đà Nẵng


def played_since(sandbox: AsteriskSandbox, offset: int) -> list[str]:
    """The tongdai sounds Asterisk played since ``offset`` of its log ("Playing '…'" at verbose 3)."""
    with sandbox.log_path.open("rb") as f:
        f.seek(offset)
        log = f.read().decode(errors="replace")
    return [
        line.split("Playing '", 1)[1].split(".", 1)[0]
        for line in log.splitlines()
        if "Playing 'tongdai/" in line
    ]


async def test_notice_is_played_before_the_menu_to_the_area_only(
    make_bridge: BridgeFactory, ami: AmiClient, asterisk_sandbox: AsteriskSandbox
) -> None:
    tree: dict[str, Any] = full_tree()
    tree["outage_notices"] = {"sounds_dir": str(asterisk_sandbox.root / "usr/share/asterisk/sounds")}
    tokens = [{"name": "noc", "token": NOC, "scopes": ["outages:write"]}]
    b, rec = await make_bridge(tree, desktop={"api_tokens": tokens})
    url, auth = f"http://127.0.0.1:{b.web_port}/api/outages", {"Authorization": f"Bearer {NOC}"}
    ends = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    async with aiohttp.ClientSession(headers=auth) as http:
        body = {"area": "Hà Nội", "message_vi": "Cáp quang Hà Nội bị đứt.", "ends_at": ends}
        async with http.post(url, json=body) as r:
            notice = await r.json()
            assert r.status == 200 and notice["audio"] == ["vi"], notice
        sound = f"tongdai/vi/outage/n{notice['id']}"

        start = asterisk_sandbox.log_path.stat().st_size
        await call(ami, rec, HANOI, "1", stay=10)  # Vietnamese, then listen
        played = played_since(asterisk_sandbox, start)
        i = played.index(sound)
        assert played[i + 1] == "tongdai/vi/main_menu", played

        start = asterisk_sandbox.log_path.stat().st_size
        await call(ami, rec, DANANG, "1", stay=8)
        played = played_since(asterisk_sandbox, start)
        assert "tongdai/vi/main_menu" in played and not any("/outage/" in p for p in played), played

        async with http.get(url) as r:
            assert [(n["id"], n["heard"]) for n in (await r.json())["outages"]] == [(notice["id"], 1)]
