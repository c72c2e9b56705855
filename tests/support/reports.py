"""Hand-built call records and agent state periods for report tests (times given in Vietnam time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.models import AgentStateLog
from core.db import unit_of_work
from core.models import CallRecord

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def vn(text: str) -> datetime:
    """``"2026-11-01 10:00:00.25"`` in Vietnam time, as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=VN).astimezone(UTC)


def call(
    call_id: str,
    queued: str,
    wait: float,
    *,
    answered: bool = True,
    talk: float | None = 60.0,
    queue: str = "mobile",
    tier: str = "vip",
    agent: str = "",
) -> CallRecord:
    """One finished queued call, its derived columns computed as ``core.call_store`` does."""
    q = vn(queued)
    started = q - timedelta(seconds=20)  # the IVR before the queue
    end_of_wait = q + timedelta(seconds=wait)
    ans = end_of_wait if answered else None
    ended = end_of_wait + timedelta(seconds=talk or 0) if answered else end_of_wait
    return CallRecord(
        call_id=call_id,
        queue=queue,
        acd_tier=tier,
        agent_id=agent if answered else "",
        started_at=started,
        queued_at=q,
        answered_at=ans,
        ended_at=ended,
        wait_seconds=(ans or ended).timestamp() - q.timestamp(),
        talk_seconds=(ended.timestamp() - ans.timestamp()) if ans else None,
        disposition="answered" if answered else "abandoned",
    )


def period(agent: str, status: str, start: str, end: str, reason: str = "") -> AgentStateLog:
    s, e = vn(start), vn(end)
    return AgentStateLog(
        agent=agent, status=status, reason=reason, started=s, ended=e, seconds=(e - s).total_seconds()
    )


async def seed(sessions: async_sessionmaker[AsyncSession], rows: list[CallRecord | AgentStateLog]) -> None:
    async with unit_of_work(sessions) as s:
        s.add_all(rows)


def sample_calls() -> list[CallRecord]:
    """The boundary cases for the period 2026-11-01 .. 2026-11-03 (Vietnam days)."""
    return [
        # 1 Nov: exactly 60 s (with sub-second timestamps) is within; 60.5 s is not.
        call("c1", "2026-11-01 10:00:00.250", 60.0, agent="1001", talk=120),
        call("c2", "2026-11-01 10:05:00.7", 60.5, agent="1002", talk=30),
        # Abandons: 4 s and exactly 5 s are short; 6 s is not.
        call("c3", "2026-11-01 11:00:00", 4.0, answered=False),
        call("c4", "2026-11-01 11:10:00.3", 5.0, answered=False),
        call("c5", "2026-11-01 11:20:00", 6.0, answered=False),
        # Queued before midnight, answered after: stays on 1 Nov.
        call("c6", "2026-11-01 23:59:30", 50.0, agent="1001", talk=200),
        # 2 Nov: queued at exactly midnight belongs to 2 Nov.
        call("c7", "2026-11-02 00:00:00", 20.0, agent="1001", talk=40),
        call("c10", "2026-11-02 09:00:00", 10.0, agent="1002", talk=100, queue="internet", tier="standard"),
        # Outside the period: one second before it, and at `until` exactly.
        call("c8", "2026-10-31 23:59:59", 5.0, agent="1001"),
        call("c9", "2026-11-03 00:00:00", 5.0, agent="1001"),
    ]


def sample_states() -> list[AgentStateLog]:
    return [
        period("1001", "ready", "2026-10-31 23:00:00", "2026-11-01 01:00:00"),  # clipped to 3600 s
        period("1001", "paused", "2026-11-01 12:00:00", "2026-11-01 12:30:00", "lunch"),
        period("1001", "wrap_up", "2026-11-01 10:03:00", "2026-11-01 10:03:10"),
        period("1002", "paused", "2026-11-02 23:00:00", "2026-11-03 02:00:00", "training"),  # 3600 s in
        period("1002", "unavailable", "2026-11-05 08:00:00", "2026-11-05 09:00:00"),  # outside
        period("1003", "ready", "2026-10-30 00:00:00", "2026-11-04 00:00:00"),  # whole period: 2 days
    ]
