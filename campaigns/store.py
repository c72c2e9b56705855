"""Campaigns in the database: create, control (start, pause, stop), import lists, the dialler's work
(the next contacts, claims, outcomes and refusals) and the report's counts.

A campaign moves ``draft → running ⇄ paused → stopped`` (stopped is final; a draft may be stopped).
Its calling rules are checked when it is created (``campaigns/rules.CallingRules``: an advertising
campaign cannot be given a window or gap the law forbids).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from pydantic import ValidationError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campaigns.amd import AmdSettings
from campaigns.lists import ListEntry
from campaigns.models import Campaign, CampaignAttempt, CampaignContact, DoNotCallNumber
from campaigns.rules import CallingRules, DoNotCall, Recipient, Refusal
from campaigns.schedule import EFFECTS, Next
from core.db import unit_of_work
from core.errors import BadRequest, Conflict, NotFound
from core.vietnam import VN_TZ

Action = Literal["start", "pause", "stop"]
TRANSITIONS: dict[Action, tuple[frozenset[str], str]] = {
    "start": (frozenset({"draft", "paused"}), "running"),
    "pause": (frozenset({"running"}), "paused"),
    "stop": (frozenset({"draft", "running", "paused"}), "stopped"),
}
# What a campaign call can come to (``failed``: it could not be placed). One list for the store, the
# preview dispositions and the HTTP schema.
CallOutcome = Literal["reached", "busy", "no_answer", "wrong_number", "machine", "failed"]
OUTCOMES: tuple[str, ...] = get_args(CallOutcome)


class CampaignNotFound(NotFound):
    error_id = "campaign.not_found"


class CampaignExists(Conflict):
    error_id = "campaign.exists"


class BadTransition(Conflict):
    error_id = "campaign.bad_transition"


class BadCampaign(BadRequest):
    error_id = "campaign.invalid"


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands DateTime(timezone=True) back naive (the UTC we stored); PostgreSQL aware.
    return t.replace(tzinfo=dt.UTC) if t is not None and t.tzinfo is None else t


@dataclass(frozen=True)
class NewCampaign:
    name: str
    queue: str
    purpose: str
    mode: str = "progressive"
    script: str = ""
    dispositions: Sequence[str] = ()
    window_start: dt.time = dt.time(8, 0)
    window_end: dt.time = dt.time(17, 0)
    min_gap_hours: float | None = None  # None: 24 h for advertising (the law), none for care
    max_attempts_per_day: int = 3
    max_attempts: int = 3
    retry_minutes: Mapping[str, float] = field(default_factory=lambda: {"no_answer": 60, "busy": 15})
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    disposition_rules: Mapping[str, str] = field(default_factory=dict)  # disposition → schedule.EFFECTS
    amd: AmdSettings | None = None  # answering-machine detection on the answered leg; None = off


@dataclass(frozen=True)
class CampaignView:
    id: int
    name: str
    queue: str
    purpose: str
    mode: str
    state: str
    script: str
    dispositions: list[str]
    rules: CallingRules
    max_attempts: int
    retry_minutes: dict[str, float]
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    created_by: str
    created_at: dt.datetime
    disposition_rules: dict[str, str] = field(default_factory=dict)
    amd: AmdSettings | None = None

    @classmethod
    def of(cls, r: Campaign) -> CampaignView:
        rules = CallingRules(
            purpose=r.purpose,
            window_start=dt.time.fromisoformat(r.window_start),
            window_end=dt.time.fromisoformat(r.window_end),
            min_gap_hours=r.min_gap_hours,
            max_attempts_per_day=r.max_attempts_per_day,
        )
        created = _aware(r.created_at)
        assert created is not None
        return cls(
            r.id, r.name, r.queue, r.purpose, r.mode, r.state, r.script, list(r.dispositions), rules,
            r.max_attempts, dict(r.retry_minutes), _aware(r.starts_at), _aware(r.ends_at),
            r.created_by, created, dict(r.disposition_rules or {}),
            AmdSettings.model_validate(r.amd) if r.amd is not None else None,
        )  # fmt: skip

    def live(self, now: dt.datetime) -> bool:
        """Running, and within its start and end."""
        return (
            self.state == "running"
            and (self.starts_at is None or now >= self.starts_at)
            and (self.ends_at is None or now < self.ends_at)
        )

    def to_json(self) -> dict[str, Any]:
        r = self.rules
        return {
            "id": self.id,
            "name": self.name,
            "queue": self.queue,
            "purpose": self.purpose,
            "mode": self.mode,
            "state": self.state,
            "script": self.script,
            "dispositions": self.dispositions,
            "disposition_rules": self.disposition_rules,
            "window_start": r.window_start.strftime("%H:%M"),
            "window_end": r.window_end.strftime("%H:%M"),
            "min_gap_hours": r.min_gap_hours,
            "max_attempts_per_day": r.max_attempts_per_day,
            "max_attempts": self.max_attempts,
            "retry_minutes": self.retry_minutes,
            "starts_at": self.starts_at.isoformat() if self.starts_at else None,
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "amd": self.amd.model_dump() if self.amd is not None else None,
        }


@dataclass(frozen=True)
class ContactView:
    id: int
    campaign_id: int
    number: str
    customer_id: str | None
    name: str
    priority: int
    attempts: int
    next_attempt_at: dt.datetime | None
    last_outcome: str | None
    state: str
    disposition: str | None = None

    @classmethod
    def of(cls, r: CampaignContact) -> ContactView:
        return cls(
            r.id, r.campaign_id, r.number, r.customer_id, r.name, r.priority, r.attempts,
            _aware(r.next_attempt_at), r.last_outcome, r.state, r.disposition,
        )  # fmt: skip


@dataclass(frozen=True)
class ImportResult:
    added: int
    merged: int  # rows whose number was already on the list (or twice in the file)
    linked: int  # contacts linked to a customer by their number

    def to_json(self) -> dict[str, int]:
        return {"added": self.added, "merged": self.merged, "linked": self.linked}


def _rules(c: NewCampaign) -> CallingRules:
    gap = c.min_gap_hours
    if gap is None:
        gap = 24.0 if c.purpose == "advertising" else 0.0
    try:
        return CallingRules(
            purpose=c.purpose,
            window_start=c.window_start,
            window_end=c.window_end,
            min_gap_hours=gap,
            max_attempts_per_day=c.max_attempts_per_day,
        )
    except ValidationError as err:
        msgs = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in err.errors())
        raise BadCampaign(msgs) from err


def _utc(t: dt.datetime | None) -> dt.datetime | None:
    # Stored in UTC: SQLite keeps the wall-clock digits only, whatever the zone.
    return t.astimezone(dt.UTC) if t is not None else None


class CampaignStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.sessions = sessions
        self.clock = clock

    # --- campaigns -----------------------------------------------------------------------------

    async def create(self, c: NewCampaign, by: str) -> CampaignView:
        rules = _rules(c)
        unknown = sorted(set(c.retry_minutes) - set(OUTCOMES))
        if unknown:
            raise BadCampaign(f"retry_minutes: unknown outcome(s) {unknown} (known: {list(OUTCOMES)})")
        if c.starts_at and c.ends_at and c.ends_at <= c.starts_at:
            raise BadCampaign("ends_at must be after starts_at")
        stray = sorted(set(c.disposition_rules) - set(c.dispositions))
        if stray:
            raise BadCampaign(f"disposition_rules: {stray} not among the dispositions {list(c.dispositions)}")
        bad = sorted(str(e) for e in c.disposition_rules.values() if e not in EFFECTS)
        if bad:
            raise BadCampaign(f"disposition_rules: unknown effect(s) {bad} (known: {list(EFFECTS)})")
        row = Campaign(
            name=c.name, queue=c.queue, purpose=c.purpose, mode=c.mode, state="draft", script=c.script,
            dispositions=list(c.dispositions),
            window_start=rules.window_start.strftime("%H:%M"), window_end=rules.window_end.strftime("%H:%M"),
            min_gap_hours=rules.min_gap_hours, max_attempts_per_day=rules.max_attempts_per_day,
            max_attempts=c.max_attempts, retry_minutes=dict(c.retry_minutes),
            disposition_rules=dict(c.disposition_rules),
            starts_at=c.starts_at.astimezone(dt.UTC) if c.starts_at else None,
            ends_at=c.ends_at.astimezone(dt.UTC) if c.ends_at else None,
            created_by=by[:32], created_at=self.clock(),
            amd=c.amd.model_dump() if c.amd is not None else None,
        )  # fmt: skip
        try:
            async with unit_of_work(self.sessions) as s:
                s.add(row)
                await s.flush()
                return CampaignView.of(row)
        except IntegrityError as err:
            raise CampaignExists(f"a campaign named {c.name!r} exists") from err

    async def get(self, campaign_id: int) -> CampaignView:
        async with self.sessions() as s:
            row = await s.get(Campaign, campaign_id)
            if row is None:
                raise CampaignNotFound(f"no campaign {campaign_id}")
            return CampaignView.of(row)

    async def listing(self) -> list[CampaignView]:
        async with self.sessions() as s:
            return [CampaignView.of(r) for r in await s.scalars(select(Campaign).order_by(Campaign.id))]

    async def running(self) -> list[CampaignView]:
        async with self.sessions() as s:
            rows = await s.scalars(select(Campaign).where(Campaign.state == "running").order_by(Campaign.id))
            return [CampaignView.of(r) for r in rows]

    async def control(self, campaign_id: int, action: Action) -> tuple[str, CampaignView]:
        """Apply ``action``; returns the state before it and the campaign after."""
        allowed, target = TRANSITIONS[action]
        async with unit_of_work(self.sessions) as s:
            row = await s.get(Campaign, campaign_id, with_for_update=True)
            if row is None:
                raise CampaignNotFound(f"no campaign {campaign_id}")
            before = row.state
            if before not in allowed:
                raise BadTransition(f"a {before} campaign cannot {action} (from: {sorted(allowed)})")
            row.state = target
            await s.flush()
            return before, CampaignView.of(row)

    # --- lists ---------------------------------------------------------------------------------

    async def import_list(
        self, campaign_id: int, entries: Sequence[ListEntry], customer_of: Mapping[str, str]
    ) -> ImportResult:
        """Add the entries in one transaction; a number already on the list keeps its contact (its
        attempts), with the higher priority. ``customer_of``: E.164 → customer id, from the CRM."""
        campaign = await self.get(campaign_id)
        if campaign.state == "stopped":
            raise BadTransition("the campaign is stopped: start a new one")
        added = merged = linked = 0
        async with unit_of_work(self.sessions) as s:
            existing = {
                r.number: r
                for r in await s.scalars(
                    select(CampaignContact).where(CampaignContact.campaign_id == campaign_id)
                )
            }
            for e in entries:
                merged += len(e.rows) - 1
                cid = e.customer_id or customer_of.get(e.number)
                linked += cid is not None
                row = existing.get(e.number)
                if row is not None:
                    merged += 1
                    row.priority = max(row.priority, e.priority)
                    row.customer_id = row.customer_id or cid
                    row.name = row.name or e.name
                    continue
                s.add(
                    CampaignContact(
                        campaign_id=campaign_id, number=e.number, customer_id=cid, name=e.name,
                        priority=e.priority, attempts=0, state="pending",
                    )
                )  # fmt: skip
                added += 1
        return ImportResult(added, merged, linked)

    async def contacts(self, campaign_id: int) -> list[ContactView]:
        async with self.sessions() as s:
            rows = await s.scalars(
                select(CampaignContact)
                .where(CampaignContact.campaign_id == campaign_id)
                .order_by(CampaignContact.priority.desc(), CampaignContact.id)
            )
            return [ContactView.of(r) for r in rows]

    # --- the dialler's work --------------------------------------------------------------------

    async def ready(self, campaign_id: int, now: dt.datetime, limit: int) -> list[ContactView]:
        """Pending contacts due now, highest priority first, then in list order."""
        c = CampaignContact
        async with self.sessions() as s:
            rows = await s.scalars(
                select(c)
                .where(
                    c.campaign_id == campaign_id,
                    c.state == "pending",
                    (c.next_attempt_at.is_(None)) | (c.next_attempt_at <= _utc(now)),
                )
                .order_by(c.priority.desc(), c.id)
                .limit(limit)
            )
            return [ContactView.of(r) for r in rows]

    async def claim(self, contact_id: int) -> bool:
        async with unit_of_work(self.sessions) as s:
            done = await s.execute(
                update(CampaignContact)
                .where(CampaignContact.id == contact_id, CampaignContact.state == "pending")
                .values(state="dialling")
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    async def release_dialling(self) -> int:
        """At start: contacts a previous run left mid-dial go back to the list."""
        async with unit_of_work(self.sessions) as s:
            done = await s.execute(
                update(CampaignContact).where(CampaignContact.state == "dialling").values(state="pending")
            )
            return int(done.rowcount)  # type: ignore[attr-defined]

    async def recipient(
        self, contact: ContactView, purpose: str, consent: bool, now: dt.datetime
    ) -> Recipient:
        """The rules' facts: the last call of this purpose to the number, today's attempts."""
        day = dt.datetime.combine(now.astimezone(VN_TZ).date(), dt.time(), tzinfo=VN_TZ)
        a = CampaignAttempt
        async with self.sessions() as s:
            last = await s.scalar(
                select(func.max(a.at)).where(
                    a.number == contact.number, a.purpose == purpose, a.outcome != "refused"
                )
            )
            today = await s.scalar(
                select(func.count()).where(
                    a.contact_id == contact.id, a.outcome.not_in(("refused", "failed")), a.at >= _utc(day)
                )
            )
        return Recipient(contact.number, consent, _aware(last), int(today or 0))

    async def dnc_for(self, number: str) -> DoNotCall:
        """The do-not-call lists as far as this number goes (the registers may hold millions)."""
        async with self.sessions() as s:
            sources = set(
                await s.scalars(select(DoNotCallNumber.source).where(DoNotCallNumber.number == number))
            )
        return DoNotCall(
            national={number} if "national" in sources else set(),
            operator={number} if "operator" in sources else set(),
        )

    async def record_refusal(
        self, contact: ContactView, campaign: CampaignView, reason: Refusal, nxt: Next, now: dt.datetime
    ) -> None:
        async with unit_of_work(self.sessions) as s:
            s.add(
                CampaignAttempt(
                    campaign_id=campaign.id, contact_id=contact.id, number=contact.number,
                    purpose=campaign.purpose, at=_utc(now), outcome="refused", reason=reason,
                    connected=False, call_id="",
                )
            )  # fmt: skip
            await s.execute(
                update(CampaignContact)
                .where(CampaignContact.id == contact.id)
                .values(state=nxt.state, next_attempt_at=_utc(nxt.at), last_outcome=f"refused:{reason}")
            )

    async def record_dial(
        self,
        contact: ContactView,
        campaign: CampaignView,
        outcome: str,
        *,
        connected: bool,
        call_id: str,
        nxt: Next,
        at: dt.datetime,
        agent_id: str = "",
        amd: tuple[str, str] | None = None,
    ) -> None:
        """One dial's attempt row and the contact's next step; ``amd``: AMD's (status, cause)."""
        counted = outcome != "failed"
        async with unit_of_work(self.sessions) as s:
            s.add(
                CampaignAttempt(
                    campaign_id=campaign.id, contact_id=contact.id, number=contact.number,
                    purpose=campaign.purpose, at=_utc(at), outcome=outcome, reason=None,
                    connected=connected, call_id=call_id, agent_id=agent_id[:16],
                    amd_status=amd[0][:16] if amd else None, amd_cause=amd[1][:64] if amd else None,
                )
            )  # fmt: skip
            await s.execute(
                update(CampaignContact)
                .where(CampaignContact.id == contact.id)
                .values(
                    state=nxt.state,
                    next_attempt_at=_utc(nxt.at),
                    last_outcome=outcome,
                    attempts=CampaignContact.attempts + int(counted),
                )
            )

    # --- do-not-call ---------------------------------------------------------------------------

    async def replace_dnc(self, source: Literal["national", "operator"], numbers: Iterable[str]) -> int:
        """The whole list of ``source`` replaced by ``numbers`` (E.164), in one transaction."""
        now = self.clock()
        unique = sorted(set(numbers))
        async with unit_of_work(self.sessions) as s:
            await s.execute(delete(DoNotCallNumber).where(DoNotCallNumber.source == source))
            if unique:
                await s.execute(
                    insert(DoNotCallNumber),
                    [{"number": n, "source": source, "added_at": now} for n in unique],
                )
        return len(unique)

    # --- the report ----------------------------------------------------------------------------

    async def stats(self, campaign_id: int) -> dict[str, Any]:
        await self.get(campaign_id)  # 404 for an unknown campaign
        a, c = CampaignAttempt, CampaignContact
        async with self.sessions() as s:
            outcomes = dict(
                (
                    await s.execute(
                        select(a.outcome, func.count())
                        .where(a.campaign_id == campaign_id)
                        .group_by(a.outcome)
                    )
                ).all()
            )
            connected = await s.scalar(
                select(func.count()).where(a.campaign_id == campaign_id, a.connected.is_(True))
            )
            refusals = dict(
                (
                    await s.execute(
                        select(a.reason, func.count())
                        .where(a.campaign_id == campaign_id, a.outcome == "refused")
                        .group_by(a.reason)
                    )
                ).all()
            )
            amd = dict(
                (
                    await s.execute(
                        select(a.amd_status, func.count())
                        .where(a.campaign_id == campaign_id, a.amd_status.is_not(None))
                        .group_by(a.amd_status)
                    )
                ).all()
            )
            contacts = dict(
                (
                    await s.execute(
                        select(c.state, func.count()).where(c.campaign_id == campaign_id).group_by(c.state)
                    )
                ).all()
            )
        answered = int(outcomes.get("reached", 0))
        connected_n = int(connected or 0)
        dialled = sum(int(n) for o, n in outcomes.items() if o not in ("refused", "failed"))
        abandoned = answered - connected_n
        return {
            "campaign_id": campaign_id,
            "dialled": dialled,
            "answered": answered,
            "connected": connected_n,
            "abandoned": abandoned,
            "abandon_rate": round(abandoned / answered, 4) if answered else 0.0,
            "machines": int(outcomes.get("machine", 0)),
            "outcomes": {str(k): int(v) for k, v in outcomes.items() if k != "refused"},
            "refusals": {str(k): int(v) for k, v in refusals.items()},
            "amd": {str(k): int(v) for k, v in amd.items()},  # AMD's verdicts (AMDSTATUS)
            "contacts": {str(k): int(v) for k, v in contacts.items()},
        }
