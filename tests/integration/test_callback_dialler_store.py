"""The automatic callback dialler on SQLite and PostgreSQL: the queue is stored with the request; the
dialler claims before it dials (an agent's claim wins), works VIP first, records outcomes with the
store's retry rules, never dials when closed, and frees claims a crashed run left behind. The telephony
edge is a scripted Dialer (the real one runs against Asterisk in tests/asterisk)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import create_engine, session_factory
from core.models import AuditEntry
from ivr.callback_config import CallbackDiallerConfig
from ivr.callback_dialler import CallbackDialler, DialJob, DialNotPlaced, DialResult, ReadyAgent
from ivr.callbacks import CallbackStore
from tongdai.schema import upgrade_to_head

Env = tuple[CallbackStore, list[datetime], async_sessionmaker[AsyncSession]]
OPEN = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # Tuesday 10:00 in Hà Nội


class ScriptedDialer:
    """Answers each dial with the next scripted outcome; records what it was asked to dial."""

    def __init__(self, *outcomes: str | Exception) -> None:
        self.outcomes = list(outcomes)
        self.jobs: list[DialJob] = []
        self.done = asyncio.Event()

    async def dial(self, job: DialJob) -> DialResult:
        self.jobs.append(job)
        out = self.outcomes.pop(0)
        if not self.outcomes:
            self.done.set()
        if isinstance(out, Exception):
            raise out
        return DialResult(out)


@pytest.fixture
async def env(db_url: str) -> AsyncIterator[Env]:
    engine = create_engine(db_url)
    await upgrade_to_head(engine)
    now = [OPEN]
    sessions = session_factory(engine)
    store = CallbackStore(sessions, max_attempts=3, retry_delay=timedelta(minutes=10), clock=lambda: now[0])
    yield store, now, sessions
    await engine.dispose()


def dialler(
    store: CallbackStore, dialer: ScriptedDialer, now: list[datetime], ready: list[ReadyAgent]
) -> tuple[CallbackDialler, list[tuple[str, str, str]]]:
    audit: list[tuple[str, str, str]] = []

    async def record(actor: str, action: str, _type: str, subject: str) -> None:
        audit.append((actor, action, subject))

    async def agents() -> list[ReadyAgent]:
        return ready

    d = CallbackDialler(
        store,
        CallbackDiallerConfig(enabled=True),
        dialer,
        agents,
        queues=["tv", "care"],
        default_queue="care",
        audit=record,
        clock=lambda: now[0],
    )
    return d, audit


async def settle(d: CallbackDialler) -> None:
    await d.wait_idle()
    assert not any(d.in_flight.values())


async def test_the_queue_is_stored_with_the_request(env: Env) -> None:
    store, _, _ = env
    rid = await store.record("0912345678", "KH0000000001", "c1", acd_tier="vip", priority=300, queue="tv")
    old = await store.record("0911111111", None, "c2")
    assert (await store.get(rid)).queue == "tv"
    assert (await store.get(old)).queue is None
    assert (await store.get(rid)).to_json()["queue"] == "tv"


async def test_vip_first_then_outcomes_follow_the_retry_rules(env: Env) -> None:
    store, now, _ = env
    std = await store.record("0333333333", None, "c1", acd_tier="standard", priority=10, queue="tv")
    now[0] += timedelta(seconds=1)
    vip = await store.record("0912345678", "KH0000000001", "c2", acd_tier="vip", priority=300, queue="tv")
    dialer = ScriptedDialer("reached", "no_answer")
    d, audit = dialler(store, dialer, now, [ReadyAgent("1004", frozenset({"tv"}))])
    assert await d.tick() == [vip]  # one free agent: one dial, the VIP's
    assert (await store.get(vip)).status in ("claimed", "done")
    await settle(d)
    assert await d.tick() == [std]
    await dialer.done.wait()
    await settle(d)
    assert [(j.request_id, j.queue, j.priority, j.customer_id) for j in dialer.jobs] == [
        (vip, "tv", 300, "KH0000000001"),
        (std, "tv", 10, None),
    ]
    v, s = await store.get(vip), await store.get(std)
    assert (v.status, v.outcome, v.attempts) == ("done", "reached", 1)
    assert (s.status, s.outcome, s.attempts, s.claimed_by) == ("pending", "no_answer", 1, None)
    assert s.not_before is not None and s.not_before > now[0]
    assert await d.tick() == []  # the retry waits its pause
    assert ("dialler", "callback.complete.reached", str(vip)) in audit
    assert ("dialler", "callback.complete.no_answer", str(std)) in audit


async def test_an_agents_claim_wins_and_closed_hours_dial_nobody(env: Env) -> None:
    store, now, _ = env
    rid = await store.record("0912345678", None, "c1", priority=300, queue="tv")
    dialer = ScriptedDialer("reached")
    d, _ = dialler(store, dialer, now, [ReadyAgent("1004", frozenset({"tv"}))])
    now[0] = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)  # Sunday
    assert await d.tick() == []
    now[0] = OPEN
    await store.claim(rid, "1001")  # an agent took it from the worklist by hand
    assert await d.tick() == [] and dialer.jobs == []
    assert (await store.get(rid)).claimed_by == "1001"


async def test_a_call_not_placed_gives_the_request_back_untouched(env: Env) -> None:
    store, now, _ = env
    rid = await store.record("0912345678", None, "c1", priority=300)  # no queue: default 'care'
    dialer = ScriptedDialer(DialNotPlaced("AMI is not connected"))
    d, audit = dialler(store, dialer, now, [ReadyAgent("1003", frozenset({"care"}))])
    assert await d.tick() == [rid]
    await dialer.done.wait()
    await settle(d)
    v = await store.get(rid)
    assert (v.status, v.attempts, v.claimed_by) == ("pending", 0, None)
    assert dialer.jobs[0].queue == "care"
    assert ("dialler", "callback.dial_not_placed", str(rid)) in audit


async def test_claims_left_by_a_crashed_run_are_released_at_start(env: Env) -> None:
    store, now, sessions = env
    rid = await store.record("0912345678", None, "c1", priority=300, queue="tv")
    mine = await store.record("0987654321", None, "c2", priority=10, queue="tv")
    await store.claim(rid, "dialler")
    await store.claim(mine, "1001")
    d, _ = dialler(store, ScriptedDialer(), now, [])
    await d.start()
    await d.stop()
    assert (await store.get(rid)).status == "pending"
    assert (await store.get(mine)).claimed_by == "1001"
    async with sessions() as s:
        assert list(await s.scalars(select(AuditEntry))) == []
