"""Drill: ``kill -9`` the bridge with five callers queued and two talking, start it again after a
pause. Calls that ended meanwhile are each recorded once with every CDR Asterisk wrote, and the
wallboard's waiting count recovers to what Asterisk has in its queues."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from tests.asterisk.conftest import AsteriskSandbox, eventually
from tests.drills.conftest import (
    CallWatch,
    NewBridge,
    assert_nothing_lost_or_doubled,
    call_rows,
)

pytestmark = [pytest.mark.drills, pytest.mark.asterisk, pytest.mark.postgres]

# Reduced for CI; the drill is DRILL_DOWN_SECONDS=10.
DOWN = float(os.environ.get("DRILL_DOWN_SECONDS", "6"))


def waiting(board: dict[str, Any]) -> int:
    return sum(int(q["waiting"]) for q in board["queues"] if q["name"] in ("mobile", "internet"))


async def test_kill_9_with_calls_queued_and_talking(
    asterisk_sandbox: AsteriskSandbox,
    watch: CallWatch,
    drill_db: str,
    new_bridge: NewBridge,
) -> None:
    bridge = new_bridge(drill_db)
    bridge.start()
    await bridge.wait_ready()

    # Callers stay until the drill hangs them up, so what happens during the outage is chosen, not timed.
    stay = 300
    talking = [await watch.place("0912345678", "1", stay), await watch.place("0987654321", "2", stay)]
    await eventually(lambda: watch.answered >= set(talking), timeout=40)
    # Five queued behind them (each queue has one agent).
    q1 = await watch.place("0333333333", "1", stay)
    q2 = await watch.place("0912000001", "1", stay)
    q3 = await watch.place("0912000002", "1", stay)
    q4 = await watch.place("0912000003", "2", stay)
    q5 = await watch.place("0912000004", "2", stay)

    async def five_waiting() -> bool:
        _, board = await bridge.get("/api/wallboard")
        return waiting(board) == 5

    await eventually(five_waiting, timeout=40, interval=0.3)
    assert await watch.queued_in_asterisk() == 5

    bridge.kill()
    down_since = asyncio.get_running_loop().time()
    # While it is dead: two queued callers give up, then both talking calls end and the next
    # caller of each queue is answered (which one of mobile's two is Asterisk's choice: Originate
    # is asynchronous, so their order in the queue is not the order they were placed in).
    for cid in (q2, q5):
        await watch.hang_up(cid)
    await eventually(lambda: watch.hung_up >= {q2, q5}, timeout=20)
    for cid in talking:
        await watch.hang_up(cid)
    await eventually(lambda: watch.hung_up >= set(talking), timeout=20)
    await eventually(lambda: q4 in watch.answered and len(watch.answered & {q1, q3}) == 1, timeout=30)
    gone = [*talking, q2, q5]
    await asyncio.sleep(max(0.0, DOWN - (asyncio.get_running_loop().time() - down_since)))
    ended_meanwhile = set(watch.hung_up)
    bridge.start()
    await bridge.wait_ready(idle_agents=False)

    # The wallboard counts the callers still waiting (q3), as Asterisk has them.
    async def board_agrees() -> bool:
        expected = await watch.queued_in_asterisk()
        _, board = await bridge.get("/api/wallboard")
        return expected == 1 and waiting(board) == expected

    await eventually(board_agrees, timeout=20, interval=0.5)

    for cid in (q1, q4, q3):
        await watch.hang_up(cid)
    await eventually(watch.all_ended, timeout=30, interval=0.3)
    await assert_nothing_lost_or_doubled(drill_db, asterisk_sandbox.settings.cdr.csv_path, watch)
    _, board = await bridge.get("/api/wallboard")
    assert waiting(board) == 0
    # What the CDRs still tell of the calls the bridge never saw end: who answered, who gave up.
    rows = await call_rows(drill_db, set(gone))
    assert all(rows[c].recovered for c in gone)
    assert [(rows[c].disposition, rows[c].agent_id, rows[c].queue) for c in talking] == [
        ("answered", "1001", "mobile"),
        ("answered", "1002", "internet"),
    ]
    assert [(rows[c].disposition, rows[c].queue) for c in (q2, q5)] == [
        ("abandoned", "mobile"),
        ("abandoned", "internet"),
    ]
    print(f"\nkill -9 drill: down {DOWN:.0f} s, {len(ended_meanwhile)} calls ended meanwhile, all recorded")
