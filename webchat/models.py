"""The chat transcripts: one row per ended chat, its messages as JSON (personal data: read through the
audited API only, purged by retention with the rest of the customer's history)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class ChatTranscript(Base):
    __tablename__ = "chat_transcripts"
    __table_args__ = (Index("ix_chat_transcripts_customer_started", "customer_id", "started_at"),)

    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[str | None] = mapped_column(String(32), default=None)
    phone: Mapped[str | None] = mapped_column(String(20), default=None)
    verified: Mapped[bool] = mapped_column(default=False)
    queue: Mapped[str] = mapped_column(String(64))
    acd_tier: Mapped[str] = mapped_column(String(32))
    page: Mapped[str] = mapped_column(Text, default="")
    agent_id: Mapped[str | None] = mapped_column(String(64), default=None)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disposition: Mapped[str | None] = mapped_column(String(64), default=None)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    transcript: Mapped[str] = mapped_column(Text)  # JSON list of {id, from, agent, text, at, state}
