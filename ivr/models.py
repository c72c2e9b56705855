"""Tables owned by the IVR: callback requests, stored the moment a caller asks, so none is lost."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class CallbackRequest(Base):
    __tablename__ = "callback_requests"
    # The worklist query: pending rows, highest tier priority first, then oldest request.
    __table_args__ = (Index("ix_callback_requests_worklist", "status", "priority", "requested_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(32), index=True)  # national form, as normalised
    customer_id: Mapped[str | None] = mapped_column(String(32), index=True)
    call_id: Mapped[str] = mapped_column(String(64), default="")  # Asterisk Linkedid of the asking call
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # pending → claimed → done (or back to pending on release / a retryable outcome); cancelled
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    # The caller's ACD tier and its entry priority when the request was recorded: the caller keeps
    # their place (a VIP's callback is worked before a standard one, as their call would have been).
    acd_tier: Mapped[str | None] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claimed_by: Mapped[str | None] = mapped_column(String(32), index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # After a no-answer the request is not offered again before this time.
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(32))  # last outcome (reached, no_answer…)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The queue the caller wanted (the callback node's, else the default queue): the automatic dialler
    # puts the answered customer back into it. None on rows recorded before it was kept.
    queue: Mapped[str | None] = mapped_column(String(40))
