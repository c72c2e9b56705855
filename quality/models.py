"""The table owned by quality: one row per evaluation a QA analyst filled for a call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class Evaluation(Base):
    __tablename__ = "quality_evaluations"
    __table_args__ = (Index("ix_quality_agent_at", "agent_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    agent_id: Mapped[str] = mapped_column(String(16))  # the agent who took the call (from calls)
    queue: Mapped[str] = mapped_column(String(40), default="")
    form_id: Mapped[str] = mapped_column(String(40))
    form_name: Mapped[str] = mapped_column(String(120))  # as it was: a form renamed later keeps its history
    evaluator: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    score: Mapped[float] = mapped_column(Float)  # 0.00 … 100.00 (0 on a fatal error)
    fatal: Mapped[list[str]] = mapped_column(JSON, default=list)  # failed fatal questions' ids
    fatal_count: Mapped[int] = mapped_column(Integer, default=0)  # len(fatal), for the averages' SQL
    # name, weight, earned, possible of each section
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # question id -> answer
    comment: Mapped[str] = mapped_column(Text, default="")
