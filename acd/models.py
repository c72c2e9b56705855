"""Tables owned by the ACD: how long each agent spent in each status (for occupancy and pause reports)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class AgentStateLog(Base):
    """One finished period of one agent status (``reason`` is the pause reason code when paused)."""

    __tablename__ = "agent_state_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agent: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32), default="")
    started: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seconds: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_agent_state_log_agent_started", "agent", "started"),)
