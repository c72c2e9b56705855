"""A data subject's rights through the API on a real bridge (SQLite, real files): consent changes
logged with their source; the export archive holds every item held about the customer (profile,
numbers, subscriptions, bills, points, interactions, calls, recordings, consent log, accesses); the
erasure removes the personal fields, the notes, the caller numbers and the recordings (a held one
kept) while the billing rows remain; both recorded with their reason and audited."""

from __future__ import annotations

import io
import json
import wave
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from billing.models import CdrRecord, RatedCall
from campaigns.models import Campaign, CampaignContact
from core.db import unit_of_work
from core.models import AuditEntry, CallRecord
from crm_bridge.demo_data import load_demo
from crm_bridge.models import (
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
from recordings.models import Recording
from tests.support.api_client import logged_in
from tests.support.settings import free_port, make_settings
from tongdai.app import Bridge
from webchat.models import ChatTranscript

CID = "KH0000000001"


def _wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\1\0" * 8000)


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    port = free_port()
    rec_dir = tmp_path / "monitor"
    b = Bridge(
        make_settings(
            node={"data_dir": str(tmp_path / "var")},
            database={"url": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"},
            web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
            redis={"url": None},
            recordings={"dir": str(rec_dir), "settle_seconds": 0.5},
        )
    )
    await b.start(connect_ami=False)
    assert b.engine is not None and b.sessions is not None and b.recordings is not None
    await load_demo(b.engine, 0)
    at = datetime.now(UTC) - timedelta(days=3)
    async with unit_of_work(b.sessions) as s:
        s.add(ContactNumber(customer_id=CID, number_e164="+84988000111", label="vợ"))
        s.add(CallbackRequest(number="0912345678", customer_id=CID, call_id="ast1-50.0", requested_at=at))
        camp = Campaign(
            name="Gia hạn",
            queue="mobile",
            purpose="care",
            mode="progressive",
            window_start="08:00",
            window_end="17:00",
            created_by="9000",
            created_at=at,
        )
        s.add(camp)
        await s.flush()
        s.add(
            CampaignContact(campaign_id=camp.id, number="+84912345678", customer_id=CID, name="Nguyễn Văn An")
        )
        s.add(
            Interaction(
                customer_id=CID,
                kind="call",
                at=at,
                agent_id="1001",
                call_id="ast1-50.0",
                summary="Khách đọc địa chỉ nhà",
            )
        )
        for n in (50, 51):
            s.add(
                CallRecord(
                    call_id=f"ast1-{n}.0",
                    caller_number="+84912345678",
                    customer_id=CID,
                    queue="mobile",
                    agent_id="1001",
                    started_at=at,
                    answered_at=at,
                    ended_at=at + timedelta(seconds=60),
                )
            )
        cdr = CdrRecord(
            system_name="ast1",
            uniqueid="ast1-50.1",
            linkedid="ast1-50.0",
            src="0912345678",
            dst="18001090",
            start=at,
            billsec=60,
            disposition="ANSWERED",
        )
        s.add(cdr)
        s.add(
            ChatTranscript(
                chat_id="chat-1",
                channel="web",
                customer_id=CID,
                phone="+84912345678",
                verified=True,
                queue="mobile",
                acd_tier="gold",
                page="https://shop.example/cuoc",
                agent_id="1001",
                started_at=at,
                answered_at=at,
                ended_at=at + timedelta(minutes=3),
                disposition="resolved",
                messages=1,
                transcript='[{"id": 1, "from": "customer", "text": "Cước tháng này sai"}]',
            )
        )
        await s.flush()
        s.add(
            RatedCall(
                cdr_id=cdr.id,
                call_id="ast1-50.0",
                direction="inbound",
                caller="0912345678",
                callee="18001090",
                answered_at=at,
                plan_id="p",
                destination="tollfree",
                charged_party="operator",
                band="day",
                exact_us=60_000_000,
                billed_seconds=60,
                blocks=55,
                amount=1000,
                vat=100,
                total=1100,
                explanation="6 s + 54 × 1 s",
                rated_at=at,
            )
        )
    for n in (50, 51):
        _wav(rec_dir / f"2026/12/01/c{n}.wav")
        await b.recordings.register(
            f"ast1-{n}.0",
            f"2026/12/01/c{n}.wav",
            {"customer_id": CID, "agent_id": "1001", "queue": "mobile", "answered_at": at.timestamp()},
        )
    await b.recordings.set_legal_hold("ast1-51.0", True, "Toà án yêu cầu")
    yield b
    await b.stop()


async def _count(b: Bridge, q: object) -> int:
    assert b.sessions is not None
    async with b.sessions() as s:
        return int(await s.scalar(q))  # type: ignore[call-overload]


async def test_consent_export_and_erasure(bridge: Bridge) -> None:
    b = bridge
    assert b.sessions is not None
    base = f"http://127.0.0.1:{b.web_port}"
    agent = await logged_in(base, "1001")
    sup = await logged_in(base, "9000")
    try:
        # Consent: an agent records a withdrawal given on the phone; a no-op change logs nothing.
        status, body = await agent.send(
            "POST",
            f"/api/customers/{CID}/consent",
            {"marketing": True, "recording": False, "source": "phone"},
        )
        assert status == 200, body
        status, body = await agent.send(
            "POST",
            f"/api/customers/{CID}/consent",
            {"marketing": False, "source": "phone", "note": "gọi đến 1090"},
        )
        assert status == 200 and [c["consent"] for c in body["changes"]] == ["marketing"], body
        status, body = await agent.send(
            "POST", f"/api/customers/{CID}/consent", {"marketing": False, "source": "sms"}
        )
        assert status == 400, body  # the source is one of the known ones
        status, log = await sup.send("GET", f"/api/customers/{CID}/consent-log")
        assert status == 200
        marketing = [(c["granted"], c["source"], c["actor"]) for c in log if c["consent"] == "marketing"]
        assert marketing[-1] == (False, "phone", "1001")

        # Export: supervisors only, with a reason.
        status, body = await agent.send("POST", f"/api/customers/{CID}/export", {"reason": "Khách yêu cầu"})
        assert status == 403, body
        status, body = await sup.send("POST", f"/api/customers/{CID}/export", {"reason": ""})
        assert status == 400 and body["error"]["code"] == "crm.reason_required", body
        async with sup.http.post(
            f"{base}/api/customers/{CID}/export", json={"reason": "Đơn yêu cầu số 7"}, headers=sup.headers
        ) as r:
            assert r.status == 200 and r.content_type == "application/zip"
            archive = zipfile.ZipFile(io.BytesIO(await r.read()))
        files = {n: json.loads(archive.read(n)) for n in archive.namelist()}
        subs = await _count(
            b, select(func.count()).select_from(Subscription).where(Subscription.customer_id == CID)
        )
        bills = await _count(
            b,
            select(func.count())
            .select_from(MonthlyRevenue)
            .join(Subscription, Subscription.id == MonthlyRevenue.subscription_id)
            .where(Subscription.customer_id == CID),
        )
        points = await _count(
            b, select(func.count()).select_from(PointsLedger).where(PointsLedger.customer_id == CID)
        )
        inter = await _count(
            b, select(func.count()).select_from(Interaction).where(Interaction.customer_id == CID)
        )
        assert subs and bills and points and inter  # the demo customer has all of these
        assert files["profile.json"][0]["full_name"] == "Nguyễn Văn An"
        assert len(files["subscriptions.json"]) == subs and len(files["bills.json"]) == bills
        assert len(files["points.json"]) == points and len(files["interactions.json"]) == inter
        contacts = await _count(
            b, select(func.count()).select_from(ContactNumber).where(ContactNumber.customer_id == CID)
        )
        assert len(files["contact_numbers.json"]) == contacts
        assert "+84988000111" in [c["number_e164"] for c in files["contact_numbers.json"]]
        assert {c["call_id"] for c in files["calls.json"]} == {"ast1-50.0", "ast1-51.0"}
        assert {r["call_id"] for r in files["recordings.json"]} == {"ast1-50.0", "ast1-51.0"}
        assert files["consent_log.json"] == log and len(log) >= 2
        assert any(a["action"] == "consent.change" and a["actor"] == "1001" for a in files["accesses.json"])
        assert [(c["chat_id"], c["messages"][0]["text"]) for c in files["chats.json"]] == [
            ("chat-1", "Cước tháng này sai")
        ]
        assert [c["call_id"] for c in files["callbacks.json"]] == ["ast1-50.0"]
        assert [c["name"] for c in files["campaign_contacts.json"]] == ["Nguyễn Văn An"]
        assert files["manifest.json"]["reason"] == "Đơn yêu cầu số 7"
        assert {k: len(v) for k, v in files.items() if k != "manifest.json"} == files["manifest.json"][
            "files"
        ]

        # Erasure.
        cdrs = await _count(b, select(func.count()).select_from(CdrRecord))
        status, body = await agent.send(
            "POST", f"/api/customers/{CID}/erase", {"reason": "Khách yêu cầu xoá"}
        )
        assert status == 403
        status, body = await sup.send(
            "POST", f"/api/customers/{CID}/erase", {"reason": "Đơn yêu cầu xoá số 8"}
        )
        assert status == 200, body
        assert body["recordings_deleted"] == ["ast1-50.0"] and body["recordings_kept"] == ["ast1-51.0"]
    finally:
        await agent.http.close()
        await sup.http.close()

    async with b.sessions() as s:
        c = await s.get(Customer, CID)
        assert c is not None
        assert "Nguyễn" not in c.full_name and c.name_search == ""
        assert c.date_of_birth is None and c.id_number is None and c.addresses == [] and c.province is None
        assert not (c.consent_marketing or c.consent_recording or c.consent_data_sharing)
        assert not list(await s.scalars(select(CustomerWord).where(CustomerWord.customer_id == CID)))
        assert not list(await s.scalars(select(ContactNumber).where(ContactNumber.customer_id == CID)))
        notes = list(await s.scalars(select(Interaction.summary).where(Interaction.customer_id == CID)))
        assert len(notes) == inter and set(notes) == {""}
        calls = list(await s.scalars(select(CallRecord).where(CallRecord.customer_id == CID)))
        assert len(calls) == 2 and {x.caller_number for x in calls} == {""}
        (cb,) = await s.scalars(select(CallbackRequest).where(CallbackRequest.customer_id == CID))
        assert cb.number == "" and cb.status == "cancelled"  # never called back
        (cc,) = await s.scalars(select(CampaignContact).where(CampaignContact.customer_id == CID))
        assert cc.name == "" and cc.state == "refused" and cc.number == "+84912345678"
        recs = [r.call_id for r in await s.scalars(select(Recording).where(Recording.customer_id == CID))]
        assert recs == ["ast1-51.0"]  # the held recording stays
        talk = await s.get(ChatTranscript, "chat-1")
        assert talk is not None and (talk.transcript, talk.phone, talk.page) == ("[]", None, "")
        assert (talk.queue, talk.agent_id, talk.disposition) == ("mobile", "1001", "resolved")  # chat SL kept
        # Billing rows remain, untouched.
        assert (
            await s.scalar(
                select(func.count()).select_from(Subscription).where(Subscription.customer_id == CID)
            )
            == subs
        )
        assert (
            len(
                list(
                    await s.scalars(
                        select(MonthlyRevenue.month).join(Subscription).where(Subscription.customer_id == CID)
                    )
                )
            )
            == bills
        )
        assert await s.scalar(select(func.count()).select_from(CdrRecord)) == cdrs
        rated = await s.scalar(select(RatedCall).where(RatedCall.call_id == "ast1-50.0"))
        assert rated is not None and rated.total == 1100
        reqs = [
            (r.kind, r.reason, r.actor)
            for r in await s.scalars(select(DataRightsRequest).order_by(DataRightsRequest.id))
        ]
        acts = [
            (a.actor, a.action, a.detail)
            for a in await s.scalars(select(AuditEntry).where(AuditEntry.subject_id == CID))
        ]
    assert not (b.settings.recordings.dir / "2026/12/01/c50.wav").exists()
    assert (b.settings.recordings.dir / "2026/12/01/c51.wav").exists()
    assert reqs == [("export", "Đơn yêu cầu số 7", "9000"), ("erasure", "Đơn yêu cầu xoá số 8", "9000")]
    assert ("9000", "customer.export", "Đơn yêu cầu số 7") in acts
    assert ("9000", "customer.erase", "Đơn yêu cầu xoá số 8") in acts
