"""Recordings and CDRs on the real Asterisk: answered calls are recorded and rated; unanswered calls
leave no recording; CDRs of calls that ended while the bridge was down are recovered, none twice."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import pytest
from sqlalchemy import func, select

from billing.models import CdrRecord, RatedCall
from core.ami import AmiClient
from core.bus import BusEvent
from recordings.models import Recording
from tests.asterisk.conftest import AsteriskSandbox, eventually, place_call
from tongdai.app import Bridge

pytestmark = pytest.mark.asterisk


async def ended_queue(bridge: Bridge) -> asyncio.Queue[BusEvent]:
    q: asyncio.Queue[BusEvent] = asyncio.Queue()

    async def on(e: BusEvent) -> None:
        await q.put(e)

    bridge.bus.subscribe("call.ended", on)
    return q


async def test_answered_call_recorded_and_rated_unanswered_not_recorded(
    bridge: Bridge, ami: AmiClient
) -> None:
    assert bridge.sessions is not None and bridge.recordings is not None
    ended = await ended_queue(bridge)
    # Answered: the caller speaks (a real prompt) once the agent is on the line.
    await place_call(
        ami,
        "0912345678",
        dtmf="1",
        stay=2,
        variables={"TONGDAI_PLAY": "tongdai/vi/welcome", "TONGDAI_PLAY_DELAY": "2"},
    )
    answered = await asyncio.wait_for(ended.get(), 40)
    assert answered.data["disposition"] == "answered"
    # Unanswered: the agent's phone rings for 30 s (inherited variable); the caller gives up first.
    await place_call(ami, "0987654321", dtmf="2", stay=2, variables={"__TONGDAI_SIM_RING": "30"})
    abandoned = await asyncio.wait_for(ended.get(), 40)
    assert abandoned.data["disposition"] == "abandoned"

    async def recorded() -> Recording | None:
        async with bridge.sessions() as s:  # type: ignore[misc]
            return await s.scalar(select(Recording).where(Recording.call_id == answered.call_id))

    rec = await eventually(recorded, timeout=20)
    path = bridge.settings.recordings.dir / rec.path
    assert rec.status == "ok" and path.is_file()
    assert rec.path.endswith(f"-{answered.call_id}.wav")
    assert rec.customer_id == "KH0000000001" and rec.agent_id == "1001" and rec.queue == "mobile"
    # The file's real length and size are what the metadata says, and it holds the caller's speech.
    with wave.open(str(path)) as w:
        seconds = w.getnframes() / w.getframerate()
    assert rec.size_bytes == path.stat().st_size
    assert abs(rec.duration_seconds - seconds) < 0.01
    talk = answered.data["ended_at"] - answered.data["answered_at"]
    assert 1.0 < seconds <= talk + 0.5

    async with bridge.sessions() as s:
        n_abandoned = await s.scalar(
            select(func.count()).select_from(Recording).where(Recording.call_id == abandoned.call_id)
        )
        rated = list(await s.scalars(select(RatedCall).where(RatedCall.call_id == answered.call_id)))
    assert n_abandoned == 0
    # The hotline leg is rated: 1800 is toll-free, charged to the operator, with its block arithmetic.
    assert len(rated) == 1
    line = rated[0]
    assert line.callee == "18001090" and line.charged_party == "operator"
    assert line.billed_seconds >= 6 and "6 s" in line.explanation


async def test_cdrs_of_calls_made_while_bridge_down_are_recovered_once(
    asterisk_sandbox: AsteriskSandbox, ami: AmiClient, tmp_path: Path
) -> None:
    settings = asterisk_sandbox.settings_for(tmp_path)
    csv_path = settings.cdr.csv_path
    csv_path.write_text("")  # as after a log rotation: every row below is from this test's calls
    first = Bridge(settings)
    await first.start()
    assert first.ami is not None
    await first.ami.wait_booted(30)
    await first.agents.ready()  # agents are logged in to their queues; they stay there in Asterisk
    await first.stop()  # the bridge is down; Asterisk keeps taking calls

    before = 0
    for caller in ("0912345678", "0333333333"):
        await place_call(ami, caller, dtmf="1", stay=1)

    def lines() -> int:
        return csv_path.read_text().count("\n") - before if csv_path.exists() else 0

    # Two calls into a one-agent queue: the first is answered (caller, hotline and agent legs), the
    # second gives up while waiting (caller and hotline legs).
    await eventually(lambda: lines() >= 5, timeout=40)
    await asyncio.sleep(0.5)  # let the last CDR line be flushed whole

    second = Bridge(settings)
    await second.start(connect_ami=False)
    assert second.cdrs is not None and second.sessions is not None
    try:
        async with second.sessions() as s:
            stored = await s.scalar(select(func.count()).select_from(CdrRecord))
            keys = await s.execute(
                select(CdrRecord.uniqueid, CdrRecord.sequence, func.count()).group_by(
                    CdrRecord.uniqueid, CdrRecord.sequence
                )
            )
            dupes = [k for k in keys if k[2] > 1]
            sources = set(await s.scalars(select(CdrRecord.source)))
            rated = await s.scalar(select(func.count()).select_from(RatedCall))
        assert stored == lines()
        assert dupes == []
        assert sources == {"csv"}
        assert rated == 2  # each call's hotline leg
        # Reconciling again recovers nothing new.
        assert await second.cdrs.reconcile_csv(csv_path) == 0
    finally:
        await second.stop()
