"""Satisfaction KPIs on SQLite and PostgreSQL: surveys stored as the FastAGI route stores them, the
report's CSAT, response rate, FCR and repeat rate equal a recomputation from the rows, the CSV and
XLSX exports carry the same numbers, the pop's repeat note across two numbers of one owner, and the
backward "repeat today" count at the window's boundary."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_desktop.kpi_board import KpiBoard
from core.db import create_engine, session_factory, unit_of_work
from core.models import CallRecord
from core.survey_config import SurveyConfig
from ivr.survey import SurveyAnswer
from ivr.survey_store import SurveyContext, SurveyStore
from reports.contact_note import repeat_note
from reports.repeat_contacts import returning_contacts
from reports.satisfaction import COLUMNS, kpi_csv, kpi_report, kpi_xlsx
from tongdai.schema import upgrade_to_head

DAY = date(2026, 11, 23)
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 09:00 in Việt Nam
WEEK = timedelta(days=7)
LATER = T0 + timedelta(days=30)
CFG = SurveyConfig.model_validate(
    {
        "enabled": True,
        "questions": [
            {"id": "csat", "prompt": "survey_csat", "kind": "scale", "scale_max": 5},
            {"id": "solved", "prompt": "survey_solved", "kind": "yes_no"},
        ],
    }
)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db_url)
    await upgrade_to_head(engine)
    yield session_factory(engine)
    await engine.dispose()


def call(
    n: int,
    at: datetime,
    *,
    customer: str | None,
    number: str,
    answered: bool = True,
    agent: str = "1001",
    queue: str = "mobile",
) -> CallRecord:
    return CallRecord(
        call_id=f"tdtest-{n}",
        caller_number=number,
        customer_id=customer,
        queue=queue,
        acd_tier="gold",
        agent_id=agent if answered else "",
        started_at=at,
        answered_at=at + timedelta(seconds=20) if answered else None,
        ivr_path_text=f"Menu > {queue}",
        disposition="answered" if answered else "abandoned",
    )


async def survey(
    sessions: async_sessionmaker[AsyncSession], r: CallRecord, at: datetime, answers: list[SurveyAnswer]
) -> None:
    store = SurveyStore(sessions, now=lambda: at)
    ctx = SurveyContext(r.call_id, r.queue, r.agent_id, r.customer_id, "vi")
    assert await store.record(ctx, CFG, answers) == len(answers)


def answers(csat: int | None, solved: int | None) -> list[SurveyAnswer]:
    def one(q: str, v: int | None) -> SurveyAnswer:
        return SurveyAnswer(q, v, "answered" if v is not None else "no_answer")

    return [one("csat", csat), one("solved", solved)]


async def test_report_equals_a_recomputation_and_the_exports_carry_its_numbers(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    rng = random.Random(19)
    rows, surveys = [], []
    for n in range(400):
        owner = rng.randrange(90)
        at = T0 + timedelta(seconds=rng.randrange(0, 6 * 86400))
        answered = rng.random() < 0.85
        agent, queue = rng.choice(["1001", "1002"]), rng.choice(["mobile", "internet"])
        customer = f"KH{owner:010d}" if owner % 4 else None
        r = call(
            n, at, customer=customer, number=f"09{owner:08d}", answered=answered, agent=agent, queue=queue
        )
        rows.append(r)
        if answered and rng.random() < 0.6:
            csat = rng.choice([None, 1, 2, 3, 4, 5, 5])
            solved = rng.choice([None, 1, 2]) if csat is not None else None
            surveys.append((r, r.started_at + timedelta(minutes=5), answers(csat, solved)))
    async with unit_of_work(sessions) as s:
        s.add_all(rows)
    for r, at, a in surveys:
        await survey(sessions, r, at, a)
    assert (
        await SurveyStore(sessions).record(  # one survey per call: a second one keeps the first
            SurveyContext(surveys[0][0].call_id, "mobile", "1001", None, "vi"), CFG, answers(1, 1)
        )
        == 0
    )

    since, until = DAY + timedelta(days=1), DAY + timedelta(days=4)
    report = await kpi_report(sessions, since, until, window=timedelta(days=2), now=LATER)
    start, end = T0 - timedelta(hours=9) + timedelta(days=1), T0 - timedelta(hours=9) + timedelta(days=4)

    # Survey figures, recomputed from what was stored.
    inside = [(r, a) for r, at, a in surveys if start <= at < end]
    scores = [a[0].value for _, a in inside if a[0].value is not None]
    solved = [a[1].value for _, a in inside if a[1].value is not None]
    t = report.to_json()["total"]
    assert t["surveyed"] == len(inside)
    assert t["responded"] == sum(1 for _, a in inside if any(x.value is not None for x in a))
    assert t["csat_answers"] == len(scores)
    assert t["csat"] == pytest.approx(sum(scores) / len(scores))
    assert t["csat_top2"] == pytest.approx(sum(1 for v in scores if v >= 4) / len(scores))
    assert t["said_solved"] == pytest.approx(sum(1 for v in solved if v == 1) / len(solved))
    assert t["response_rate"] == pytest.approx(t["responded"] / t["surveyed"])
    mobile = [(r, a) for r, a in inside if r.queue == "mobile"]
    assert report.to_json()["queues"]["mobile"]["surveyed"] == len(mobile)

    # FCR and repeat rate, recomputed: the next contact of the same owner within the window.
    owners: dict[str, list[CallRecord]] = {}
    for r in rows:
        owners.setdefault(r.customer_id or r.caller_number, []).append(r)
    contacts = repeated = answered_n = answered_rep = 0
    for calls in owners.values():
        calls.sort(key=lambda r: r.started_at)
        for i, r in enumerate(calls):
            if start <= r.started_at < end:
                nxt = calls[i + 1].started_at if i + 1 < len(calls) else None
                rep = nxt is not None and nxt - r.started_at <= timedelta(days=2)
                contacts, repeated = contacts + 1, repeated + rep
                answered_n += r.answered_at is not None
                answered_rep += rep and r.answered_at is not None
    assert (t["contacts"], t["repeated"]) == (contacts, repeated)
    assert t["fcr"] == pytest.approx(1 - answered_rep / answered_n)
    assert t["repeat_rate"] == pytest.approx(repeated / contacts)
    assert sum(d["surveyed"] for d in report.to_json()["days"].values()) == t["surveyed"]

    # The exports: the same rows, the same numbers.
    text = kpi_csv(report).decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["scope", "key", *COLUMNS]
    total_row = dict(zip(table[0], table[1], strict=True))
    assert int(total_row["surveyed"]) == t["surveyed"] and float(total_row["csat"]) == pytest.approx(
        t["csat"], abs=1e-4
    )
    assert float(total_row["fcr"]) == pytest.approx(t["fcr"], abs=1e-4)
    wb = openpyxl.load_workbook(io.BytesIO(kpi_xlsx(report)))
    sheet = list(wb["kpis"].iter_rows(values_only=True))
    assert list(sheet[0]) == ["scope", "key", *COLUMNS]
    xrow = dict(zip(sheet[0], sheet[1], strict=True))
    assert xrow["surveyed"] == t["surveyed"] and xrow["csat"] == pytest.approx(t["csat"])
    assert xrow["repeat_rate"] == pytest.approx(t["repeat_rate"])
    assert len(sheet) == len(table[: table.index([])])  # one row per scope and key in both
    assert "definitions" in wb.sheetnames


async def test_no_answer_is_surveyed_never_a_score(sessions: async_sessionmaker[AsyncSession]) -> None:
    r1 = call(1, T0, customer="KH1", number="0911111111")
    r2 = call(2, T0, customer="KH2", number="0922222222")
    async with unit_of_work(sessions) as s:
        s.add_all([r1, r2])
    await survey(sessions, r1, T0 + timedelta(minutes=3), answers(None, None))  # hung up
    await survey(sessions, r2, T0 + timedelta(minutes=3), answers(4, None))
    t = (await kpi_report(sessions, DAY, DAY + timedelta(days=1), now=LATER)).to_json()["total"]
    assert (t["surveyed"], t["responded"], t["csat_answers"], t["csat"]) == (2, 1, 1, 4.0)
    assert t["response_rate"] == 0.5 and t["csat_top2"] == 1.0 and t["said_solved"] is None


async def test_pop_note_across_two_numbers_of_one_owner(sessions: async_sessionmaker[AsyncSession]) -> None:
    now = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    rows = [
        call(1, now - timedelta(days=6), customer="KH7", number="0912345678", queue="internet"),
        call(2, now - timedelta(days=3, hours=1), customer="KH7", number="0281234567", queue="internet"),
        call(3, now - timedelta(days=8), customer="KH7", number="0912345678", queue="tv"),
    ]  # fmt: skip
    async with unit_of_work(sessions) as s:
        s.add_all(rows)
    await survey(sessions, rows[1], rows[1].started_at + timedelta(minutes=4), answers(2, 2))
    ringing = {"call_id": "tdtest-now", "customer_id": "KH7", "caller_number": "0912345678"}
    note = await repeat_note(sessions, ringing, window=WEEK, now=now)
    # The 3rd contact in 7 days (the one 8 days ago is outside); the last was on 28/11 (Việt Nam),
    # from the other number, and its caller said it was not solved.
    assert note == {
        "ordinal": 3,
        "window_days": 7.0,
        "last_day": "2026-11-28",
        "last_topic": "Menu > internet",
        "last_outcome": "unresolved",
    }
    stranger = {"call_id": "x", "customer_id": "", "caller_number": "0999000111"}
    assert await repeat_note(sessions, stranger, window=WEEK, now=now) is None  # a first contact
    by_number = {"call_id": "y", "customer_id": "", "caller_number": "0281234567"}
    one = await repeat_note(sessions, by_number, window=WEEK, now=now)
    assert one is not None and one["ordinal"] == 2  # unidentified: the number's own contacts


async def test_repeat_today_at_the_window_boundary(sessions: async_sessionmaker[AsyncSession]) -> None:
    day_start = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 1 Dec 00:00 in Việt Nam
    at = day_start + timedelta(hours=3)
    rows = [
        call(1, at - WEEK, customer="KH1", number="0911"),
        call(2, at, customer="KH1", number="0912"),  # exactly 7 d
        call(3, at - WEEK - timedelta(seconds=1), customer="KH2", number="0921"),
        call(4, at, customer="KH2", number="0921"),  # 7 d + 1 s
    ]  # fmt: skip
    async with unit_of_work(sessions) as s:
        s.add_all(rows)
    back = await returning_contacts(sessions, day_start, day_start + timedelta(days=1), window=WEEK)
    assert (back.contacts, back.returning) == (2, 1)

    pushed: list[int] = []
    board = KpiBoard(
        sessions,
        window=WEEK,
        changed=lambda: pushed.append(1),
        now=(at + timedelta(hours=1)).timestamp,
    )
    await survey(sessions, rows[1], at + timedelta(minutes=5), answers(5, 1))
    k = await board.refresh()
    assert k["day"] == "2026-12-01" and k["fcr_day"] == "2026-11-24"
    assert (k["total"]["surveyed"], k["total"]["csat"], k["total"]["repeat_today"]) == (1, 5.0, 1)
    assert k["total"]["repeat_today_rate"] == 0.5 and k["queues"][0]["name"] == "mobile"
    # The contacts of 24/11 (Việt Nam), whose windows closed by now: 1 came back exactly 7 days later
    # (a repeat), 3 seven days and a second later (resolved at first contact).
    assert (k["fcr_contacts"], k["fcr_pending"], k["fcr"]) == (2, 0, 0.5)
