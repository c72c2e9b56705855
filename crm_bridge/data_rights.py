"""A data subject's rights (Decree 13/2023 on personal data protection): everything held about a
customer exported as one archive; erasure on request, keeping what billing and the law require; every
consent change logged with its source. Each act is recorded (``crm_data_rights_requests``) with its
stated reason, and audited.

What an erasure keeps, and why: subscriptions, bills and points (the operator's billing records), the
CDRs and rated calls (billing, and the telecom law's retention of call records), the audit trail and
the consent log (the proof of lawful processing), recordings under a legal hold or a dispute (an
authority's order prevails). What it removes: the name, date of birth, identity number, addresses,
province, other contact numbers, the notes agents wrote, the caller's number on the call records and
callback requests (a pending callback is cancelled), the name on campaign contacts (a pending one is
never dialled; the number stays, as Decree 91/2020's attempt records point at it), and the
recordings. The customer ID stays, as the key the kept billing rows hang on.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol

from sqlalchemy import delete, false, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campaigns.models import CampaignContact
from core.audit import Audit
from core.config import LegalHold
from core.db import Base, unit_of_work
from core.errors import BadRequest, NotFound
from core.models import AuditEntry, CallRecord
from crm_bridge.directory import CustomerDirectory
from crm_bridge.models import (
    ConsentChange,
    ContactNumber,
    Customer,
    CustomerWord,
    DataRightsRequest,
    Interaction,
    MonthlyRevenue,
    PointsLedger,
    Subscription,
)
from ivr.models import CallbackRequest
from webchat.models import ChatTranscript

CONSENTS = ("marketing", "recording", "data_sharing")
CONSENT_SOURCES = ("phone", "form", "portal", "email", "import")
ERASED_NAME = "(đã xoá theo yêu cầu)"


class ReasonRequired(BadRequest):
    error_id = "crm.reason_required"


class RecordingsOfCustomer(Protocol):
    """The recordings side (recordings/service.py's RecordingService)."""

    async def search(self, *, customer_id: str | None = None, limit: int = 100) -> Sequence[Any]: ...

    async def erase_customer(self, customer_id: str) -> tuple[list[str], list[str]]: ...


def _reason(reason: str) -> str:
    text = " ".join(reason.split())
    if len(text) < 3:
        raise ReasonRequired("state the reason for the request (at least 3 characters)")
    return text[:500]


def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return v


def _row(obj: Base, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {c.key: _plain(getattr(obj, c.key)) for c in obj.__table__.columns if c.key not in skip}


class DataRights:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        directory: CustomerDirectory,
        recordings: RecordingsOfCustomer,
        audit: Audit,
        legal_hold: LegalHold | None = None,
    ) -> None:
        self._sessions, self.directory, self.recordings, self.audit = sessions, directory, recordings, audit
        self.legal_hold = legal_hold or LegalHold()

    async def _customer(self, s: AsyncSession, customer_id: str) -> Customer:
        c = await s.get(Customer, customer_id)
        if c is None:
            raise NotFound(f"customer {customer_id} not found")
        return c

    # --- consent ---------------------------------------------------------------------------------

    async def change_consent(
        self, customer_id: str, changes: dict[str, bool], *, source: str, actor: str, note: str = ""
    ) -> list[dict[str, Any]]:
        """Set consent flags, each change logged with its source; only flags that change are logged."""
        if not changes or set(changes) - set(CONSENTS):
            raise BadRequest(f"give one or more of {', '.join(CONSENTS)}")
        if source not in CONSENT_SOURCES:
            raise BadRequest(f"source must be one of {', '.join(CONSENT_SOURCES)}")
        now = datetime.now(UTC)
        logged: list[ConsentChange] = []
        async with unit_of_work(self._sessions) as s:
            c = await self._customer(s, customer_id)
            for name, granted in changes.items():
                if getattr(c, f"consent_{name}") == granted:
                    continue
                setattr(c, f"consent_{name}", granted)
                logged.append(
                    ConsentChange(
                        customer_id=customer_id,
                        consent=name,
                        granted=granted,
                        source=source,
                        actor=actor[:32],
                        note=note[:200],
                        at=now,
                    )
                )
            if logged:
                c.consent_at = now
                s.add_all(logged)
        for ch in logged:
            detail = f"{ch.consent}={'yes' if ch.granted else 'no'} via {source}"
            await self.audit(actor, "consent.change", "customer", customer_id, detail)
        await self.directory.invalidate(customer_id)
        return [_row(ch, ("id",)) for ch in logged]

    async def consent_log(self, customer_id: str) -> list[dict[str, Any]]:
        async with self._sessions() as s:
            rows = await s.scalars(
                select(ConsentChange)
                .where(ConsentChange.customer_id == customer_id)
                .order_by(ConsentChange.id)
            )
            return [_row(r, ("id",)) for r in rows]

    # --- export ----------------------------------------------------------------------------------

    async def export(self, customer_id: str, *, actor: str, reason: str) -> tuple[bytes, dict[str, int]]:
        """One ZIP of JSON files, everything held about the customer; (archive, items per file)."""
        why = _reason(reason)
        async with self._sessions() as s:
            c = await self._customer(s, customer_id)
            subs = list(await s.scalars(select(Subscription).where(Subscription.customer_id == customer_id)))
            sub_ids = [x.id for x in subs]
            parts: dict[str, list[dict[str, Any]]] = {
                "profile.json": [_row(c, ("name_search",))],
                "contact_numbers.json": [
                    _row(x, ("id",))
                    for x in await s.scalars(
                        select(ContactNumber).where(ContactNumber.customer_id == customer_id)
                    )
                ],
                "subscriptions.json": [_row(x) for x in subs],
                "bills.json": [
                    _row(x)
                    for x in await s.scalars(
                        select(MonthlyRevenue)
                        .where(MonthlyRevenue.subscription_id.in_(sub_ids))
                        .order_by(MonthlyRevenue.month)
                    )
                ]
                if sub_ids
                else [],
                "points.json": [
                    _row(x, ("id",))
                    for x in await s.scalars(
                        select(PointsLedger)
                        .where(PointsLedger.customer_id == customer_id)
                        .order_by(PointsLedger.at)
                    )
                ],
                "interactions.json": [
                    _row(x, ("id",))
                    for x in await s.scalars(
                        select(Interaction)
                        .where(Interaction.customer_id == customer_id)
                        .order_by(Interaction.at)
                    )
                ],
                "calls.json": [
                    _row(x)
                    for x in await s.scalars(
                        select(CallRecord)
                        .where(CallRecord.customer_id == customer_id)
                        .order_by(CallRecord.started_at)
                    )
                ],
                "callbacks.json": [
                    _row(x, ("id",))
                    for x in await s.scalars(
                        select(CallbackRequest)
                        .where(CallbackRequest.customer_id == customer_id)
                        .order_by(CallbackRequest.requested_at)
                    )
                ],
                "campaign_contacts.json": [
                    _row(x, ("id",))
                    for x in await s.scalars(
                        select(CampaignContact).where(CampaignContact.customer_id == customer_id)
                    )
                ],
                "consent_log.json": [
                    _row(x, ("id",))
                    for x in await s.scalars(
                        select(ConsentChange)
                        .where(ConsentChange.customer_id == customer_id)
                        .order_by(ConsentChange.id)
                    )
                ],
                # Who looked at the customer's data (the subject's right to know who processed it).
                "accesses.json": [
                    _row(x, ("id",))
                    for x in await s.scalars(
                        select(AuditEntry).where(AuditEntry.subject_id == customer_id).order_by(AuditEntry.id)
                    )
                ],
                "requests.json": [
                    _row(x, ("id",))
                    for x in await s.scalars(
                        select(DataRightsRequest)
                        .where(DataRightsRequest.customer_id == customer_id)
                        .order_by(DataRightsRequest.id)
                    )
                ],
            }
        recs = await self.recordings.search(customer_id=customer_id, limit=100_000)
        parts["recordings.json"] = [
            {
                "call_id": r.call_id,
                "started_at": _plain(r.started_at),
                "duration_seconds": r.duration_seconds,
                "agent_id": r.agent_id,
                "queue": r.queue,
                "legal_hold": r.legal_hold,
                "sha256": r.sha256,
            }
            for r in recs
        ]
        async with self._sessions() as s:
            chats = list(
                await s.scalars(
                    select(ChatTranscript)
                    .where(ChatTranscript.customer_id == customer_id)
                    .order_by(ChatTranscript.started_at)
                )
            )
        parts["chats.json"] = [
            {**_row(x, ("transcript",)), "messages": json.loads(x.transcript or "[]")} for x in chats
        ]
        counts = {name: len(rows) for name, rows in parts.items()}
        manifest = {
            "customer_id": customer_id,
            "exported_at": datetime.now(UTC).isoformat(),
            "exported_by": actor,
            "reason": why,
            "files": counts,
            "note": "recordings.json lists the recordings; their audio is provided on request",
        }
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
            for name, rows in parts.items():
                z.writestr(name, json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        await self._record(customer_id, "export", why, actor, {"files": counts})
        await self.audit(actor, "customer.export", "customer", customer_id, why)
        return buf.getvalue(), counts

    # --- erasure ---------------------------------------------------------------------------------

    async def erase(self, customer_id: str, *, actor: str, reason: str) -> dict[str, Any]:
        """Erase the customer's personal data, keeping billing rows and what the law requires."""
        why = _reason(reason)
        async with unit_of_work(self._sessions) as s:
            c = await self._customer(s, customer_id)
            await self.directory.invalidate(customer_id)  # while the numbers are still known
            c.full_name = ERASED_NAME
            c.name_search = ""
            c.date_of_birth = None
            c.id_number = None
            c.addresses = []
            c.province = None
            c.segment = None
            c.care_card = None
            c.consent_marketing = c.consent_recording = c.consent_data_sharing = False
            c.consent_at = datetime.now(UTC)
            await s.execute(delete(CustomerWord).where(CustomerWord.customer_id == customer_id))
            contacts = await s.execute(delete(ContactNumber).where(ContactNumber.customer_id == customer_id))
            notes = await s.execute(
                update(Interaction).where(Interaction.customer_id == customer_id).values(summary="")
            )
            calls = await s.execute(
                update(CallRecord).where(CallRecord.customer_id == customer_id).values(caller_number="")
            )
            # A callback still waiting is never made; the number of every request goes.
            await s.execute(
                update(CallbackRequest)
                .where(
                    CallbackRequest.customer_id == customer_id,
                    CallbackRequest.status.in_(("pending", "claimed")),
                )
                .values(status="cancelled", outcome="erased")
            )
            callbacks = await s.execute(
                update(CallbackRequest).where(CallbackRequest.customer_id == customer_id).values(number="")
            )
            # Campaign contacts keep their number (the attempts that Decree 91/2020's limits are
            # counted from point at it) but lose the name, and are never dialled again.
            await s.execute(
                update(CampaignContact)
                .where(CampaignContact.customer_id == customer_id, CampaignContact.state == "pending")
                .values(state="refused", last_outcome="erased")
            )
            contacts_in_campaigns = await s.execute(
                update(CampaignContact).where(CampaignContact.customer_id == customer_id).values(name="")
            )
            # Chats keep what the chat service level is counted from (times, queue, agent, disposition);
            # their words, typed number and page go, unless the chat or the customer is under legal hold.
            chats = update(ChatTranscript).where(ChatTranscript.customer_id == customer_id)
            if customer_id in self.legal_hold.customers:
                chats = chats.where(false())
            elif self.legal_hold.calls:
                chats = chats.where(ChatTranscript.chat_id.not_in(self.legal_hold.calls))
            chats_cleared = await s.execute(chats.values(transcript="[]", phone=None, page=""))
        erased, kept = await self.recordings.erase_customer(customer_id)
        detail = {
            "contact_numbers_deleted": int(getattr(contacts, "rowcount", 0) or 0),
            "notes_cleared": int(getattr(notes, "rowcount", 0) or 0),
            "calls_anonymised": int(getattr(calls, "rowcount", 0) or 0),
            "callbacks_anonymised": int(getattr(callbacks, "rowcount", 0) or 0),
            "campaign_contacts_anonymised": int(getattr(contacts_in_campaigns, "rowcount", 0) or 0),
            "chats_cleared": int(getattr(chats_cleared, "rowcount", 0) or 0),
            "recordings_deleted": erased,
            "recordings_kept": kept,
            "kept": "subscriptions, bills, points, CDRs, rated calls, audit trail, consent log",
        }
        await self._record(customer_id, "erasure", why, actor, detail)
        await self.audit(actor, "customer.erase", "customer", customer_id, why)
        await self.directory.invalidate(customer_id)
        return detail

    async def _record(
        self, customer_id: str, kind: str, reason: str, actor: str, detail: dict[str, Any]
    ) -> None:
        async with unit_of_work(self._sessions) as s:
            s.add(
                DataRightsRequest(
                    customer_id=customer_id,
                    kind=kind,
                    reason=reason,
                    actor=actor[:32],
                    at=datetime.now(UTC),
                    detail=detail,
                )
            )
