"""Ended chats' transcripts (``chat_transcripts``), written once when a chat ends and read back through
the audited API (webchat/http.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import LegalHold
from core.db import unit_of_work
from core.errors import NotFound
from webchat.models import ChatTranscript
from webchat.report import ChatRow

if TYPE_CHECKING:
    from webchat.service import LiveChat


def _utc(at: datetime | None) -> str | None:
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()  # SQLite hands back naive UTC


@dataclass(frozen=True)
class Transcript:
    row: ChatTranscript

    def to_json(self, *, messages: bool = True) -> dict[str, Any]:
        r = self.row
        out: dict[str, Any] = {
            "chat_id": r.chat_id,
            "channel": r.channel,
            "customer_id": r.customer_id,
            "phone": r.phone,
            "verified": r.verified,
            "queue": r.queue,
            "tier": r.acd_tier,
            "page": r.page,
            "agent_id": r.agent_id,
            "started_at": _utc(r.started_at),
            "answered_at": _utc(r.answered_at),
            "ended_at": _utc(r.ended_at),
            "disposition": r.disposition,
            "message_count": r.messages,
        }
        if messages:
            out["messages"] = json.loads(r.transcript)
        return out


class TranscriptStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def save(self, chat: LiveChat, ended_at: datetime, disposition: str) -> None:
        customer_id = chat.identity.customer_id or (chat.customer or {}).get("customer_id")
        row = ChatTranscript(
            chat_id=chat.id,
            channel=chat.channel,
            customer_id=customer_id,
            phone=chat.identity.phone,
            verified=chat.identity.verified,
            queue=chat.queue,
            acd_tier=chat.tier,
            page=chat.page,
            agent_id=chat.agent_id,
            started_at=chat.started_at,
            answered_at=chat.answered_at,
            ended_at=ended_at,
            disposition=disposition,
            messages=len(chat.messages),
            transcript=json.dumps([m.to_json() for m in chat.messages], ensure_ascii=False),
        )
        async with unit_of_work(self._sessions) as s:
            s.add(row)

    async def get(self, chat_id: str) -> Transcript:
        async with self._sessions() as s:
            row = await s.get(ChatTranscript, chat_id)
        if row is None:
            raise NotFound(f"no chat transcript {chat_id}")
        return Transcript(row)

    async def of_customer(self, customer_id: str, limit: int = 20) -> list[Transcript]:
        async with self._sessions() as s:
            rows = await s.scalars(
                select(ChatTranscript)
                .where(ChatTranscript.customer_id == customer_id)
                .order_by(ChatTranscript.started_at.desc())
                .limit(limit)
            )
            return [Transcript(r) for r in rows]

    async def in_period(self, start: datetime, end: datetime, queue: str | None = None) -> list[ChatRow]:
        """The chats that started in [start, end), for the service-level report."""
        q = select(
            ChatTranscript.queue,
            ChatTranscript.acd_tier,
            ChatTranscript.started_at,
            ChatTranscript.answered_at,
        )
        q = q.where(ChatTranscript.started_at >= start, ChatTranscript.started_at < end)
        if queue:
            q = q.where(ChatTranscript.queue == queue)
        async with self._sessions() as s:
            return [ChatRow(*r) for r in (await s.execute(q)).all()]

    async def purge_before(self, cutoff: datetime, hold: LegalHold) -> int:
        """Delete transcripts of chats ended before ``cutoff``, except those under legal hold."""
        stmt = delete(ChatTranscript).where(ChatTranscript.ended_at < cutoff)
        if hold.customers:
            stmt = stmt.where(
                (ChatTranscript.customer_id.is_(None)) | ChatTranscript.customer_id.not_in(hold.customers)
            )
        if hold.calls:
            stmt = stmt.where(ChatTranscript.chat_id.not_in(hold.calls))
        async with unit_of_work(self._sessions) as s:
            result = await s.execute(stmt.execution_options(synchronize_session=False))
            return int(result.rowcount)  # type: ignore[attr-defined]
