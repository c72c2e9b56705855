"""Writes one :class:`CallRecord` per call when the tracker reports it ended (``call.ended``).

The bus handler only builds the row and hands it to a background :class:`core.writer.Writer`: a
locked SQLite file or a PostgreSQL outage is retried with backoff, never costs the call. A row the
database refuses for good (a bug), or one still unwritten at the shutdown deadline, is appended to
``calls-deadletter.jsonl``, replayed at the next start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.bus import BusEvent, EventBus
from core.db import row_values, unit_of_work, upsert_rows
from core.models import CallRecord
from core.writer import Writer

log = logging.getLogger(__name__)


# What a record rebuilt from CDRs (billing/recovered_calls.py) can know that an adopted call's
# tracker may not: kept unless the tracker has a value.
KNOWN_FROM_CDRS = (
    "caller_number",
    "dialled",
    "customer_id",
    "queue",
    "agent_id",
    "answered_at",
    "ended_at",
    "talk_seconds",
    "wait_seconds",
    "queued_at",
    "disposition",
)


def _ts(v: float | None) -> datetime | None:
    return datetime.fromtimestamp(v, UTC) if v else None


def call_record(call_id: str, d: dict[str, Any]) -> CallRecord:
    """The ``calls`` row of an ended call (``d`` is the ``call.ended`` event's data)."""
    queued, answered = d.get("queued_at"), d.get("answered_at")
    ended = d.get("ended_at")
    wait = None
    if queued:
        wait = (answered or ended or queued) - queued
    return CallRecord(
        call_id=call_id,
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


class CallStore:
    """``call.ended`` → a queued ``calls`` row; :meth:`start`/:meth:`stop` run its writer."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        dead_letter: Path | None = None,
        capacity: int = 10_000,
    ) -> None:
        self._sessions = sessions
        self.dead_letter = dead_letter
        self.writer: Writer[tuple[str, dict[str, Any]]] = Writer(
            "calls", self._write, capacity=capacity, on_failed=self._spill
        )

    def attach(self, bus: EventBus) -> None:
        # Only this node's calls: another node writes its own (each row once, not once per node).
        bus.subscribe("call.ended", self.on_ended, name="call-store", local_only=True)
        bus.on_drain(self.writer.flush)

    async def start(self) -> None:
        """Start the writer and replay rows a previous run set aside (merge: idempotent)."""
        self.writer.start()
        replay, lines = await asyncio.to_thread(self._claim_dead_letter)
        if replay is None:
            return
        n = 0
        for line in lines:
            try:
                item = json.loads(line)
                self.writer.submit((item["call_id"], item["data"]))
                n += 1
            except (ValueError, KeyError):
                log.error("call dead-letter line unreadable, left aside: %.200s", line)
        if await self.writer.flush(30) and self.writer.stats.failed == 0:
            replay.unlink()
        log.warning("replayed %d call records from %s", n, replay)

    def _claim_dead_letter(self) -> tuple[Path | None, list[str]]:
        """Move the dead letters to ``.replay`` (appended: a replay cut short is kept) and read them;
        new spills go to a fresh file while these are retried."""
        if self.dead_letter is None:
            return None, []
        replay = self.dead_letter.with_suffix(".replay")
        if self.dead_letter.exists():
            with open(replay, "a", encoding="utf-8") as f:
                f.write(self.dead_letter.read_text(encoding="utf-8"))
                f.flush()
                os.fsync(f.fileno())
            self.dead_letter.unlink()
        if not replay.exists():
            return None, []
        return replay, replay.read_text(encoding="utf-8").splitlines()

    async def stop(self, timeout: float = 10.0) -> None:
        await self.writer.stop(timeout)

    async def on_ended(self, ev: BusEvent) -> None:
        self.writer.submit((ev.call_id, ev.data))

    async def _write(self, batch: Sequence[tuple[str, dict[str, Any]]]) -> None:
        rows = [row_values(call_record(call_id, data)) for call_id, data in batch]
        async with unit_of_work(self._sessions) as s:
            # A replayed call.ended is no duplicate; a call this node adopted mid-way (after a restart
            # or a takeover) does not erase what the record built from its CDRs already knows.
            await upsert_rows(s, CallRecord, rows, ["call_id"], keep_known=KNOWN_FROM_CDRS)

    def _spill(self, item: tuple[str, dict[str, Any]], err: BaseException | None) -> None:
        call_id, data = item
        if self.dead_letter is None:
            log.error("call record %s not written (%s) and no dead-letter file: lost", call_id, err)
            return
        self.dead_letter.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"call_id": call_id, "data": data, "error": str(err or "shutdown")}, default=str)
        with open(self.dead_letter, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        log.error("call record %s not written (%s): kept in %s", call_id, err or "shutdown", self.dead_letter)
