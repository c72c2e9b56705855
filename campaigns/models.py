"""Tables owned by campaigns: the campaigns, their contacts, every attempt (dialled or refused by a
rule: the report counts from it), and the do-not-call numbers (national register, operator's list)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    queue: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(16))  # care | advertising (campaigns/rules.py)
    mode: Mapped[str] = mapped_column(String(16))  # preview | progressive | predictive
    state: Mapped[str] = mapped_column(String(16), default="draft")  # draft|running|paused|stopped
    script: Mapped[str] = mapped_column(Text, default="")  # shown on the agent's pop
    dispositions: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Calling window, Việt Nam time ("08:00"), and the rules' limits (campaigns/rules.CallingRules).
    window_start: Mapped[str] = mapped_column(String(5))
    window_end: Mapped[str] = mapped_column(String(5))
    min_gap_hours: Mapped[float] = mapped_column(default=0.0)
    max_attempts_per_day: Mapped[int] = mapped_column(Integer, default=3)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)  # per contact, over the campaign
    # Minutes before a contact is tried again, by outcome; an outcome absent is final.
    retry_minutes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What an agent's disposition does to the contact (campaigns/schedule.EFFECTS); absent: done.
    disposition_rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Answering-machine detection: AMD() parameters (campaigns/amd.AmdSettings), None = off.
    amd: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True, default=None)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CampaignContact(Base):
    __tablename__ = "campaign_contacts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "number", name="uq_campaign_contacts_number"),
        # The dialler's query: a running campaign's pending contacts, highest priority first.
        Index("ix_campaign_contacts_next", "campaign_id", "state", "priority", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(16))  # E.164
    customer_id: Mapped[str | None] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_outcome: Mapped[str | None] = mapped_column(String(32))
    # pending → dialling → pending (a retry) | done (reached) | exhausted | refused (a lasting rule)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    disposition: Mapped[str | None] = mapped_column(String(40))  # the last one an agent saved
    # Preview mode: the agent the contact is offered to (state "held"), and since when.
    held_by: Mapped[str | None] = mapped_column(String(16))
    held_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CampaignAttempt(Base):
    """One dial of a contact, or one dial a rule refused (outcome ``refused``, its ``reason``)."""

    __tablename__ = "campaign_attempts"
    __table_args__ = (Index("ix_campaign_attempts_number", "number", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(Integer, index=True)
    number: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16))  # the frequency rule counts per purpose
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # refused | reached | busy | no_answer | wrong_number | machine (AMD) | failed
    # | dialled (preview: placed by the agent, the outcome not yet told)
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))  # the refusal (campaigns/rules.Refusal)
    connected: Mapped[bool] = mapped_column(Boolean, default=False)  # an agent took the answered call
    call_id: Mapped[str] = mapped_column(String(64), default="")
    agent_id: Mapped[str] = mapped_column(String(16), default="", server_default="")  # who took it
    disposition: Mapped[str | None] = mapped_column(String(40))  # the agent's, one of the campaign's
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    disposition_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # AMD's verdict on the answered leg (AMDSTATUS, AMDCAUSE), when the campaign has AMD on.
    amd_status: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)
    amd_cause: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)


class DoNotCallNumber(Base):
    __tablename__ = "dnc_numbers"

    number: Mapped[str] = mapped_column(String(16), primary_key=True)  # E.164
    source: Mapped[str] = mapped_column(String(16), primary_key=True)  # national | operator
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
