"""Call records for calls the bridge never saw end: it was killed, or its AMI link was down, from
before the call ended until after. Their CDRs come back from Asterisk's CSV (``reconcile_csv``); the
``calls`` row, which only the call tracker writes, would be missing for good (reports, the
wallboard's day and a customer's history would not know the call). This builds it from the CDRs,
marked ``recovered`` (the IVR's facts — customer, tier, path — are not in a CDR).

A row is only inserted where none exists: the tracker's own record, written before or after, is
always the one kept (the call store merges over a recovered row).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing.models import CdrRecord
from core.members import agent_from_member
from core.models import CallRecord

log = logging.getLogger(__name__)


def record_from_cdrs(call_id: str, legs: Sequence[CdrRecord]) -> CallRecord:
    """The ``calls`` row Asterisk's CDRs of one call (one Linkedid) still tell."""
    queue_leg = next((c for c in legs if c.lastapp == "Queue"), None)
    started = min(c.start for c in legs)
    ends = [c.end for c in legs if c.end is not None]
    ended = max(ends) if ends else None
    agent = ""
    answered: datetime | None = None
    queue = ""
    if queue_leg is not None:
        queue = queue_leg.lastdata.split(",", 1)[0]
        # The caller's leg in Queue() is bridged to the agent who answered (its dstchannel).
        if queue_leg.dstchannel:
            agent = agent_from_member("", queue_leg.dstchannel)
            agent_legs = [c for c in legs if c.channel.startswith(queue_leg.dstchannel.rsplit(";", 1)[0])]
            answered = min((c.answer for c in agent_legs if c.answer), default=None)
    if agent:
        disposition = "answered"
    elif queue_leg is not None:
        disposition = "abandoned"
    else:
        disposition = "ended"
    first = queue_leg or min(legs, key=lambda c: c.start)
    return CallRecord(
        call_id=call_id,
        caller_number=first.src,
        dialled=next((c.dialled for c in legs if c.dialled), ""),
        customer_id=None,
        queue=queue,
        agent_id=agent,
        started_at=started,
        queued_at=None,
        answered_at=answered,
        ended_at=ended,
        talk_seconds=(ended - answered).total_seconds() if answered and ended else None,
        disposition=disposition,
        recovered=True,
    )


async def record_unrecorded_calls(
    sessions: async_sessionmaker[AsyncSession], live: Collection[str] = ()
) -> int:
    """Insert a recovered ``calls`` row for every call with CDRs recovered from the CSV and no row yet
    (calls still ``live`` are left to the tracker); return how many."""
    async with sessions() as s:
        have = select(CallRecord.call_id).where(CallRecord.call_id == CdrRecord.linkedid)
        q = select(CdrRecord).where(CdrRecord.source == "csv", ~have.exists())
        by_call: dict[str, list[CdrRecord]] = {}
        for c in await s.scalars(q):
            if c.linkedid and c.linkedid not in live:
                by_call.setdefault(c.linkedid, []).append(c)
    n = 0
    for call_id, legs in by_call.items():
        try:
            async with sessions() as s, s.begin():
                added = await s.get(CallRecord, call_id) is None
                if added:
                    s.add(record_from_cdrs(call_id, legs))
        except IntegrityError:  # the tracker's record landed in between: it is the one kept
            continue
        n += added
    if n:
        log.warning("recorded %d calls that ended while the bridge was away (from their CDRs)", n)
    return n
