"""What the campaign dialler learns from AMI about its own calls, beside the callback dialler's
``AmiDialer`` (ivr/callback_ami.py), which places them and reports the customer's answer.

Each campaign dial's customer channel is originated with the id ``cmp-<contact>-<8 hex>`` (the
dialer's prefix), which is also the call's Linkedid. Register :meth:`CampaignCalls.handle` after the
``AmiDialer``'s handler: on that channel's ``Newchannel`` the call is annotated with the campaign (the
pop shows its script and dispositions); ``AgentConnect`` on the call = connected to an agent; the
customer channel's ``Hangup`` before that = not connected (abandoned, if they had answered).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from core.ami import AmiEvent
from core.calls import CallTracker
from core.members import agent_from_member

PREFIX = "cmp"
_ID = re.compile(rf"^{PREFIX}-([0-9]+)-[0-9a-f]{{8}}$")


@dataclass
class _Expected:
    pop: dict[str, Any]
    call_id: str = ""
    agent_id: str = ""  # the agent who took the call (AgentConnect's member)
    connected: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class CampaignCalls:
    def __init__(self, tracker: CallTracker) -> None:
        self._tracker = tracker
        self._by_contact: dict[int, _Expected] = {}
        self._by_call: dict[str, _Expected] = {}

    def expect(self, contact_id: int, pop: dict[str, Any]) -> None:
        """A dial of ``contact_id`` is about to be placed; ``pop``: the campaign as its pop shows it."""
        self._by_contact[contact_id] = _Expected(pop)

    def call_id(self, contact_id: int) -> str:
        e = self._by_contact.get(contact_id)
        return e.call_id if e is not None else ""

    def agent_of(self, contact_id: int) -> str:
        """The agent who took the contact's call ("" while none has): their disposition is theirs."""
        e = self._by_contact.get(contact_id)
        return e.agent_id if e is not None else ""

    async def connected(self, contact_id: int, timeout: float) -> bool:
        """Whether the answered customer reached an agent (False: hung up first, or ``timeout``)."""
        e = self._by_contact.get(contact_id)
        if e is None:
            return False
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(e.connected)
        except TimeoutError:
            return False

    def forget(self, contact_id: int) -> None:
        e = self._by_contact.pop(contact_id, None)
        if e is not None:
            self._by_call.pop(e.call_id, None)

    async def handle(self, ev: AmiEvent) -> None:
        name = ev.name
        if name == "Newchannel":
            uid = ev.get("Uniqueid")
            m = _ID.match(uid)
            e = self._by_contact.get(int(m.group(1))) if m else None
            if e is not None and not e.call_id:
                e.call_id = uid
                self._by_call[uid] = e
                self._tracker.annotate(uid, campaign=e.pop)
        elif name == "AgentConnect":
            e = self._by_call.get(ev.get("Linkedid"))
            if e is not None and not e.connected.done():
                e.agent_id = agent_from_member(ev.get("MemberName"), ev.get("Interface"))
                e.connected.set_result(True)
        elif name == "Hangup":
            e = self._by_call.get(ev.get("Uniqueid"))
            if e is not None and not e.connected.done():
                e.connected.set_result(False)
