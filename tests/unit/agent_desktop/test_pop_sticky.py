"""The pop tells the sticky agent (acd/routing.py) that they served this customer before, and nobody else."""

from __future__ import annotations

import json
from typing import Any

from agent_desktop.hub import PopHub
from core.bus import BusEvent


class Sock:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.closed = False

    async def send_str(self, data: str) -> None:
        self.frames.append(json.loads(data))


async def no_profile(_: dict[str, Any]) -> dict[str, Any] | None:
    return None


async def no_audit(*_: str) -> None:
    return None


async def pop_for(agent: str) -> dict[str, Any]:
    hub = PopHub(no_profile, no_audit)
    sock = Sock()
    await hub.connect(agent, "agent", sock)
    data = {
        "ringing_agent": agent,
        "queue": "internet",
        "sticky_agent": "1002",
        "sticky_served_on": "2026-11-28",
    }
    await hub.on_call_event(BusEvent("call.ringing", "c1", data))
    await hub.close()
    (frame,) = [f for f in sock.frames if f["type"] == "pop"]
    return frame


async def test_the_sticky_agent_is_told_the_date() -> None:
    assert (await pop_for("1002"))["sticky"] == {"served_on": "2026-11-28"}


async def test_another_agent_rung_for_the_same_call_is_not() -> None:
    assert (await pop_for("1003"))["sticky"] is None
