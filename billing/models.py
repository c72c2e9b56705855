"""The CDR table: every CDR record Asterisk posts, stored once (idempotent on its stable key)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class CdrRecord(Base):
    __tablename__ = "cdrs"
    # Uniqueid alone is not stable across Asterisk nodes and restarts: key on system + uniqueid + sequence.
    __table_args__ = (UniqueConstraint("system_name", "uniqueid", "sequence", name="uq_cdrs_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    system_name: Mapped[str] = mapped_column(String(32))
    uniqueid: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    src: Mapped[str] = mapped_column(String(64), default="", index=True)
    dst: Mapped[str] = mapped_column(String(64), default="")
    dcontext: Mapped[str] = mapped_column(String(80), default="")
    clid: Mapped[str] = mapped_column(String(128), default="")
    channel: Mapped[str] = mapped_column(String(128), default="")
    dstchannel: Mapped[str] = mapped_column(String(128), default="")
    lastapp: Mapped[str] = mapped_column(String(80), default="")
    lastdata: Mapped[str] = mapped_column(Text, default="")
    start: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    answer: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration: Mapped[int] = mapped_column(Integer, default=0)
    billsec: Mapped[int] = mapped_column(Integer, default=0)
    billsec_exact: Mapped[float | None] = mapped_column(Float)
    disposition: Mapped[str] = mapped_column(String(24), default="")
    accountcode: Mapped[str] = mapped_column(String(40), default="")
    userfield: Mapped[str] = mapped_column(String(255), default="")
    recording: Mapped[str] = mapped_column(String(255), default="")
    # The number the caller dialled (set on the hotline leg by the dialplan): marks the billing leg.
    dialled: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(8), default="ami")  # ami | csv (recovered at start)


class RatedCall(Base):
    """The rated line of one billing CDR, with the arithmetic that produced it (for disputes)."""

    __tablename__ = "rated_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cdr_id: Mapped[int] = mapped_column(ForeignKey("cdrs.id", ondelete="CASCADE"), unique=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    account: Mapped[str] = mapped_column(String(64), default="", index=True)
    direction: Mapped[str] = mapped_column(String(12))
    caller: Mapped[str] = mapped_column(String(64), default="")
    callee: Mapped[str] = mapped_column(String(64), default="")
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    plan_id: Mapped[str] = mapped_column(String(40))
    destination: Mapped[str] = mapped_column(String(40))
    prefix: Mapped[str] = mapped_column(String(24), default="")
    charged_party: Mapped[str] = mapped_column(String(12))
    band: Mapped[str] = mapped_column(String(24))
    exact_us: Mapped[int] = mapped_column(BigInteger)
    billed_seconds: Mapped[int] = mapped_column(Integer)
    blocks: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    vat: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    explanation: Mapped[str] = mapped_column(Text)
    rated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
