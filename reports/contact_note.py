"""The pop's repeat-contact note: "3rd contact in 7 days — last: 28/11, <topic>, unresolved".

Built from the same rule as the FCR report (reports/repeat_contacts.py ``contact_history``): the
owner's earlier contacts within ``reports.repeat_window_days`` before this one, by customer ID (any of
their numbers) or, for an unidentified caller, by the number. The last contact's outcome is what the
caller said in its survey ("was your problem solved?": ``resolved`` / ``unresolved``), else
``abandoned`` when nobody answered it, else ``answered``.

The owner's contacts are calls and web chats alike (``contact_history`` reads both channels).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.vietnam import VN_TZ
from ivr.models import SurveyAnswerRecord
from reports.repeat_contacts import contact_history

__all__ = ["repeat_note"]


async def repeat_note(
    sessions: async_sessionmaker[AsyncSession],
    call: dict[str, Any],
    *,
    window: timedelta,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """The note for a ringing call (a ``Call.to_dict()``), or None when this is the first contact."""
    customer = str(call.get("customer_id") or "")
    number = str(call.get("caller_number") or "")
    if not customer and not number:
        return None
    started = call.get("started_at")
    at = now or (datetime.fromtimestamp(float(started), UTC) if started else datetime.now(UTC))
    history = await contact_history(
        sessions,
        customer_id=customer or None,
        numbers=[number] if number else [],
        now=at,
        window=window,
        exclude_call=str(call.get("call_id") or "") or None,
    )
    if history.count < 2 or history.last_at is None:
        return None
    return {
        "ordinal": history.count,
        "window_days": round(window.total_seconds() / 86400, 2),
        "last_day": history.last_at.astimezone(VN_TZ).date().isoformat(),
        "last_topic": history.last_ivr_path or history.last_queue,
        "last_outcome": await _outcome(sessions, history.last_call_id, history.last_outcome),
    }


async def _outcome(sessions: async_sessionmaker[AsyncSession], call_id: str, disposition: str) -> str:
    if call_id:
        a = SurveyAnswerRecord
        q = select(a.value).where(a.call_id == call_id, a.kind == "yes_no", a.status == "answered")
        async with sessions() as s:
            said = await s.scalar(q.order_by(a.position).limit(1))
        if said is not None:
            return "resolved" if said == 1 else "unresolved"
    return "abandoned" if disposition == "abandoned" else "answered"
