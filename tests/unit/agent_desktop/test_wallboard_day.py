"""The wallboard's day is Việt Nam's: it starts at 17:00 UTC, and the board reads its own clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agent_desktop.wallboard import Wallboard, today_bounds
from core.bus import BusEvent

# 23:59:59 on Saturday 5 December 2026 in Việt Nam, one second before its midnight (17:00 UTC).
LAST_SECOND = datetime(2026, 12, 5, 16, 59, 59, tzinfo=UTC).timestamp()


async def _push(_: dict[str, Any]) -> None:
    return None


def test_today_bounds_turn_at_midnight_in_viet_nam_not_utc() -> None:
    assert today_bounds(LAST_SECOND) == (
        datetime(2026, 12, 4, 17, 0, tzinfo=UTC),
        datetime(2026, 12, 5, 17, 0, tzinfo=UTC),
    )
    assert today_bounds(LAST_SECOND + 1)[0] == datetime(2026, 12, 5, 17, 0, tzinfo=UTC)


async def test_the_day_totals_restart_at_midnight_by_the_boards_clock() -> None:
    now = [LAST_SECOND - 60]
    wb = Wallboard(_push, queues={"care": "CSKH"}, agents={}, queue_sl=20, tier_sl={}, now=lambda: now[0])
    await wb.on_call_event(BusEvent("call.queued", "d1", {"queue": "care", "queued_at": now[0]}))
    await wb.on_call_event(
        BusEvent("call.ended", "d1", {"ended_at": now[0] + 30, "disposition": "abandoned"})
    )
    assert next(q for q in wb.snapshot()["queues"] if q["name"] == "care")["offered"] == 1
    now[0] = LAST_SECOND + 2  # Sunday in Việt Nam: yesterday's call no longer counts
    await wb.on_call_event(BusEvent("call.queued", "d2", {"queue": "care", "queued_at": now[0]}))
    care = next(q for q in wb.snapshot()["queues"] if q["name"] == "care")
    assert (care["offered"], care["abandoned"], care["waiting"]) == (1, 0, 1)
    if wb._pending is not None:
        wb._pending.cancel()
