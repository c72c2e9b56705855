"""Position and expected-wait announcements to callers waiting in app_queue, in their own language.

app_queue's own ``announce-position`` is per queue (it cannot spare VIPs) and speaks Asterisk's
English digit files, so tongdai speaks instead, without taking the caller out of the queue (they keep
their place, their priority and their wait): for each caller due an announcement it originates a short
Local channel that whispers into the caller's channel with ``ChanSpy(<caller channel>,qwES)`` while its
other half plays the sentence (context ``tongdai-announce``). The caller hears it over the music on
hold; an agent who answers meanwhile simply gets the caller (the whisper ends with the spied channel).

Which callers: those the call tracker knows are waiting (first queue entry → now, overflows included),
not of a tier in ``spare_tiers``, first after ``first_after_seconds`` and then every
``interval_seconds``. Position comes from app_queue (``QueueStatus``, asked only when someone is due);
the expected wait from :class:`acd.estimate.WaitEstimator` (position × recent AHT / agents serving
the queue). Words: catalogue prompts ``queue_position`` … and number words from ivr/numbers.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from acd.estimate import AnnouncementsConfig, WaitEstimator, announced_minutes
from core.calls import Call, CallTracker

log = logging.getLogger(__name__)

SOUND_ROOT = "tongdai"  # ivr/prompts.py's layout: tongdai/<lang>/<prompt>, tongdai/<lang>/num/<word>

# A sentence's words per language: (prompt ids and a number's word sounds), built by the caller of
# :func:`sentence` so this module needs no IVR import.
NumberWords = Callable[[int, str], Sequence[str]]


ActionFn = Callable[..., Awaitable[Any]]  # AmiClient.action


def sentence(lang: str, position: int, minutes: int | None, number_words: NumberWords) -> list[str]:
    """Sound names of "you are number <position> in the queue; expected wait about <minutes> minutes"."""
    p = f"{SOUND_ROOT}/{lang}"
    out = [f"{p}/queue_position", *number_words(position, lang), f"{p}/queue_position_end"]
    if minutes is not None:
        out += [f"{p}/queue_expected_wait", *number_words(minutes, lang), f"{p}/queue_minutes"]
    return out


class QueueAnnouncer:
    def __init__(
        self,
        cfg: AnnouncementsConfig,
        tracker: CallTracker,
        agents_serving: Callable[[str], Awaitable[int]],
        number_words: NumberWords,
        *,
        default_language: str = "vi",
        tick_seconds: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self.tracker = tracker
        self.estimator = WaitEstimator(cfg.default_aht_seconds, cfg.aht_window)
        self.agents_serving = agents_serving  # agents logged in to a queue and not paused
        self._words = number_words
        self._lang = default_language
        self._tick = tick_seconds
        self._clock = clock
        self._action: ActionFn | None = None
        self._last: dict[str, float] = {}  # call id → wait (s) at its last announcement
        self._task: asyncio.Task[None] | None = None
        self.announced = 0  # originated announcements (metrics, tests)

    def bind(self, action: ActionFn | None) -> None:
        self._action = action

    def observe_talk(self, seconds: float) -> None:
        self.estimator.observe(seconds)

    def start(self) -> None:
        if self.cfg.enabled and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="acd-announcer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def due(self, now: float) -> list[Call]:
        """Waiting callers due an announcement now (pure of Asterisk: the tracker's view)."""
        out = []
        live = set()
        for call in self.tracker.calls.values():
            if call.queued_at is None or call.answered_at is not None or not call.queue_channel:
                continue
            live.add(call.call_id)
            if call.acd_tier in self.cfg.spare_tiers:
                continue
            waited = now - call.queued_at
            last = self._last.get(call.call_id)
            step = self.cfg.first_after_seconds if last is None else last + self.cfg.interval_seconds
            if waited >= step:
                out.append(call)
        for cid in list(self._last):
            if cid not in live:
                del self._last[cid]
        return out

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._tick)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # an AMI hiccup must not end the announcements
                log.warning("queue announcements: %s", err)

    async def tick(self) -> int:
        """Announce to every caller due; returns how many were originated."""
        action = self._action
        now = self._clock()
        calls = self.due(now)
        if action is None or not calls:
            return 0
        by_queue: dict[str, list[Call]] = {}
        for c in calls:
            by_queue.setdefault(c.queue, []).append(c)
        sent = 0
        for queue, members in by_queue.items():
            resp = await action("QueueStatus", {"Queue": queue}, multi=True, timeout=10)
            positions = {
                e.get("Channel"): int(e.get("Position") or 0)
                for e in resp.events
                if e.name == "QueueEntry" and (e.get("Position") or "").isdigit()
            }
            agents = await self.agents_serving(queue)
            for call in members:
                pos = positions.get(call.queue_channel)
                if not pos:
                    continue  # between queues (an overflow) or just answered: next tick
                self._last[call.call_id] = now - (call.queued_at or now)
                await self._announce(action, call, pos, agents)
                sent += 1
        return sent

    async def _announce(self, action: ActionFn, call: Call, position: int, agents: int) -> None:
        lang = call.language or self._lang
        minutes = None
        if self.cfg.expected_wait:
            est = self.estimator.expected_wait(position, agents)
            minutes = None if est is None else announced_minutes(est, self.cfg.max_announced_minutes)
        sounds = sentence(lang, position, minutes, self._words)
        log.info("announce to %s in %s: position %d, ~%s min", call.call_id, call.queue, position, minutes)
        await action(
            "Originate",
            {
                "Channel": "Local/announce@tongdai-announce/n",
                "Application": "ChanSpy",
                "Data": f"{call.queue_channel},qwES",
                # No CDR for the whisper leg: it is not a call.
                "Variable": [f"__TONGDAI_ANN={'&'.join(sounds)}", "CDR_PROP(disable)=1"],
                "Async": "true",
                "Timeout": "5000",
            },
            multi=False,
            timeout=10,
            check=False,
        )
        self.announced += 1
