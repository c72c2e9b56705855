"""The desktop's table: server-held sessions, when no Redis is configured (agent_desktop/sessions.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class DesktopSession(Base):
    __tablename__ = "desktop_sessions"

    # sha256 of the cookie's session id: a read of this table gives no usable cookie.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(16), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
