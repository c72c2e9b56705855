"""Writes one :class:`CallRecord` per call when the tracker reports it ended (``call.ended``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.bus import BusEvent, EventBus
from core.db import unit_of_work
from core.models import CallRecord

log = logging.getLogger(__name__)


def _ts(v: float | None) -> datetime | None:
    return datetime.fromtimestamp(v, UTC) if v else None


class CallStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    def attach(self, bus: EventBus) -> None:
        bus.subscribe("call.ended", self.on_ended, name="call-store")

    async def on_ended(self, ev: BusEvent) -> None:
        d = ev.data
        queued, answered = d.get("queued_at"), d.get("answered_at")
        ended = d.get("ended_at")
        wait = None
        if queued:
            wait = (answered or ended or queued) - queued
        rec = CallRecord(
            call_id=ev.call_id,
            caller_number=d.get("caller_number", ""),
            dialled=d.get("dialled", ""),
            customer_id=d.get("customer_id") or None,
            tier=d.get("tier", ""),
            acd_tier=d.get("acd_tier", ""),
            language=d.get("language", ""),
            ivr_path=list(d.get("ivr_path", [])),
            ivr_path_text=d.get("ivr_path_text", ""),
            ivr_outcome=d.get("ivr_outcome", ""),
            queue=d.get("queue", ""),
            priority=d.get("priority"),
            agent_id=d.get("agent_id", ""),
            started_at=_ts(d.get("started_at")) or datetime.now(UTC),
            queued_at=_ts(queued),
            answered_at=_ts(answered),
            ended_at=_ts(ended),
            wait_seconds=wait,
            talk_seconds=(ended - answered) if answered and ended else None,
            disposition=d.get("disposition", ""),
            recovered=bool(d.get("recovered")),
        )
        async with unit_of_work(self._sessions) as s:
            await s.merge(rec)
