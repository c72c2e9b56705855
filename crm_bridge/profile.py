"""The unified customer profile: what the screen pop shows, as frozen, JSON-safe dataclasses.

``CustomerProfile.to_json()`` is the wire and cache form (only str/int/bool/None/list/dict; dates as ISO
strings); ``CustomerProfile.from_json()`` is its exact inverse, used by the Redis cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal, cast

from crm_bridge.tiering import TierDecision

__all__ = [
    "ConsentView",
    "CustomerProfile",
    "CustomerSummary",
    "InteractionView",
    "ServiceView",
    "mask_id_number",
]

Source = Literal["local", "crm"]


def mask_id_number(id_number: str | None) -> str | None:
    """Show only the last 3 characters of an identity document number (Decree 13: show what is needed)."""
    if not id_number:
        return None
    keep = 3 if len(id_number) > 4 else 1
    return "*" * (len(id_number) - keep) + id_number[-keep:]


def _iso(v: date | datetime | None) -> str | None:
    return v.isoformat() if v is not None else None


def _date(v: Any) -> date | None:
    return date.fromisoformat(v) if v else None


@dataclass(frozen=True)
class ServiceView:
    subscription_id: int
    service: str
    number: str | None  # E.164
    account: str
    package: str | None
    status: str
    started_on: date | None
    ended_on: date | None = None
    monthly_revenue_vnd: int = 0  # net average in the tier window (excl. VoIP of other carriers)

    def to_json(self) -> dict[str, Any]:
        return {
            "subscription_id": self.subscription_id,
            "service": self.service,
            "number": self.number,
            "account": self.account,
            "package": self.package,
            "status": self.status,
            "started_on": _iso(self.started_on),
            "ended_on": _iso(self.ended_on),
            "monthly_revenue_vnd": self.monthly_revenue_vnd,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ServiceView:
        return cls(
            subscription_id=int(d["subscription_id"]),
            service=d["service"],
            number=d["number"],
            account=d["account"],
            package=d["package"],
            status=d["status"],
            started_on=_date(d["started_on"]),
            ended_on=_date(d["ended_on"]),
            monthly_revenue_vnd=int(d["monthly_revenue_vnd"]),
        )


@dataclass(frozen=True)
class InteractionView:
    id: int
    kind: str
    at: datetime
    agent_id: str | None
    call_id: str | None
    summary: str
    disposition: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "at": self.at.isoformat(),
            "agent_id": self.agent_id,
            "call_id": self.call_id,
            "summary": self.summary,
            "disposition": self.disposition,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> InteractionView:
        return cls(
            id=int(d["id"]),
            kind=d["kind"],
            at=datetime.fromisoformat(d["at"]),
            agent_id=d["agent_id"],
            call_id=d["call_id"],
            summary=d["summary"],
            disposition=d["disposition"],
        )


@dataclass(frozen=True)
class ConsentView:
    marketing: bool = False
    recording: bool = False
    data_sharing: bool = False
    consented_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "marketing": self.marketing,
            "recording": self.recording,
            "data_sharing": self.data_sharing,
            "consented_at": _iso(self.consented_at),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ConsentView:
        at = d.get("consented_at")
        return cls(
            marketing=bool(d["marketing"]),
            recording=bool(d["recording"]),
            data_sharing=bool(d["data_sharing"]),
            consented_at=datetime.fromisoformat(at) if at else None,
        )


@dataclass(frozen=True)
class CustomerProfile:
    """Everything the agent needs the moment the call rings, for one owner across all services."""

    customer_id: str
    name: str
    kind: str
    tier: str
    tier_reason: TierDecision
    care_card: str
    loyalty_rank: str
    points: int
    overdue_debt_vnd: int
    services: list[ServiceView] = field(default_factory=list)
    recent_interactions: list[InteractionView] = field(default_factory=list)
    consent: ConsentView = field(default_factory=ConsentView)
    preferred_language: str = "vi"
    province: str | None = None
    id_number_masked: str | None = None
    segment: str | None = None
    stale: bool = False
    source: Source = "local"

    @property
    def numbers(self) -> list[str]:
        """Every E.164 number among the owner's subscriptions."""
        return [s.number for s in self.services if s.number]

    @property
    def accounts(self) -> list[str]:
        return [s.account for s in self.services]

    def with_(self, **changes: Any) -> CustomerProfile:
        """A copy with some fields changed (e.g. ``stale=True``)."""
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "name": self.name,
            "kind": self.kind,
            "tier": self.tier,
            "tier_reason": self.tier_reason.to_json(),
            "care_card": self.care_card,
            "loyalty_rank": self.loyalty_rank,
            "points": self.points,
            "overdue_debt_vnd": self.overdue_debt_vnd,
            "services": [s.to_json() for s in self.services],
            "recent_interactions": [i.to_json() for i in self.recent_interactions],
            "consent": self.consent.to_json(),
            "preferred_language": self.preferred_language,
            "province": self.province,
            "id_number_masked": self.id_number_masked,
            "segment": self.segment,
            "stale": self.stale,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CustomerProfile:
        source = d.get("source", "local")
        if source not in ("local", "crm"):
            raise ValueError(f"unknown profile source {source!r}")
        return cls(
            customer_id=d["customer_id"],
            name=d["name"],
            kind=d["kind"],
            tier=d["tier"],
            tier_reason=TierDecision.from_json(d["tier_reason"]),
            care_card=d["care_card"],
            loyalty_rank=d["loyalty_rank"],
            points=int(d["points"]),
            overdue_debt_vnd=int(d["overdue_debt_vnd"]),
            services=[ServiceView.from_json(s) for s in d["services"]],
            recent_interactions=[InteractionView.from_json(i) for i in d["recent_interactions"]],
            consent=ConsentView.from_json(d["consent"]),
            preferred_language=d["preferred_language"],
            province=d["province"],
            id_number_masked=d["id_number_masked"],
            segment=d["segment"],
            stale=bool(d.get("stale", False)),
            source=cast(Source, source),
        )


@dataclass(frozen=True)
class CustomerSummary:
    """One line of an agent search result."""

    customer_id: str
    name: str
    kind: str
    province: str | None
    segment: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "name": self.name,
            "kind": self.kind,
            "province": self.province,
            "segment": self.segment,
        }
