"""The pop carries the repeat-contact note (reports/contact_note.py) beside the profile; a failing
note never holds the pop back."""

from __future__ import annotations

import json
from typing import Any

from agent_desktop.hub import PopHub
from core.bus import BusEvent

NOTE = {"ordinal": 3, "window_days": 7.0, "last_day": "2026-11-28", "last_topic": "Báo hỏng internet",
        "last_outcome": "unresolved"}  # fmt: skip


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


async def pop_with(note: Any) -> dict[str, Any]:
    hub = PopHub(no_profile, no_audit, repeat_note=note)
    sock = Sock()
    await hub.connect("1001", "agent", sock)
    data = {"ringing_agent": "1001", "customer_id": "KH7", "caller_number": "0912345678"}
    await hub.on_call_event(BusEvent("call.ringing", "c1", data))
    await hub.close()
    (frame,) = [f for f in sock.frames if f["type"] == "pop"]
    return frame


async def test_the_pop_shows_the_owners_earlier_contacts() -> None:
    seen: list[dict[str, Any]] = []

    async def note(call: dict[str, Any]) -> dict[str, Any] | None:
        seen.append(call)
        return NOTE

    assert (await pop_with(note))["repeat"] == NOTE
    assert seen[0]["customer_id"] == "KH7"


async def test_a_failing_note_still_pops() -> None:
    async def broken(_: dict[str, Any]) -> dict[str, Any] | None:
        raise RuntimeError("database away")

    frame = await pop_with(broken)
    assert frame["repeat"] is None and frame["agent_id"] == "1001"
