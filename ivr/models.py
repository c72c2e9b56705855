"""Tables owned by the IVR: callback requests, stored the moment a caller asks, so none is lost."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class CallbackRequest(Base):
    __tablename__ = "callback_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(32), index=True)  # national form, as normalised
    customer_id: Mapped[str | None] = mapped_column(String(32), index=True)
    call_id: Mapped[str] = mapped_column(String(64), default="")  # Asterisk Linkedid of the asking call
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending/done/cancelled
