"""Scheduled retention on real rows and files, with an injectable clock: each kind is purged on its own
period, past its own retention, and nothing under legal hold (a customer, a call) or in dispute goes."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from billing.cdr import CdrIngest
from billing.models import CdrRecord, RatedCall
from billing.rating import Rater
from billing.tariffs import BillingConfig
from core.audit import AuditTrail, purge_audit
from core.config import LegalHold, RetentionConfig, RetentionKind
from core.db import create_engine, session_factory, unit_of_work
from core.models import AuditEntry, CallRecord
from core.retention import RetentionScheduler
from recordings.config import RecordingsConfig
from recordings.models import Recording
from recordings.service import RecordingService
from tests.support.cdrs import cdr
from tongdai.schema import upgrade_to_head


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_retention_runs_on_schedule_and_keeps_legal_holds(db_url: str, tmp_path: Path) -> None:
    engine = create_engine(db_url)
    await upgrade_to_head(engine)
    sessions = session_factory(engine)
    t0 = datetime.now(UTC).replace(microsecond=0)  # the audit trail stamps rows with the real time
    clock = Clock(t0)
    old, recent = t0 - timedelta(days=400), t0 - timedelta(days=10)

    rec_dir = tmp_path / "monitor"
    rec_dir.mkdir()
    recordings = {
        "r-old": ("KH0000000009", old, False),
        "r-new": ("KH0000000009", recent, False),
        "r-held-customer": ("KH0000000001", old, False),
        "r-held-call": (None, old, False),
        "r-disputed": (None, old, True),
        "r-anonymous": (None, old, False),  # no customer: still purged while holds exist
    }
    async with unit_of_work(sessions) as s:
        for call_id, (customer, started, dispute) in recordings.items():
            (rec_dir / f"{call_id}.wav").write_bytes(b"RIFF" + b"\0" * 100)
            s.add(Recording(call_id=call_id, path=f"{call_id}.wav", customer_id=customer, started_at=started,
                            dispute=dispute))  # fmt: skip
        # The held customer's call: its CDR is found through the calls table.
        s.add(CallRecord(call_id="ast1-1795400000.3", customer_id="KH0000000001", started_at=old))

    ingest = CdrIngest(sessions, tmp_path / "spool", "ast1", Rater(BillingConfig()))
    for n in range(5):
        start = (old if n < 4 else recent).strftime("%Y-%m-%d %H:%M:%S")
        await ingest.ingest({**cdr(n), "StartTime": start, "AnswerTime": start})
    # cdr(2) is the held call's; cdr(3) the held customer's.
    audit = AuditTrail(sessions)
    for subject in ("KH0000000009", "KH0000000001", "ast1-1795400000.2"):
        await audit("1001", "profile.pop", "customer", subject)
    async with unit_of_work(sessions) as s:
        for row in await s.scalars(select(AuditEntry)):
            row.at = old  # written 400 days ago
    await audit("1001", "profile.pop", "customer", "KH0000000009")  # today's

    config = RetentionConfig(
        recordings=RetentionKind(every_hours=24),
        cdrs=RetentionKind(every_hours=24 * 7, keep_days=365),
        audit=RetentionKind(every_hours=24, keep_days=180),
        legal_hold=LegalHold(customers=["KH0000000001"], calls=["r-held-call", "ast1-1795400000.2"]),
    )
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    svc = RecordingService(sessions, RecordingsConfig(dir=rec_dir, retention_days=365))
    sched = RetentionScheduler(config, clock=clock, sleep=sleep)
    assert sched.register("recordings", config.recordings, svc.purge_before, default_days=365)
    assert sched.register("cdrs", config.cdrs, ingest.purge)
    assert sched.register("audit", config.audit, functools.partial(purge_audit, sessions))
    assert not RetentionScheduler(RetentionConfig(), clock=clock).register(
        "cdrs", RetentionKind(), ingest.purge
    )

    assert await sched.run_due() == {"recordings": 2, "cdrs": 2, "audit": 1}
    left = {p.stem for p in rec_dir.iterdir()}
    assert left == {"r-new", "r-held-customer", "r-held-call", "r-disputed"}
    async with sessions() as s:
        assert set(await s.scalars(select(Recording.call_id))) == left
        kept_cdrs = set(await s.scalars(select(CdrRecord.uniqueid)))
        assert kept_cdrs == {"ast1-1795400000.2", "ast1-1795400000.3", "ast1-1795400000.4"}
        rated = set(await s.scalars(select(RatedCall.call_id)))
        assert rated == {
            "ast1-1795400000.2",
            "ast1-1795400000.3",
            "ast1-1795400000.4",
        }  # lines went with them
        subjects = sorted(await s.scalars(select(AuditEntry.subject_id)))
        assert subjects == ["KH0000000001", "KH0000000009", "ast1-1795400000.2"]

    clock.now = t0 + timedelta(hours=1)
    assert await sched.run_due() == {}  # nothing due yet
    assert sched.seconds_to_next() == 23 * 3600

    # A day on, r-new is still young, but the clock has moved: the daily kinds run, the weekly one not.
    clock.now = t0 + timedelta(days=1)
    assert await sched.run_due() == {"recordings": 0, "audit": 0}
    clock.now = t0 + timedelta(days=356)  # r-new is now 366 days old
    done = await sched.run_due()
    assert done["recordings"] == 1 and not (rec_dir / "r-new.wav").exists()
    await engine.dispose()
