"""Wait aging applied to app_queue: when QueueAger pushes QueueChangePriorityCaller, and with what.

The ager runs on a fake clock whose sleep advances time, so a caller's whole wait plays out at once
and every push is recorded with the wait at which it was sent.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from acd.aging import QueueAger, next_push
from acd.policy import DEFAULT_TIERS, RoutingPolicy, StrictPriority, TierTarget
from core.errors import AmiActionFailed

# A standard caller (60 s target, 16 points per target) gains a point every 3.75 s; this one saturates
# at 14, so its schedule ends by itself after four steps.
SMALL = RoutingPolicy([TierTarget("standard", 10, 60.0, 0.8)], aging_weight=16, max_priority=14)
JOINED = 1000.0


class FakeTime:
    def __init__(self) -> None:
        self.now = JOINED

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


class Ami:
    """Records the actions the ager sends; can fail some, or run a hook after each."""

    def __init__(self, time: FakeTime, fail_first: int = 0) -> None:
        self.time = time
        self.sent: list[tuple[float, dict[str, str]]] = []
        self.fail_first = fail_first
        self.after: Any = None

    async def __call__(
        self, name: str, fields: dict[str, str], *, multi: bool, timeout: float, check: bool = True
    ) -> None:
        assert name == "QueueChangePriorityCaller" and not multi
        if self.fail_first:
            self.fail_first -= 1
            raise AmiActionFailed("AMI QueueChangePriorityCaller failed: Caller not found")
        self.sent.append((round(self.time.now - JOINED, 3), dict(fields)))
        if self.after is not None:
            self.after()

    def pushes(self) -> list[tuple[float, int]]:
        return [(at, int(f["Priority"])) for at, f in self.sent]


def plan(*args: Any) -> tuple[float, int]:
    got = next_push(*args)
    assert got is not None
    return got


def ager_for(policy: Any, refresh: float = 5.0) -> tuple[QueueAger, FakeTime, Ami]:
    t = FakeTime()
    ager = QueueAger(policy, refresh_seconds=refresh, clock=t.clock, sleep=t.sleep)
    ami = Ami(t)
    ager.bind(ami)
    return ager, t, ami


async def run_out(ager: QueueAger) -> None:
    """Let every aging schedule run to its end (they end at saturation or when cancelled)."""
    for _ in range(1000):
        if not ager.waiting:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"aging still running for {ager.waiting}")


# --- next_push: the pure timing rule -----------------------------------------------------------------


def test_first_push_is_when_the_priority_first_rises() -> None:
    p = RoutingPolicy(DEFAULT_TIERS)
    at, prio = plan(p, "standard", 0.0, None, 5.0)
    assert at == pytest.approx(3.75, abs=1e-5) and at > 3.75  # just past the step, so floor() is on it
    assert prio == 11 == p.effective_priority("standard", at)
    at, prio = plan(p, "vip", 0.0, None, 5.0)
    assert at == pytest.approx(15 / 16, abs=1e-5) and prio == 301


def test_pushes_are_at_least_the_refresh_interval_apart() -> None:
    p = RoutingPolicy(DEFAULT_TIERS)
    # A VIP gains a point every 0.94 s; after a push at 10 s the next may go only at 15 s, and it
    # carries every point gained meanwhile.
    at, prio = plan(p, "vip", 10.0, 10.0, 5.0)
    assert at == 15.0 and prio == p.effective_priority("vip", 15.0) == 316
    # When the next step is further away than the interval, the step decides.
    at, prio = plan(p, "standard", 4.0, 4.0, 1.0)
    assert at == pytest.approx(7.5, abs=1e-5) and prio == 12


def test_a_caller_picked_up_mid_wait_continues_from_its_wait() -> None:
    p = RoutingPolicy(DEFAULT_TIERS)
    assert p.effective_priority("standard", 100.0) == 36
    at, prio = plan(p, "standard", 100.0, None, 5.0)
    assert at == pytest.approx(101.25, abs=1e-5) and prio == 37


def test_no_push_once_saturated_or_without_aging() -> None:
    p = RoutingPolicy(DEFAULT_TIERS)
    assert next_push(p, "vip", 1e6, None, 5.0) is None
    assert next_push(RoutingPolicy(DEFAULT_TIERS, aging_weight=0), "gold", 0.0, None, 5.0) is None


# --- QueueAger: the schedule run against AMI ------------------------------------------------------


async def test_ager_pushes_each_rise_rate_limited_until_saturation() -> None:
    ager, _, ami = ager_for(SMALL, refresh=5.0)
    ager.caller_joined("tv", "Local/18001090@tongdai-hotline-00000001;2", "standard")
    assert ager.waiting == {"Local/18001090@tongdai-hotline-00000001;2"}
    await run_out(ager)
    # Steps are due at 3.75, 7.5, 11.25 and 15 s; 5 s apart at least, each carrying the wait's priority.
    assert ami.pushes() == [(3.75, 11), (8.75, 12), (13.75, 13), (18.75, 14)]
    assert ami.sent[0][1] == {
        "Queue": "tv",
        "Caller": "Local/18001090@tongdai-hotline-00000001;2",
        "Priority": "11",
        "Immediate": "yes",  # else app_queue keeps the caller's place until it moves by itself
    }
    assert (ager.pushes, ager.failures) == (4, 0)


async def test_ager_picks_up_a_caller_who_has_already_waited() -> None:
    ager, _, ami = ager_for(SMALL, refresh=1.0)
    ager.caller_joined("tv", "c1", "standard", waited=8.0)  # priority 12 by now; next step at 11.25
    await run_out(ager)
    assert ami.pushes() == [(11.25 - 8.0, 13), (15.0 - 8.0, 14)]


async def test_caller_leaving_stops_the_schedule() -> None:
    ager, _, ami = ager_for(SMALL, refresh=1.0)
    ami.after = lambda: ager.caller_left("c1") if len(ami.sent) == 2 else None
    ager.caller_joined("tv", "c1", "standard")
    await run_out(ager)
    assert [p for _, p in ami.pushes()] == [11, 12]
    assert ager.waiting == set()


async def test_joining_again_restarts_the_schedule() -> None:
    """A caller moved to another queue (blind transfer) starts again there at its entry priority."""
    ager, _, ami = ager_for(SMALL, refresh=1.0)
    ager.caller_joined("tv", "c1", "standard")
    ager.caller_joined("care", "c1", "standard")
    await run_out(ager)
    assert {f["Queue"] for _, f in ami.sent} == {"care"}
    assert [p for _, p in ami.pushes()] == [11, 12, 13, 14]


async def test_failed_pushes_are_counted_and_the_next_step_is_tried() -> None:
    ager, _, ami = ager_for(SMALL, refresh=1.0)
    ami.fail_first = 2
    ager.caller_joined("tv", "c1", "standard")
    await run_out(ager)
    assert ami.pushes() == [(11.25, 13), (15.0, 14)]
    assert (ager.pushes, ager.failures) == (2, 2)


async def test_without_ami_nothing_is_sent_and_the_next_push_catches_up() -> None:
    t = FakeTime()
    ami = Ami(t)

    async def sleep(seconds: float) -> None:
        await t.sleep(seconds)
        if t.now - JOINED > 8.0:  # the AMI link comes back between the 2nd and the 3rd step
            ager.bind(ami)

    ager = QueueAger(SMALL, refresh_seconds=1.0, clock=t.clock, sleep=sleep)
    ager.caller_joined("tv", "c1", "standard")
    await run_out(ager)
    assert ami.pushes() == [(11.25, 13), (15.0, 14)]


async def test_strict_priority_never_ages() -> None:
    ager, _, ami = ager_for(StrictPriority(DEFAULT_TIERS))
    assert not ager.enabled
    ager.caller_joined("tv", "c1", "standard")
    assert ager.waiting == set()
    await asyncio.sleep(0)
    assert ami.sent == []


async def test_close_cancels_every_schedule() -> None:
    # The real clock and sleep: nothing is due for about a second, and close() must not wait for it.
    ager = QueueAger(RoutingPolicy(DEFAULT_TIERS), refresh_seconds=5.0)
    ager.bind(Ami(FakeTime()))
    for ch in ("c1", "c2"):
        ager.caller_joined("tv", ch, "gold")
    assert ager.waiting == {"c1", "c2"}
    await asyncio.wait_for(ager.close(), 1)
    assert ager.waiting == set() and ager.pushes == 0
