"""The callback dialler and the campaign dialler share the node's agent reservations (on SQLite and
PostgreSQL, each with its real store; the telephony edge is a gated Dialer that holds each dial open
until the test lets it finish, so dials overlap as on a live node): with one ready agent, a dial of
either dialler keeps that agent and the other dialler places nothing until it ends; a preview offer
keeps the agent from both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campaigns.calls_ami import CampaignCalls
from campaigns.dialler import ProgressiveDialler
from campaigns.lists import ListEntry
from campaigns.store import CampaignStore, ContactView, NewCampaign
from core.bus import LocalBus
from core.calls import CallTracker
from core.db import create_engine, session_factory
from core.reservations import AgentReservations
from ivr.callback_config import CallbackDiallerConfig
from ivr.callback_dialler import CallbackDialler, DialJob, DialResult, ReadyAgent
from ivr.callbacks import CallbackStore
from tongdai.schema import upgrade_to_head

OPEN = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # Tuesday 10:00 in Hà Nội
AGENT = [ReadyAgent("1001", frozenset({"tv"}))]


class GatedDialer:
    """Each dial waits for the test to let it finish, then answers ``busy``."""

    def __init__(self) -> None:
        self.jobs: list[DialJob] = []
        self.gate = asyncio.Event()
        self.started = asyncio.Event()

    async def dial(self, job: DialJob) -> DialResult:
        self.jobs.append(job)
        self.started.set()
        await self.gate.wait()
        return DialResult("busy")


Env = tuple[async_sessionmaker[AsyncSession], CallbackStore, CampaignStore]


@pytest.fixture
async def env(db_url: str) -> AsyncIterator[Env]:
    engine = create_engine(db_url)
    await upgrade_to_head(engine)
    sessions = session_factory(engine)
    callbacks = CallbackStore(sessions, max_attempts=3, retry_delay=timedelta(minutes=10), clock=lambda: OPEN)
    campaigns = CampaignStore(sessions, clock=lambda: OPEN)
    yield sessions, callbacks, campaigns
    await engine.dispose()


async def ready() -> list[ReadyAgent]:
    return AGENT


async def no_consent(contact: ContactView) -> bool:
    return False


async def diallers(
    env: Env, shared: AgentReservations
) -> tuple[CallbackDialler, GatedDialer, ProgressiveDialler, GatedDialer]:
    _, callbacks, campaigns = env

    async def audit(actor: str, action: str, _type: str, subject: str) -> None:
        return None

    cb_edge, cmp_edge = GatedDialer(), GatedDialer()
    cb = CallbackDialler(
        callbacks, CallbackDiallerConfig(enabled=True), cb_edge, ready, queues=["tv"], default_queue="tv",
        audit=audit, clock=lambda: OPEN, reservations=shared,
    )  # fmt: skip
    cmp = ProgressiveDialler(
        campaigns, cmp_edge, CampaignCalls(CallTracker(LocalBus())), ready, no_consent, poll_seconds=60,
        clock=lambda: OPEN, reservations=shared,
    )  # fmt: skip
    c = await campaigns.create(NewCampaign(name="Chăm sóc", queue="tv", purpose="care"), "9000")
    await campaigns.import_list(
        c.id, [ListEntry(f"+8491234567{n}", 0, "", None, (n + 2,)) for n in range(2)], {}
    )
    await campaigns.control(c.id, "start")
    return cb, cb_edge, cmp, cmp_edge


async def test_a_callback_dial_keeps_the_agent_from_the_campaign_dialler(env: Env) -> None:
    shared = AgentReservations()
    cb, cb_edge, cmp, cmp_edge = await diallers(env, shared)
    await env[1].record("0987654321", None, "c1", queue="tv")
    assert len(await cb.tick()) == 1
    await asyncio.wait_for(cb_edge.started.wait(), 5)
    assert [(h.owner, h.agent_id, h.queue) for h in shared.holds()] == [("callback-dialler", "1001", "tv")]
    assert await cmp.tick() == []  # the only agent is kept for the callback
    assert cmp_edge.jobs == []
    cb_edge.gate.set()
    await cb.wait_idle()
    assert shared.holds() == []
    started = await cmp.tick()  # free again: the campaign's first contact is dialled
    assert len(started) == 1
    await asyncio.wait_for(cmp_edge.started.wait(), 5)
    assert [(h.owner, h.agent_id) for h in shared.holds()] == [("campaign-dialler", "1001")]
    # And the other way round: a callback waiting now finds no free agent.
    await env[1].record("0911111111", None, "c2", queue="tv")
    assert await cb.tick() == []
    cmp_edge.gate.set()
    await cmp.wait_idle()
    assert shared.holds() == []
    await cb.stop()
    await cmp.stop()


async def test_each_dialler_alone_keeps_counting_its_own_dials(env: Env) -> None:
    # Without a shared service each dialler has its own: the agent is counted once per dialler (the
    # double booking the shared one removes).
    cb, cb_edge, cmp, cmp_edge = await diallers(env, AgentReservations())
    cmp.reservations = AgentReservations()
    await env[1].record("0987654321", None, "c1", queue="tv")
    assert len(await cb.tick()) == 1
    assert len(await cmp.tick()) == 1
    assert len(await cmp.tick()) == 0  # its own dial holds the agent for it
    cb_edge.gate.set()
    cmp_edge.gate.set()
    await cb.wait_idle()
    await cmp.wait_idle()
    await cb.stop()
    await cmp.stop()


async def test_a_preview_offer_keeps_the_agent_from_both_diallers(env: Env) -> None:
    shared = AgentReservations()
    cb, _, cmp, _ = await diallers(env, shared)
    token = shared.hold("preview", "1001")
    await env[1].record("0987654321", None, "c1", queue="tv")
    assert await cb.tick() == [] and await cmp.tick() == []
    shared.release(token)
    assert len(await cmp.tick()) == 1
    await cb.stop()
    await cmp.stop()
