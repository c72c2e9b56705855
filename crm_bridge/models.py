"""Tables of the customer profile (SQLAlchemy 2 typed mappings on ``core.db.Base``).

One row in ``crm_customers`` per owner, keyed by a permanent customer ID ("KH0000001234", kept across
gaps in service); its subscriptions (one per service: number and/or service account), monthly revenue
per subscription, a points ledger, contact numbers and interactions hang off it.

Phone numbers are always E.164 strings (never integers); money is integer VND. Migrations are generated
by Alembic from these models, so every constraint and index is declared here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base

__all__ = [
    "CUSTOMER_KINDS",
    "INTERACTION_KINDS",
    "SEGMENTS",
    "SERVICES",
    "SUBSCRIPTION_STATUSES",
    "ConsentChange",
    "ContactNumber",
    "Customer",
    "CustomerWord",
    "DataRightsRequest",
    "Interaction",
    "MonthlyRevenue",
    "PointsLedger",
    "Subscription",
]

CUSTOMER_KINDS = ("individual", "organisation")
SERVICES = ("mobile_prepaid", "mobile_postpaid", "fixed", "gphone", "internet", "tv")
SUBSCRIPTION_STATUSES = ("active", "suspended", "terminated")
INTERACTION_KINDS = ("call", "note", "ticket", "complaint", "chat")
SEGMENTS = ("vip", "potential", "new", "churn_risk")
CARE_CARDS = ("red", "yellow", "green", "none")

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# Byte-order collation on PostgreSQL so prefix range scans on the folded name use the btree index.
SearchText = String(200).with_variant(String(200, collation="C"), "postgresql")


def _in(column: str, values: tuple[str, ...]) -> str:
    # An OR chain, not IN (...): SQLite builds a temporary b-tree for an IN list on every row checked,
    # which made bulk inserts 3x slower.
    return "(" + " OR ".join(f"{column} = '{v}'" for v in values) + ")"


class Customer(Base):
    __tablename__ = "crm_customers"
    __table_args__ = (
        CheckConstraint(_in("kind", CUSTOMER_KINDS), name="kind"),
        CheckConstraint(f"segment IS NULL OR {_in('segment', SEGMENTS)}", name="segment"),
        CheckConstraint(f"care_card IS NULL OR {_in('care_card', CARE_CARDS)}", name="care_card"),
        # With the ID so a whole-name prefix search, ordered by (name, ID), stops after ``limit`` rows
        # instead of sorting every name in the prefix range ("tran" is a tenth of the customers).
        Index("ix_crm_customers_name_search", "name_search", "customer_id"),
    )

    customer_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="individual")
    full_name: Mapped[str] = mapped_column(String(200))
    # fold(full_name): no diacritics, lower case; what agent search compares against.
    name_search: Mapped[str] = mapped_column(SearchText)
    date_of_birth: Mapped[date | None] = mapped_column(Date, default=None)
    # Identity document (CCCD/CMND/passport, or tax code for organisations); shown masked only.
    id_number: Mapped[str | None] = mapped_column(String(32), default=None)
    # [{"kind": "home"|"billing"|"install", "text": "..."}]
    addresses: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    province: Mapped[str | None] = mapped_column(String(64), default=None)
    branch: Mapped[str | None] = mapped_column(String(64), default=None)
    preferred_language: Mapped[str] = mapped_column(String(8), default="vi")
    # Decree 13/2023: consent is explicit; silence is not consent, so every flag defaults to False.
    consent_marketing: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_recording: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_data_sharing: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    segment: Mapped[str | None] = mapped_column(String(16), default=None)
    # Manual care-card override by the operator (else derived from the tier).
    care_card: Mapped[str | None] = mapped_column(String(8), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(UTC))


class CustomerWord(Base):
    """One row per distinct word of a customer's ``name_search``: agent search by words in the middle
    of a name reads one word's prefix range instead of scanning every name.

    Written by every writer of names (``CustomerDirectory.rename``, the CSV importer, ``load_demo``);
    an ORM insert of a ``Customer`` alone does not fill it. ``name_search`` is copied here so the other
    words of a query are checked inside the range scan, without a lookup per candidate customer.
    """

    __tablename__ = "crm_customer_words"
    # Clustered on (word, customer_id) on SQLite: a prefix range is contiguous rows, name included.
    __table_args__ = ({"sqlite_with_rowid": False},)

    word: Mapped[str] = mapped_column(SearchText, primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("crm_customers.customer_id", ondelete="CASCADE"), primary_key=True, index=True
    )
    name_search: Mapped[str] = mapped_column(SearchText)


class ContactNumber(Base):
    """Numbers the owner can be reached on that are not our subscriptions (e.g. another carrier's mobile);
    a call from one of them still finds the customer."""

    __tablename__ = "crm_contact_numbers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("crm_customers.customer_id", ondelete="CASCADE"), index=True
    )
    number_e164: Mapped[str] = mapped_column(String(16), index=True)
    label: Mapped[str | None] = mapped_column(String(32), default=None)


class Subscription(Base):
    __tablename__ = "crm_subscriptions"
    __table_args__ = (
        CheckConstraint(_in("service", SERVICES), name="service"),
        CheckConstraint(_in("status", SUBSCRIPTION_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("crm_customers.customer_id", ondelete="CASCADE"), index=True
    )
    service: Mapped[str] = mapped_column(String(16))
    # E.164; NULL for internet and TV, which are known by their account only.
    number_e164: Mapped[str | None] = mapped_column(String(16), index=True, default=None)
    # Service account (billing account of the line), unique across the operator.
    # (A unique index rather than a constraint, so bulk loads can drop and rebuild it.)
    account: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    package: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str] = mapped_column(String(16), default="active")
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date, default=None)


class MonthlyRevenue(Base):
    """One bill of one subscription. ``charged_vnd`` is before VAT and after discounts and returns, and
    includes other carriers' VoIP billed on the line (``other_carrier_voip_vnd``, excluded by tiering).
    ``overdue_debt_vnd`` is unpaid debt from earlier bills, never counted as revenue."""

    __tablename__ = "crm_monthly_revenue"
    __table_args__ = (
        CheckConstraint("charged_vnd >= 0", name="charged_nonneg"),
        CheckConstraint("other_carrier_voip_vnd >= 0", name="voip_nonneg"),
        CheckConstraint("overdue_debt_vnd >= 0", name="debt_nonneg"),
        # Clustered on its primary key on SQLite: no separate key index; a customer's bills are adjacent.
        {"sqlite_with_rowid": False},
    )

    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("crm_subscriptions.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # 'YYYY-MM'
    charged_vnd: Mapped[int] = mapped_column(BigInteger, default=0)
    other_carrier_voip_vnd: Mapped[int] = mapped_column(BigInteger, default=0)
    overdue_debt_vnd: Mapped[int] = mapped_column(BigInteger, default=0)


class PointsLedger(Base):
    """Loyalty points: one row per accrual or redemption; the balance is the sum across all services."""

    __tablename__ = "crm_points_ledger"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("crm_customers.customer_id", ondelete="CASCADE"), index=True
    )
    delta: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Interaction(Base):
    __tablename__ = "crm_interactions"
    __table_args__ = (
        CheckConstraint(_in("kind", INTERACTION_KINDS), name="kind"),
        Index("ix_crm_interactions_customer_at", "customer_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("crm_customers.customer_id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    agent_id: Mapped[str | None] = mapped_column(String(64), default=None)
    call_id: Mapped[str | None] = mapped_column(String(64), index=True, default=None)  # Asterisk linkedid
    summary: Mapped[str] = mapped_column(Text, default="")
    disposition: Mapped[str | None] = mapped_column(String(64), default=None)


class ConsentChange(Base):
    """Decree 13/2023: every change of a consent flag, with where it came from (the customer on the
    phone, a signed form, the web portal, an import) and who entered it; never updated or deleted."""

    __tablename__ = "crm_consent_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(16), index=True)
    consent: Mapped[str] = mapped_column(String(16))  # marketing | recording | data_sharing
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(16))  # phone | form | portal | email | import
    actor: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DataRightsRequest(Base):
    """A data subject's request answered (an export or an erasure), with the stated reason and what
    was done: the record of compliance the law asks for, kept after the data itself is gone."""

    __tablename__ = "crm_data_rights_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # export | erasure
    reason: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
