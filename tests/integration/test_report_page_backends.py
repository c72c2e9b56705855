"""The report page's queries, the evaluations store and the audit viewer's search on SQLite and
PostgreSQL alike: the page's cuts equal a recomputation from the call rows, a queue filter narrows
every cut, evaluations average per agent and queue, the audit trail filters by kind and subject."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import create_engine, session_factory, unit_of_work
from core.models import AuditEntry
from quality.forms import QualityConfig
from quality.store import EvaluationStore, NewEvaluation
from reports.audit_view import AuditFilter, search
from reports.breakdown import page_report
from reports.config import ReportsConfig
from tests.support.report_day import recompute, seeded_day
from tests.support.reports import seed
from tests.support.settings import shipped_config
from tongdai.schema import upgrade_to_head

DAY, NEXT = date(2026, 11, 5), date(2026, 11, 6)
FIELDS = ("offered", "answered", "answered_in_sl", "abandoned", "exited", "sl", "asa", "aht", "abandon_rate")


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db_url)
    await upgrade_to_head(engine)
    s = session_factory(engine)
    await seed(s, seeded_day())
    yield s
    await engine.dispose()


async def test_the_page_cuts_equal_the_call_rows(sessions: async_sessionmaker[AsyncSession]) -> None:
    page = await page_report(sessions, DAY, NEXT, ReportsConfig())
    want = await recompute(sessions)
    lists = {
        "day": "days",
        "halfhour": "half_hours",
        "queue": "queues",
        "tier": "tiers",
        "agent": "agent_figures",
    }
    for scope, name in lists.items():
        got = {i.get("day") or i["name"]: {k: i[k] for k in FIELDS} for i in page[name]}
        assert got == want[scope], scope
    mobile = await page_report(sessions, DAY, NEXT, ReportsConfig(), queue="mobile")
    assert mobile["total"]["offered"] == want["queue"]["mobile"]["offered"] == 10
    assert sum(h["offered"] for h in mobile["half_hours"]) == 10
    assert [q["name"] for q in mobile["queues"]] == ["mobile"]


async def test_evaluations_average_per_agent_and_queue(sessions: async_sessionmaker[AsyncSession]) -> None:
    cfg = QualityConfig.model_validate(shipped_config()["quality"])
    at = datetime(2026, 11, 5, 3, 0, tzinfo=UTC)
    store = EvaluationStore(sessions, lambda: cfg, clock=lambda: at)
    good = {"greeting": True, "identity": True, "understood": 5, "resolved": True, "card_data": True,
            "summary": True}  # fmt: skip
    await store.save(NewEvaluation("d01", "inbound", good), "9000")  # 1001, mobile: 100
    await store.save(
        NewEvaluation("d04", "inbound", {**good, "summary": False}), "9000"
    )  # 1001, internet: 80
    await store.save(NewEvaluation("d02", "inbound", {**good, "card_data": False}), "9000")  # 1002, fatal
    got = await store.averages(datetime(2026, 11, 5, tzinfo=UTC), datetime(2026, 11, 6, tzinfo=UTC))
    assert got["agents"] == [
        {"name": "1001", "evaluations": 2, "average": 90.0, "fatal": 0},
        {"name": "1002", "evaluations": 1, "average": 0.0, "fatal": 1},
    ]
    assert got["queues"] == [
        {"name": "internet", "evaluations": 1, "average": 80.0, "fatal": 0},
        {"name": "mobile", "evaluations": 2, "average": 50.0, "fatal": 1},
    ]
    assert [e["call_id"] for e in await store.find(agent_id="1001")] == ["d04", "d01"]


async def test_the_audit_search_filters(sessions: async_sessionmaker[AsyncSession]) -> None:
    def row(hour: int, action: str, subject: str) -> AuditEntry:
        kind, _, sid = subject.partition(":")
        at = datetime(2026, 11, 5, hour, tzinfo=UTC)
        return AuditEntry(at=at, actor="9000", action=action, subject_type=kind, subject_id=sid, detail="")

    async with unit_of_work(sessions) as s:
        s.add_all([
            row(1, "profile.view", "customer:KH1"),
            row(2, "campaign.create", "campaign:KH1"),
            row(3, "recording.play", "recording:d01"),
            row(4, "profile.unmask", "customer:KH2"),
        ])  # fmt: skip
    entries, total = await search(sessions, AuditFilter(DAY, NEXT, kind="customer"), limit=10)
    assert [e["action"] for e in entries] == ["profile.unmask", "profile.view"] and total == 2
    entries, total = await search(sessions, AuditFilter(DAY, NEXT, subject_id="KH1"), limit=1)
    assert [e["action"] for e in entries] == ["campaign.create"] and total == 2  # newest first
