"""Chat service level, apart from calls: per Việt Nam day, queue and ACD tier, the chats offered,
answered, answered within ``webchat.sl_threshold_seconds`` of their start, and abandoned (the customer
left before any agent took the chat). SL = answered within the threshold / (answered + abandoned), the
wallboard's definition for calls applied to chats. Pure: rows in, figures out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.vietnam import VN_TZ

DEFINITIONS = {
    "offered": "chats started in the period (by the customer's first frame)",
    "answered": "chats an agent took (the first offer; a transfer does not count again)",
    "answered_in_sl": "answered within sl_threshold_seconds of the chat's start",
    "abandoned": "the customer left before any agent took the chat",
    "sl": "answered_in_sl / (answered + abandoned); null without either",
    "asa": "mean wait of answered chats (start to first offer), seconds",
}


@dataclass(frozen=True)
class ChatRow:
    queue: str
    tier: str
    started_at: datetime
    answered_at: datetime | None


@dataclass
class ChatFigures:
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    waited: float = 0.0

    def add(self, row: ChatRow, threshold: float) -> None:
        self.offered += 1
        if row.answered_at is None:
            self.abandoned += 1
            return
        wait = (_utc(row.answered_at) - _utc(row.started_at)).total_seconds()
        self.answered += 1
        self.waited += wait
        if wait <= threshold:
            self.answered_in_sl += 1

    def to_json(self, target: float) -> dict[str, Any]:
        handled = self.answered + self.abandoned
        sl = self.answered_in_sl / handled if handled else None
        return {
            "offered": self.offered,
            "answered": self.answered,
            "answered_in_sl": self.answered_in_sl,
            "abandoned": self.abandoned,
            "sl": round(sl, 4) if sl is not None else None,
            "compliant": sl >= target if sl is not None else None,
            "asa": round(self.waited / self.answered, 1) if self.answered else None,
        }


@dataclass
class ChatReport:
    threshold: float
    target: float
    total: ChatFigures = field(default_factory=ChatFigures)
    days: dict[str, ChatFigures] = field(default_factory=dict)
    queues: dict[str, ChatFigures] = field(default_factory=dict)
    tiers: dict[str, ChatFigures] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        def group(d: dict[str, ChatFigures]) -> dict[str, Any]:
            return {k: v.to_json(self.target) for k, v in sorted(d.items())}

        return {
            "sl_threshold_seconds": self.threshold,
            "sl_target": self.target,
            "total": self.total.to_json(self.target),
            "days": group(self.days),
            "queues": group(self.queues),
            "tiers": group(self.tiers),
            "definitions": DEFINITIONS,
        }


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def chat_service_level(rows: Iterable[ChatRow], *, threshold: float, target: float) -> ChatReport:
    report = ChatReport(threshold, target)
    for r in rows:
        day = _utc(r.started_at).astimezone(VN_TZ).date().isoformat()
        for groups, key in ((report.days, day), (report.queues, r.queue), (report.tiers, r.tier)):
            groups.setdefault(key, ChatFigures()).add(r, threshold)
        report.total.add(r, threshold)
    return report
