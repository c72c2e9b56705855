"""Tables owned by core: the call record (one row per call, our source of truth for reports) and the
audit log (who looked at which customer or recording, as Vietnam's personal-data rules require)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class CallRecord(Base):
    __tablename__ = "calls"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # Asterisk Linkedid
    caller_number: Mapped[str] = mapped_column(String(32), default="", index=True)
    dialled: Mapped[str] = mapped_column(String(32), default="")
    customer_id: Mapped[str | None] = mapped_column(String(32), index=True)
    tier: Mapped[str] = mapped_column(String(16), default="")
    acd_tier: Mapped[str] = mapped_column(String(16), default="")
    language: Mapped[str] = mapped_column(String(8), default="")
    ivr_path: Mapped[list[str]] = mapped_column(JSON, default=list)
    ivr_path_text: Mapped[str] = mapped_column(Text, default="")
    ivr_outcome: Mapped[str] = mapped_column(String(32), default="")
    queue: Mapped[str] = mapped_column(String(40), default="", index=True)
    priority: Mapped[int | None] = mapped_column(Integer)
    agent_id: Mapped[str] = mapped_column(String(16), default="", index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    disposition: Mapped[str] = mapped_column(String(32), default="")
    recovered: Mapped[bool] = mapped_column(default=False)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(32))  # agent id, or "system"
    action: Mapped[str] = mapped_column(String(32))  # profile.pop, profile.view, recording.play …
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
