"""Recording metadata: one row per recorded (answered) call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(String(255))  # relative to recordings.dir
    customer_id: Mapped[str | None] = mapped_column(String(32), index=True)
    caller_number: Mapped[str] = mapped_column(String(32), default="", index=True)
    agent_id: Mapped[str] = mapped_column(String(16), default="", index=True)
    queue: Mapped[str] = mapped_column(String(40), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_seconds: Mapped[float] = mapped_column(Float, default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    format: Mapped[str] = mapped_column(String(8), default="wav")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    ivr_path_text: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="ok")  # ok | missing
    dispute: Mapped[bool] = mapped_column(default=False)  # kept past retention
    paused_seconds: Mapped[float] = mapped_column(Float, default=0)
    # Legal hold (a court, the police, an inspector): kept past retention and past a customer's erasure
    # until released; who placed it and why are on the row and in the audit trail.
    legal_hold: Mapped[bool] = mapped_column(default=False)
    legal_hold_reason: Mapped[str] = mapped_column(String(200), default="")


class RecordingPause(Base):
    """One span during which a live call's recording was muted (card or ID numbers being read).

    Written when the agent pauses (``resumed_at`` when they resume; still NULL if the call ended
    paused), so the span survives a restart; offsets into the file are these instants minus the
    recording's ``started_at`` (MixMonitor starts as the agent answers)."""

    __tablename__ = "recording_pauses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    paused_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_by: Mapped[str] = mapped_column(String(16), default="")
