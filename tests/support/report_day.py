"""A seeded day of queued calls for the report page's tests, and an independent recomputation of its
figures from the call rows (plain Python over the ``calls`` table: no code of reports/)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.models import CallRecord
from core.vietnam import VN_TZ
from tests.support.reports import call

DAY = "2026-11-05"  # a Thursday; the period is this one Vietnam day


def seeded_day() -> list[CallRecord]:
    """22 calls over 08:00–10:59 on DAY, on three queues and tiers and three agents: answered within
    and beyond 60 s, abandons (short and not), one exit to a callback, and one the day before and
    one the day after, outside the period."""
    d = DAY
    rows = [
        call("d01", f"{d} 08:01:00", 12, agent="1001", talk=180, queue="mobile", tier="vip"),
        call("d02", f"{d} 08:07:30", 75, agent="1002", talk=240, queue="mobile", tier="gold"),
        call("d03", f"{d} 08:12:00", 3, answered=False, queue="mobile", tier="standard"),
        call("d04", f"{d} 08:29:59", 30, agent="1001", talk=95, queue="internet", tier="standard"),
        call("d05", f"{d} 08:30:00", 60, agent="1003", talk=300, queue="internet", tier="vip"),
        call("d06", f"{d} 08:41:10", 90, answered=False, queue="internet", tier="gold"),
        call("d07", f"{d} 08:55:00", 8, agent="1002", talk=60, queue="mobile", tier="vip"),
        call("d08", f"{d} 09:00:00", 45, agent="1001", talk=420, queue="billing", tier="standard"),
        call("d09", f"{d} 09:05:00", 61, agent="1003", talk=130, queue="billing", tier="gold"),
        call("d10", f"{d} 09:10:00", 5, answered=False, queue="mobile", tier="standard"),
        call("d11", f"{d} 09:15:00", 20, agent="1002", talk=200, queue="mobile", tier="standard"),
        call("d12", f"{d} 09:20:00", 140, agent="1001", talk=50, queue="internet", tier="gold"),
        call("d13", f"{d} 09:31:00", 10, agent="1003", talk=75, queue="internet", tier="vip"),
        call("d14", f"{d} 09:44:00", 33, answered=False, queue="billing", tier="vip"),
        call("d15", f"{d} 09:59:59", 59, agent="1002", talk=310, queue="billing", tier="standard"),
        call("d16", f"{d} 10:02:00", 15, agent="1001", talk=90, queue="mobile", tier="vip"),
        call("d17", f"{d} 10:10:00", 2, agent="1003", talk=45, queue="mobile", tier="gold"),
        call("d18", f"{d} 10:25:00", 100, answered=False, queue="internet", tier="standard"),
        call("d19", f"{d} 10:35:00", 25, agent="1002", talk=150, queue="internet", tier="standard"),
        call("d20", f"{d} 10:48:00", 70, agent="1001", talk=260, queue="mobile", tier="vip"),
        call("d21", f"{d} 10:50:00", 180, answered=False, queue="mobile", tier="gold"),
        call("d22", f"{d} 10:58:00", 40, agent="1003", talk=35, queue="billing", tier="vip"),
        call("x01", "2026-11-04 23:59:59", 5, agent="1001", queue="mobile"),
        call("x02", "2026-11-06 00:00:00", 5, agent="1001", queue="mobile"),
    ]
    rows[20].disposition = "exit_callback"  # d21 took the queue's exit: not an abandon
    return rows


async def recompute(sessions: async_sessionmaker[AsyncSession], threshold: float = 60.0) -> dict[str, Any]:
    """Per scope (day, halfhour, queue, tier, agent) and key: offered, answered, abandoned, exited, sl,
    asa, aht, abandon_rate, straight from the call rows of DAY."""
    async with sessions() as s:
        calls = list(await s.scalars(select(CallRecord)))
    groups: dict[str, dict[str, list[CallRecord]]] = defaultdict(lambda: defaultdict(list))
    for c in calls:
        assert c.queued_at is not None
        q = (c.queued_at if c.queued_at.tzinfo else c.queued_at.replace(tzinfo=UTC)).astimezone(VN_TZ)
        if q.date().isoformat() != DAY:
            continue
        groups["total"][""].append(c)
        groups["day"][DAY].append(c)
        groups["halfhour"][f"{q.hour:02d}:{30 if q.minute >= 30 else 0:02d}"].append(c)
        groups["queue"][c.queue].append(c)
        groups["tier"][c.acd_tier].append(c)
        if c.answered_at is not None:
            groups["agent"][c.agent_id].append(c)
    out: dict[str, Any] = {}
    for scope, keyed in groups.items():
        out[scope] = {}
        for key, cs in keyed.items():
            answered = [c for c in cs if c.answered_at is not None]
            exited = [c for c in cs if c.answered_at is None and c.disposition.startswith("exit_")]
            abandoned = [c for c in cs if c.answered_at is None and c not in exited]
            within = [c for c in answered if (c.wait_seconds or 0) <= threshold + 0.001]
            handled = len(answered) + len(abandoned) + len(exited)
            out[scope][key] = {
                "offered": len(cs),
                "answered": len(answered),
                "answered_in_sl": len(within),
                "abandoned": len(abandoned),
                "exited": len(exited),
                "sl": round(len(within) / handled, 4) if handled else None,
                "asa": _mean([c.wait_seconds or 0 for c in answered]),
                "aht": _mean([c.talk_seconds or 0 for c in answered]),
                "abandon_rate": round(len(abandoned) / len(cs), 4),
            }
    return out


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 2) if xs else None


def _to_fixed1(x: float) -> str:
    """JavaScript's ``x.toFixed(1)`` for x ≥ 0: the float's exact value, a tie rounded up (Python's
    format would round 51.25 to even, 51.2, where the page shows 51.3)."""
    return str(Decimal(x).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def pct(x: float | None) -> str:
    """The page's percentage (lib/format.js pct)."""
    return "–" if x is None else _to_fixed1(x * 100).replace(".", ",") + " %"


def sec1(x: float | None) -> str:
    """The page's seconds (lib/period.js sec1)."""
    return "–" if x is None else _to_fixed1(x).replace(".", ",") + " s"
