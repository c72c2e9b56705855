"""Wait aging applied to Asterisk: raise each waiting caller's app_queue priority on the policy's schedule.

One small task per waiting caller (started on ``QueueCallerJoin``, cancelled on ``QueueCallerLeave``/
``QueueCallerAbandon``/``Hangup``) sleeps until the moment :meth:`RoutingPolicy.seconds_until_change`
says the caller's integer priority rises — never sooner than ``refresh_seconds`` after its previous
push — and sends ``QueueChangePriorityCaller`` with ``Immediate: yes`` so app_queue moves the caller
to its new place at once. Nothing polls QueueStatus.

:func:`next_push` is the pure timing rule; :class:`QueueAger` runs it with an injectable clock and
sleep, so tests drive it with a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from acd.policy import AcdPolicy

log = logging.getLogger(__name__)

# seconds_until_change lands exactly on the boundary; a hair past it, floor() is safely on the new step.
_EPS = 1e-6


class _AgingPolicy(AcdPolicy, Protocol):
    def seconds_until_change(self, tier: str, waited_seconds: float) -> float | None: ...


def next_push(
    policy: _AgingPolicy,
    tier: str,
    waited: float,
    last_push_waited: float | None,
    min_interval: float,
) -> tuple[float, int] | None:
    """When to push next and what: ``(wait at which to push, priority at that wait)``, or None when the
    caller's priority will never rise again. Pushes are at least ``min_interval`` apart."""
    delay = policy.seconds_until_change(tier, waited)
    if delay is None:
        return None
    at = waited + delay + _EPS
    if last_push_waited is not None:
        at = max(at, last_push_waited + min_interval)
    return at, policy.effective_priority(tier, at)


class ActionFn(Protocol):
    def __call__(
        self, name: str, fields: dict[str, str], *, multi: bool, timeout: float, check: bool = True
    ) -> Awaitable[Any]: ...


class QueueAger:
    """Applies the aging policy to callers waiting in app_queue (see the module docstring)."""

    def __init__(
        self,
        policy: AcdPolicy,
        *,
        refresh_seconds: float,
        action_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._policy = policy
        self._refresh = refresh_seconds
        self._timeout = action_timeout
        self._clock = clock
        self._sleep = sleep
        self._action: ActionFn | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.pushes = 0  # QueueChangePriorityCaller actions that succeeded (metrics, tests)
        self.failures = 0

    @property
    def enabled(self) -> bool:
        return hasattr(self._policy, "seconds_until_change")

    def bind(self, action: ActionFn | None) -> None:
        self._action = action

    @property
    def waiting(self) -> set[str]:
        """Caller channels with a live aging schedule."""
        return {c for c, t in self._tasks.items() if not t.done()}

    def caller_joined(self, queue: str, channel: str, tier: str, *, waited: float = 0.0) -> None:
        """Start aging ``channel`` (the caller's channel in ``queue``) who has waited ``waited`` s."""
        if not self.enabled or not channel or not queue:
            return
        self.caller_left(channel)
        joined = self._clock() - max(0.0, waited)
        task = asyncio.get_running_loop().create_task(
            self._run(queue, channel, tier, joined), name=f"acd-aging:{channel}"
        )
        self._tasks[channel] = task
        task.add_done_callback(functools.partial(self._forget, channel))

    def caller_left(self, channel: str) -> None:
        task = self._tasks.pop(channel, None)
        if task is not None:
            task.cancel()

    def _forget(self, channel: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(channel) is task:
            del self._tasks[channel]

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    async def _run(self, queue: str, channel: str, tier: str, joined: float) -> None:
        policy: _AgingPolicy = self._policy  # type: ignore[assignment]  # checked by `enabled`
        current = policy.initial_priority(tier)
        last: float | None = None
        while True:
            plan = next_push(policy, tier, self._clock() - joined, last, self._refresh)
            if plan is None:
                return
            at, _ = plan
            await self._sleep(max(0.0, joined + at - self._clock()))
            waited = max(at, self._clock() - joined)
            prio = policy.effective_priority(tier, waited)
            last = waited
            if prio <= current:
                continue
            action = self._action
            if action is None:
                continue  # AMI down: the next push (after reconnect) carries the aged priority
            try:
                await action(
                    "QueueChangePriorityCaller",
                    {"Queue": queue, "Caller": channel, "Priority": str(prio), "Immediate": "yes"},
                    multi=False,
                    timeout=self._timeout,
                )
            except asyncio.CancelledError:
                raise
            except Exception as err:
                # Most often the caller left between our wake-up and the action; the Leave event
                # cancels us anyway. Keep trying on the next step otherwise.
                self.failures += 1
                log.info("aging %s in %s to %d failed: %s", channel, queue, prio, err)
                continue
            self.pushes += 1
            current = prio
            log.debug(
                "aged %s in %s: tier %s, waited %.1f s, priority %d", channel, queue, tier, waited, prio
            )
