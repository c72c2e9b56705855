"""Repeat contacts and FCR per owner on SQLite and PostgreSQL: the window's boundaries, one owner
calling from two numbers, unidentified callers by number, pending windows, topics, and a seeded day
of calls whose report equals a recomputation from the rows."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import create_engine, session_factory, unit_of_work
from core.models import CallRecord
from reports.repeat_contacts import contact_history, repeat_contacts
from reports.service_level import BadPeriod
from tongdai.schema import upgrade_to_head
from webchat.models import ChatTranscript

DAY = date(2026, 11, 23)
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 09:00 in Việt Nam
WEEK = timedelta(days=7)
LATER = T0 + timedelta(days=30)  # every window closed


def call(
    n: int,
    at: datetime,
    *,
    customer: str | None = "KH0000000001",
    number: str = "0912345678",
    queue: str = "mobile",
    answered: bool = True,
    agent: str = "1001",
    tier: str = "gold",
) -> CallRecord:
    return CallRecord(
        call_id=f"tdtest-{n}",
        caller_number=number,
        customer_id=customer,
        queue=queue,
        acd_tier=tier,
        agent_id=agent if answered else "",
        started_at=at,
        answered_at=at + timedelta(seconds=20) if answered else None,
        ivr_path_text=f"menu>{queue}",
    )


Loader = Callable[[list[Any]], Awaitable[async_sessionmaker[AsyncSession]]]  # call and chat rows


@pytest.fixture
async def sessions_with(db_url: str) -> AsyncIterator[Loader]:
    """Load call rows into a fresh, migrated database (SQLite and PostgreSQL)."""
    engine = create_engine(db_url)
    await upgrade_to_head(engine)
    sessions = session_factory(engine)

    async def load(rows: list[Any]) -> async_sessionmaker[AsyncSession]:
        async with unit_of_work(sessions) as s:
            s.add_all(rows)
        return sessions

    yield load
    await engine.dispose()


async def test_window_boundaries_and_owners_across_numbers(sessions_with: Loader) -> None:
    rows = [
        call(1, T0),  # repeated by 2: same owner, another of their numbers, exactly 7 days later
        call(2, T0 + WEEK, number="0281234567"),
        call(3, T0 + timedelta(hours=1), customer="KH0000000002", number="0900000002"),  # 7 d + 1 s: not
        call(
            4,
            T0 + timedelta(hours=1) + WEEK + timedelta(seconds=1),
            customer="KH0000000002",
            number="0900000002",
        ),
        call(
            5, T0 + timedelta(hours=2), customer=None, number="0977000111", answered=False
        ),  # unidentified …
        call(6, T0 + timedelta(hours=5), customer=None, number="0977000111"),  # … same phone: a repeat
        call(7, T0 + timedelta(hours=3), customer=None, number=""),  # anonymous: not a contact
    ]
    sessions = await sessions_with(rows)
    report = await repeat_contacts(sessions, DAY, DAY + timedelta(days=1), window=WEEK, now=LATER)
    t = report.total
    assert (t.contacts, t.answered, t.pending) == (4, 3, 0)  # 1, 3, 5, 6 on the day (7 is anonymous)
    assert t.repeated == 2  # 1 (by 2) and 5 (by 6)
    assert t.answered_repeated == 1 and t.fcr == pytest.approx(1 - 1 / 3)
    assert t.repeat_rate == pytest.approx(2 / 4)
    assert report.days[DAY].contacts == 4 and report.agents["1001"].contacts == 3


async def test_open_windows_are_pending_not_resolved(sessions_with: Loader) -> None:
    sessions = await sessions_with([call(1, T0), call(2, T0 + timedelta(days=2), customer="KH9")])
    report = await repeat_contacts(
        sessions, DAY, DAY + timedelta(days=1), window=WEEK, now=T0 + timedelta(days=3)
    )
    assert (report.total.contacts, report.total.pending, report.total.fcr) == (1, 1, None)
    closed = await repeat_contacts(sessions, DAY, DAY + timedelta(days=1), window=WEEK, now=T0 + WEEK)
    assert (closed.total.pending, closed.total.fcr) == (0, 1.0)


async def test_topic_limits_repeats_to_the_same_subject(sessions_with: Loader) -> None:
    rows = [call(1, T0, queue="internet"), call(2, T0 + timedelta(days=1), queue="billing"),
            call(3, T0 + timedelta(days=2), queue="internet")]  # fmt: skip
    sessions = await sessions_with(rows)
    any_topic = await repeat_contacts(sessions, DAY, DAY + timedelta(days=1), now=LATER)
    by_queue = await repeat_contacts(sessions, DAY, DAY + timedelta(days=1), topic="queue", now=LATER)
    assert any_topic.total.repeated == 1 and by_queue.total.repeated == 1
    assert by_queue.topics["internet"].repeated == 1
    week = await repeat_contacts(sessions, DAY, DAY + timedelta(days=3), topic="queue", now=LATER)
    assert week.topics["billing"].repeated == 0 and week.topics["internet"].repeated == 1
    whole = await repeat_contacts(sessions, DAY, DAY + timedelta(days=3), now=LATER)
    assert whole.total.repeated == 2  # 1 by 2, 2 by 3, any topic
    with pytest.raises(BadPeriod):
        await repeat_contacts(sessions, DAY, DAY, now=LATER)


def chat(
    n: int,
    at: datetime,
    *,
    customer: str | None,
    phone: str | None,
    queue: str = "mobile",
    answered: bool = True,
) -> ChatTranscript:
    return ChatTranscript(
        chat_id=f"chat-{n}",
        channel="web",
        customer_id=customer,
        phone=phone,
        verified=customer is not None,
        queue=queue,
        acd_tier="gold",
        agent_id="1001" if answered else None,
        started_at=at,
        answered_at=at + timedelta(seconds=30) if answered else None,
        ended_at=at + timedelta(minutes=5),
        disposition="resolved" if answered else None,
        transcript="[]",
    )


async def test_a_call_then_a_chat_of_the_same_owner_is_a_repeat(sessions_with: Loader) -> None:
    rows = [
        call(1, T0, customer="KH0000000005"),  # repeated by the customer's chat two days later
        chat(1, T0 + timedelta(days=2), customer="KH0000000005", phone=None),
        call(2, T0 + timedelta(hours=1), customer=None, number="0912000111"),  # unidentified caller …
        chat(2, T0 + timedelta(days=1), customer=None, phone="+84912000111"),  # … chats from that phone
        call(3, T0 + timedelta(hours=2), customer="KH0000000006"),  # a chat of another owner: no repeat
        chat(3, T0 + timedelta(days=1), customer="KH0000000007", phone="+84900000007"),
        chat(4, T0 + timedelta(hours=3), customer="KH0000000008", phone=None, answered=False),  # gave up …
        call(4, T0 + timedelta(hours=4), customer="KH0000000008"),  # … and called: the chat is repeated
    ]
    sessions = await sessions_with(rows)
    report = await repeat_contacts(sessions, DAY, DAY + timedelta(days=1), window=WEEK, now=LATER)
    t = report.total
    assert (t.contacts, t.answered) == (5, 4)  # calls 1–4 and chat 4 started on the day
    assert t.repeated == 3 and t.answered_repeated == 2  # call 1, call 2 and chat 4
    assert t.fcr == pytest.approx(1 - 2 / 4)
    # The pop of a call after a chat counts the chat and names its queue.
    history = await contact_history(
        sessions, customer_id="KH0000000005", numbers=[], now=T0 + timedelta(days=3), window=WEEK
    )
    assert history.count == 3 and history.last_queue == "mobile" and history.last_call_id == "chat-1"
    by_phone = await contact_history(
        sessions, customer_id=None, numbers=["0912000111"], now=T0 + timedelta(days=2), window=WEEK
    )
    assert by_phone.count == 3 and by_phone.last_call_id == "chat-2"


def recompute(
    rows: list[CallRecord], start: datetime, end: datetime, window: timedelta
) -> tuple[int, int, int, int]:
    owners: dict[str, list[CallRecord]] = {}
    for r in rows:
        key = r.customer_id or r.caller_number
        if key:
            owners.setdefault(key, []).append(r)
    contacts = answered = repeated = answered_repeated = 0
    for calls in owners.values():
        calls.sort(key=lambda r: r.started_at)
        for i, r in enumerate(calls):
            if not start <= r.started_at < end:
                continue
            contacts += 1
            answered += r.answered_at is not None
            nxt = calls[i + 1].started_at if i + 1 < len(calls) else None
            rep = nxt is not None and nxt - r.started_at <= window
            repeated += rep
            answered_repeated += rep and r.answered_at is not None
    return contacts, answered, repeated, answered_repeated


async def test_seeded_traffic_equals_a_recomputation_from_the_rows(sessions_with: Loader) -> None:
    rng = random.Random(7)
    rows = []
    for n in range(600):
        owner = rng.randrange(120)
        at = T0 + timedelta(seconds=rng.randrange(0, 10 * 86400))
        rows.append(
            call(
                n,
                at,
                customer=f"KH{owner:010d}" if owner % 5 else None,
                number=f"09{owner:08d}",
                answered=rng.random() < 0.8,
                queue=rng.choice(["mobile", "internet"]),
            )
        )
    sessions = await sessions_with(rows)
    since, until = DAY, DAY + timedelta(days=3)
    report = await repeat_contacts(sessions, since, until, window=timedelta(days=2), now=LATER)
    start, end = T0 - timedelta(hours=9), T0 - timedelta(hours=9) + timedelta(days=3)
    want = recompute(rows, start, end, timedelta(days=2))
    t = report.total
    assert (t.contacts, t.answered, t.repeated, t.answered_repeated) == want
    assert sum(d.contacts for d in report.days.values()) == t.contacts


async def test_history_for_the_pop(sessions_with: Loader) -> None:
    rows = [
        call(1, T0 - timedelta(days=5), queue="internet"),
        call(2, T0 - timedelta(days=1), number="0281234567"),
        call(3, T0 - timedelta(days=9)),
    ]
    sessions = await sessions_with(rows)
    h = await contact_history(sessions, customer_id="KH0000000001", numbers=[], now=T0)
    assert h.count == 3 and h.last_at == T0 - timedelta(days=1) and h.last_queue == "mobile"
    first = await contact_history(sessions, customer_id=None, numbers=["0999999999"], now=T0)
    assert (first.count, first.last_at) == (1, None)
