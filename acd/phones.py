"""Agent desk phones' registration, folded from res_pjsip's contact events (pure: no I/O, no clock).

Each ``pjsip`` agent has one AOR named after the agent id (asterisk_conf's pjsip.conf). Asterisk
reports each contact of an AOR — one per registered device — with ``ContactStatus`` events
(Created, Updated, Reachable, Unreachable, Unknown, Unqualified, Removed); after a login,
``DeviceStateList`` says whether each phone can be rung. :class:`PhoneBook` keeps the contacts per
agent and derives what the desktop shows:

    registered    at least one contact that answers qualify (or is not qualified, or not yet asked)
    unreachable   registered, but no contact answers qualify: app_queue will not ring the phone
    unregistered  no contact at all (never registered, unregistered, or the registration expired)

Only changes of that view are reported, so the desktop gets one frame per real change however
often a phone refreshes its registration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from core.agi import display_text

PhoneStatus = Literal["registered", "unreachable", "unregistered"]
# Contact statuses under which qualify has not said "gone": the phone can be rung.
_UP = frozenset({"Reachable", "Unknown", "Unqualified", "NonQualified", "Created", "Updated"})
# Device states of a phone app_queue will not ring (ast_device_state names, as DeviceStateList gives).
_DEVICE_DOWN = frozenset({"UNAVAILABLE", "INVALID"})
_UNNAMED = ""  # the contact of a usable phone the re-sync found without its contact's details


@dataclass(frozen=True, slots=True)
class PhoneState:
    """What the desktop shows of an agent's phone. ``rtt_ms`` is the best qualify round trip."""

    agent_id: str
    status: PhoneStatus
    contacts: int
    user_agent: str
    rtt_ms: float | None
    since: float

    def to_json(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "status": self.status,
            "contacts": self.contacts,
            "user_agent": self.user_agent,
            "rtt_ms": self.rtt_ms,
            "since": self.since,
        }


@dataclass
class _Contact:
    status: str
    user_agent: str = ""
    rtt_ms: float | None = None


@dataclass
class _Phone:
    agent_id: str
    contacts: dict[str, _Contact] = field(default_factory=dict)
    state: PhoneState | None = None

    def derive(self, now: float) -> PhoneState:
        up = [c for c in self.contacts.values() if c.status in _UP]
        status: PhoneStatus = "registered" if up else "unreachable" if self.contacts else "unregistered"
        shown = up or list(self.contacts.values())
        rtts = [c.rtt_ms for c in shown if c.rtt_ms is not None]
        user_agent = next((c.user_agent for c in shown if c.user_agent), "")
        prev = self.state
        since = prev.since if prev is not None and prev.status == status else now
        rtt = min(rtts, default=None)
        return PhoneState(self.agent_id, status, len(self.contacts), user_agent, rtt, since)


def _rtt_ms(v: str) -> float | None:
    try:
        usec = int(v)
    except ValueError:
        return None
    return round(usec / 1000, 1) if usec > 0 else None


class PhoneBook:
    """Phones of the ``pjsip`` agents ``agent_ids``; contacts of other AORs (trunks) are ignored."""

    def __init__(self, agent_ids: Iterable[str]) -> None:
        self._phones = {a: _Phone(a) for a in agent_ids}

    def get(self, agent_id: str) -> PhoneState | None:
        p = self._phones.get(agent_id)
        return p.state if p is not None else None

    def states(self) -> list[PhoneState]:
        return [p.state for p in self._phones.values() if p.state is not None]

    def contact_status(self, ev: Mapping[str, str], now: float) -> PhoneState | None:
        """Fold one ``ContactStatus`` event; the new state when what the desktop shows changed."""
        phone = self._phones.get(ev.get("AOR", "") or ev.get("EndpointName", ""))
        uri = ev.get("URI", "")
        if phone is None or not uri:
            return None
        status = ev.get("ContactStatus", "")
        phone.contacts.pop(_UNNAMED, None)  # a real contact's news replaces the re-sync's stand-in
        if status == "Removed":
            phone.contacts.pop(uri, None)
        else:
            c = phone.contacts.setdefault(uri, _Contact(status))
            # Created and Updated say "registered (again)", not how qualify went: keep what it said.
            if status not in ("Created", "Updated") or c.status in ("Created", "Updated"):
                c.status = status
            c.user_agent = display_text(ev.get("UserAgent", ""), 120) or c.user_agent
            c.rtt_ms = _rtt_ms(ev.get("RoundtripUsec", "")) if status == "Reachable" else c.rtt_ms
        return self._settle(phone, now)

    def resync(self, device_states: Mapping[str, str], now: float) -> list[PhoneState]:
        """Align with Asterisk's device states after a login (``DeviceStateList``: ``PJSIP/<id>`` →
        ``NOT_INUSE``, ``UNAVAILABLE``…); every agent's state.

        The listing says whether a phone can be rung, not its contacts: contacts known from events
        are kept (marked unreachable when the device is down), a usable device nobody told us about
        counts as one registered contact, a down one without known contacts as unregistered.
        ``PJSIPShowContacts`` would say more but needs AMI's ``system`` write privilege, which also
        loads and unloads modules: tongdai's AMI user does without it. All states are returned,
        changed or not, so a subscriber that joined late catches up.
        """
        for p in self._phones.values():
            state = device_states.get(f"PJSIP/{p.agent_id}", "UNAVAILABLE").upper()
            if state in _DEVICE_DOWN:
                p.contacts.pop(_UNNAMED, None)
                for c in p.contacts.values():
                    c.status = "Unreachable"
            elif not any(c.status in _UP for c in p.contacts.values()):
                p.contacts = {_UNNAMED: _Contact("Reachable")}
            self._settle(p, now)
        return self.states()

    @staticmethod
    def _settle(phone: _Phone, now: float) -> PhoneState | None:
        new = phone.derive(now)
        old = phone.state
        phone.state = new
        if old is not None and (old.status, old.contacts, old.user_agent) == (
            new.status,
            new.contacts,
            new.user_agent,
        ):
            return None
        return new
