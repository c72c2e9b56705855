"""Publishes agent desk phones' registration (``phone.state`` on the bus) from res_pjsip's AMI events.

``ContactStatus`` events are folded as they come; after every AMI login ``DeviceStateList`` says
which phones can be rung (a registration made or expired while the link was down is caught up), and every
agent's state is published again so a desktop that connected meanwhile is current.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from acd.phones import PhoneBook, PhoneState
from core.ami import AmiEvent
from core.bus import BusEvent, EventBus

log = logging.getLogger(__name__)

Action = Callable[..., Awaitable[Any]]


class PhoneStateService:
    def __init__(
        self,
        bus: EventBus,
        agent_ids: Iterable[str],
        *,
        action_timeout: float = 10.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._bus = bus
        self.book = PhoneBook(agent_ids)
        self._timeout = action_timeout
        self._now = now
        self._action: Action | None = None
        self._wait_booted: Callable[[float], Awaitable[None]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def bind(self, action: Action, wait_booted: Callable[[float], Awaitable[None]] | None = None) -> None:
        self._action = action
        self._wait_booted = wait_booted

    def get(self, agent_id: str) -> PhoneState | None:
        return self.book.get(agent_id)

    async def handle(self, ev: AmiEvent) -> None:
        if ev.name == "ContactStatus":
            changed = self.book.contact_status(ev.headers, self._now())
            if changed is not None:
                self._publish([changed])

    async def on_connected(self) -> None:
        """After each AMI login: list the contacts in the background (never holding the supervisor)."""
        task = asyncio.create_task(self._sync(), name="acd-phone-sync")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sync(self) -> None:
        if self._action is None:
            return
        try:
            # AMI answers before the modules are loaded: DeviceStateList exists once Asterisk is booted.
            if self._wait_booted is not None:
                await self._wait_booted(60)
            resp = await self._action("DeviceStateList", multi=True, timeout=self._timeout)
        except Exception as err:  # the next login re-syncs; until then events keep the view
            log.warning("phone registrations not re-synced: %s", err)
            return
        devices = {e.get("Device"): e.get("State") for e in resp.events if e.name == "DeviceStateChange"}
        states = self.book.resync(devices, self._now())
        self._publish(states)
        log.info("phone registrations re-synced: %d device states", len(devices))

    def _publish(self, states: list[PhoneState]) -> None:
        for s in states:
            self._bus.publish(BusEvent("phone.state", "", s.to_json()))

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await t
