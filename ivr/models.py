"""Tables owned by the IVR: callback requests, stored the moment a caller asks, so none is lost; outage
notices posted by the network operations team; post-call survey answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, String, UniqueConstraint
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


class OutageNotice(Base):
    """A network outage notice for one area, posted and expired through the API (ivr/outages_http.py).

    Never deleted: expiring sets ``expired_at``/``expired_by``, so what callers were told, when, and how
    many heard it stays on record. ``area`` is spelt as the customers' addresses hold it (the posted
    "ha noi" is stored "Hà Nội"); ``area_key`` is its folded form (ivr/outages.py ``area_key``),
    compared with the folded province of the caller's customer."""

    __tablename__ = "outage_notices"
    # The IVR's refresh: notices not expired and not yet ended.
    __table_args__ = (Index("ix_outage_notices_live", "expired_at", "ends_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    area: Mapped[str] = mapped_column(String(64))
    area_key: Mapped[str] = mapped_column(String(64), index=True)
    message_vi: Mapped[str] = mapped_column(String(500))
    message_en: Mapped[str | None] = mapped_column(String(500))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expired_by: Mapped[str | None] = mapped_column(String(32))
    # Callers who heard it (the IVR counts a notice once it was played to them), summed across nodes.
    heard: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SurveyAnswerRecord(Base):
    """One question of one post-call survey (ivr/survey.py): a score, or ``no_answer`` (value NULL).

    Stored against the call (Asterisk Linkedid), the agent who served it, the queue and the customer,
    all read from the caller's channel when the survey starts. A caller who hangs up or keys nothing
    leaves every question not answered yet as ``no_answer``: never a score."""

    __tablename__ = "survey_answers"
    __table_args__ = (
        UniqueConstraint("call_id", "question", name="uq_survey_answers_call_question"),
        Index("ix_survey_answers_day", "asked_at", "queue"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    question: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)  # 0 = the first question asked
    kind: Mapped[str] = mapped_column(String(8))  # scale | yes_no
    scale_max: Mapped[int] = mapped_column(Integer)  # the scale's top (2 for yes_no)
    # The survey's CSAT question (its first scale question): what the CSAT figures average.
    csat: Mapped[bool] = mapped_column(Boolean, default=False)
    value: Mapped[int | None] = mapped_column(Integer)  # NULL unless status is answered
    status: Mapped[str] = mapped_column(String(12))  # answered | no_answer
    queue: Mapped[str] = mapped_column(String(40), default="")
    agent_id: Mapped[str] = mapped_column(String(32), default="", index=True)
    customer_id: Mapped[str | None] = mapped_column(String(32), index=True)
    language: Mapped[str] = mapped_column(String(8), default="")
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
