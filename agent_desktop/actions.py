"""What an agent or supervisor can do from the desktop: the rules behind the buttons.

HTTP forms, websocket commands and the JSON API all call :class:`DesktopActions`; it holds the
access rules (an agent sees and acts on its own calls only; supervisors on every call; personal data
only where the call needs it: agent_desktop/access.py), audits every profile view and unmask, and
speaks to Asterisk only through the AMI client's ``action`` (which refuses CR/LF in any value). It
never imports aiohttp.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_desktop.access import BULK_ALERT, CustomerAccess
from agent_desktop.wallboard import today_bounds
from core import errors
from core.audit import Audit
from core.bus import BusEvent
from core.config import AgentConfig
from core.errors import Conflict, NotFound
from core.identity import SUPERVISOR_ROLES, Who
from core.models import AuditEntry, CallRecord
from core.phone import InvalidNumber, dial_digits
from core.protocol_safety import check_line_value
from trunks.routes import choose_route

if TYPE_CHECKING:  # the complete model is the composition root's; typing only, no import cycle
    from core.ami import AmiClient
    from core.bus import EventBus
    from core.calls import CallTracker
    from crm_bridge.directory import CustomerDirectory
    from tongdai.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["BadRequest", "DesktopActions", "Forbidden", "Unavailable", "Who"]

SUPERVISORS = SUPERVISOR_ROLES
_TARGET = re.compile(r"^[0-9]{3,6}$|^[a-z][a-z0-9_-]{0,38}$")


class Forbidden(errors.Forbidden):
    error_id = "desktop.forbidden"


class BadRequest(errors.BadRequest):
    error_id = "desktop.bad_request"


class Unavailable(errors.Unavailable):
    error_id = "desktop.unavailable"


class CustomerMismatch(errors.BadRequest):
    error_id = "desktop.customer_mismatch"


class AgentStateService(Protocol):
    """``bridge.agents`` (acd): queue membership and pauses of agents."""

    async def login(self, agent_id: str) -> Any: ...

    async def logout(self, agent_id: str) -> Any: ...

    async def pause(self, agent_id: str, reason: str) -> Any: ...

    async def unpause(self, agent_id: str) -> Any: ...

    async def states(self) -> Sequence[Any]: ...


class Ami(Protocol):
    async def action(
        self, name: str, fields: Any = None, *, multi: bool = False, timeout: float | None = None
    ) -> Any: ...


class BridgeView(Protocol):
    """What the desktop needs of the running node, each collaborator typed (read-only here; AMI and
    the agent states may be absent on a node without Asterisk: the actions then answer 503)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def sessions(self) -> async_sessionmaker[AsyncSession] | None: ...
    @property
    def directory(self) -> CustomerDirectory: ...
    @property
    def ami(self) -> AmiClient | None: ...
    @property
    def tracker(self) -> CallTracker: ...
    @property
    def bus(self) -> EventBus: ...
    @property
    def agents(self) -> AgentStateService | None: ...


def national_digits(number: str) -> str:
    """A Vietnamese number as the digits to dial (``0912345678``); raises BadRequest for anything else."""
    check_line_value(number, "number")
    try:
        return dial_digits(number)
    except InvalidNumber as err:
        raise BadRequest(f"not a Vietnamese phone number: {number!r}") from err


def channel_prefix(agent: AgentConfig) -> str:
    """The prefix of the agent's channel names (ChanSpy's target, the attended-transfer channel)."""
    return f"Local/{agent.id}@tongdai-agents" if agent.phone == "local" else f"PJSIP/{agent.id}"


class DesktopActions:
    def __init__(self, bridge: BridgeView, audit: Audit, access: CustomerAccess | None = None) -> None:
        self.bridge = bridge
        self._audit = audit  # the one audit trail (core/audit.py)
        self.access = access if access is not None else customer_access(bridge, audit)

    @property
    def audit(self) -> Audit:
        return self._audit

    @property
    def settings(self) -> Settings:
        """The current config (read on each use: roles, agents and rules as they are now)."""
        return self.bridge.settings

    # --- collaborators ------------------------------------------------------------------------

    def _sessions(self) -> async_sessionmaker[AsyncSession]:
        if self.bridge.sessions is None:
            raise Unavailable("database not started")
        return self.bridge.sessions

    def _ami(self) -> Ami:
        ami = self.bridge.ami
        if ami is None or not ami.connected:
            raise Unavailable("Asterisk (AMI) is not connected")
        return ami

    def _agent_states(self) -> AgentStateService:
        svc = self.bridge.agents
        if svc is None:
            raise Unavailable(
                "agent state service (bridge.agents) is not available on this server: "
                "ready/pause/wrap-up cannot be changed from the desktop yet"
            )
        return svc

    def agent_states_available(self) -> bool:
        return self.bridge.agents is not None

    def _agent(self, agent_id: str) -> AgentConfig:
        a = self.settings.agent(agent_id)
        if a is None:
            raise NotFound(f"unknown agent {agent_id!r}")
        return a

    def pause_reasons(self) -> list[str]:
        agents_cfg = getattr(self.settings.acd, "agents", None)
        reasons = getattr(agents_cfg, "pause_reasons", None)
        return list(reasons) if reasons else ["break", "lunch", "training", "meeting", "after_call_work"]

    # --- agent state --------------------------------------------------------------------------

    async def set_state(self, who: Who, state: str, reason: str = "", agent_id: str | None = None) -> str:
        """``ready`` | ``pause`` (with a reason) | ``wrapup`` (pause "after_call_work") | ``logout``."""
        target = agent_id or who.agent_id
        if target != who.agent_id and not who.supervisor:
            raise Forbidden("only a supervisor may change another agent's state")
        svc = self._agent_states()
        if state == "ready":
            snap = getattr(svc, "snapshot", None)
            current = snap(target) if callable(snap) else None
            if current is not None and getattr(current, "status", "") == "logged_out":
                await svc.login(target)
            else:
                try:
                    await svc.unpause(target)
                except (NotFound, Conflict):  # not logged in: being ready means logging in
                    await svc.login(target)
        elif state == "pause":
            if reason not in self.pause_reasons():
                raise BadRequest(f"pause reason must be one of {self.pause_reasons()}")
            await svc.pause(target, reason)
        elif state == "wrapup":
            await svc.pause(target, "after_call_work")
        elif state == "login":
            await svc.login(target)
        elif state == "logout":
            await svc.logout(target)
        else:
            raise BadRequest(f"unknown state {state!r}")
        return state

    # --- calls --------------------------------------------------------------------------------

    def _live_call(self, call_id: str) -> Any:
        calls = self.bridge.tracker.calls
        return calls.get(call_id)

    async def call(self, who: Who, call_id: str) -> dict[str, Any]:
        """One call (live or stored) if ``who`` may see it: their own call, or any for supervisors."""
        live = self._live_call(call_id)
        if live is not None:
            d: dict[str, Any] = live.to_dict()
            mine = who.agent_id == d.get("agent_id") or who.agent_id in d.get("rung_agents", [])
            if not (mine or who.supervisor):
                raise Forbidden("not your call")
            d["live"] = True
            return d
        async with self._sessions()() as s:
            rec = await s.get(CallRecord, call_id)
        if rec is None:
            raise NotFound(f"no call {call_id!r}")
        if rec.agent_id != who.agent_id and not who.supervisor:
            raise Forbidden("not your call")
        return {**record_json(rec), "live": False}

    async def calls_today(self, who: Who, agent_id: str | None = None) -> list[dict[str, Any]]:
        """Today's calls (Asia/Ho_Chi_Minh) of an agent; supervisors may ask for any agent or all ("")."""
        target = who.agent_id if agent_id is None else agent_id
        if target != who.agent_id and not who.supervisor:
            raise Forbidden("only a supervisor may list another agent's calls")
        start, end = today_bounds()
        q = select(CallRecord).where(CallRecord.started_at >= start, CallRecord.started_at < end)
        if target:
            q = q.where(CallRecord.agent_id == target)
        async with self._sessions()() as s:
            rows = list(await s.scalars(q.order_by(CallRecord.started_at.desc()).limit(500)))
        return [record_json(r) for r in rows]

    async def save_disposition(
        self, who: Who, call_id: str, code: str, note: str = "", customer_id: str = ""
    ) -> dict[str, Any]:
        """Save the disposition and note to the customer's history, linked to the call."""
        codes = {d.code for d in self.settings.desktop.dispositions}
        if code not in codes:
            raise BadRequest(f"disposition must be one of {sorted(codes)}")
        if len(note) > 4000:
            raise BadRequest("note is longer than 4000 characters")
        call = await self.call(who, call_id)  # raises Forbidden for someone else's call
        on_call = str(call.get("customer_id") or "")
        if customer_id and on_call and customer_id != on_call:
            raise CustomerMismatch(
                f"this call's customer is {on_call}: a disposition goes to the call's own customer"
            )
        if customer_id and not on_call and not self.access.opened_recently(who, customer_id):
            raise CustomerMismatch(
                f"the caller is not identified: open {customer_id}'s profile first (search) to link the call"
            )
        cid = customer_id or on_call
        if not cid:
            raise BadRequest("the caller is not identified: search the customer first")
        directory = self.bridge.directory
        try:
            view = await directory.add_interaction(
                cid, "call", note, agent_id=who.agent_id, call_id=call_id, disposition=code
            )
        except LookupError as err:
            raise NotFound(str(err)) from err
        return {"customer_id": cid, **view.to_json()}

    # --- customers ----------------------------------------------------------------------------

    async def search(self, who: Who, text: str, limit: int = 20) -> list[dict[str, Any]]:
        self.access.lookup(who)
        found = await self.bridge.directory.search(text[:100], min(max(limit, 1), 50))
        await self._audit(who.agent_id, "customer.search", "query", text[:64])
        return [c.to_json() for c in found]

    async def profile(self, who: Who, customer_id: str, reason: str = "") -> dict[str, Any]:
        """A customer's profile: in hand (the agent's current or recent call), or for a stated reason;
        every view is audited with which (Decree 13/2023 on personal data)."""
        p = await self.bridge.directory.by_customer_id(customer_id)
        if p is None:
            raise NotFound(f"no customer {customer_id!r}")
        detail = await self.access.view(who, customer_id, reason)
        await self._audit(who.agent_id, "profile.view", "customer", customer_id, detail=detail)
        return p.to_json()

    async def unmask_id_number(self, who: Who, customer_id: str, reason: str) -> str:
        """The full identity number: agents for the customer on their current call, supervisors for
        anyone; a stated reason every time, which goes to the audit log."""
        from crm_bridge.models import Customer  # the one column the profile only shows masked

        given = await self.access.unmask(who, customer_id, reason)
        async with self._sessions()() as s:
            c = await s.get(Customer, customer_id)
        if c is None:
            raise NotFound(f"no customer {customer_id!r}")
        await self._audit(who.agent_id, "profile.unmask", "customer", customer_id, detail=given)
        return c.id_number or ""

    async def access_alerts(self, since: datetime, limit: int = 100) -> list[dict[str, Any]]:
        """The bulk-access alerts since ``since``, newest first (supervisors)."""
        async with self._sessions()() as s:
            rows = await s.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == BULK_ALERT, AuditEntry.at >= since)
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .limit(limit)
            )
            return [{"at": _iso(r.at), "agent_id": r.subject_id, "detail": r.detail} for r in rows]

    # --- telephony ----------------------------------------------------------------------------

    async def dial(self, who: Who, number: str) -> dict[str, Any]:
        """Click-to-call: ring the agent's own interface, then dial the customer from it."""
        agent = self._agent(who.agent_id)
        digits = national_digits(number)
        # It leaves through the outbound routes (trunks.outbound): refuse up front what none covers.
        if choose_route(digits, self.settings.trunks.outbound) is None:
            raise BadRequest(f"no outbound route covers {digits!r}")
        await self._ami().action(
            "Originate",
            {
                "Channel": agent.interface,
                "Context": "tongdai-outbound",
                "Exten": digits,
                "Priority": "1",
                "CallerID": f"{self.settings.hotline.numbers[0]}",
                "Variable": [f"TONGDAI_AGENT={agent.id}"],
                "Timeout": "30000",
                "Async": "true",
            },
        )
        return {"dialling": digits, "interface": agent.interface}

    async def _channels(self, call_id: str) -> list[dict[str, str]]:
        resp = await self._ami().action("CoreShowChannels", multi=True, timeout=10)
        return [
            dict(e.headers)
            for e in resp.events
            if e.name == "CoreShowChannel" and (e.get("Linkedid") or e.get("Uniqueid")) == call_id
        ]

    async def transfer(self, who: Who, call_id: str, target: str, mode: str = "blind") -> dict[str, Any]:
        """Blind: Redirect the customer's channel to a queue or an agent extension.
        Attended: Atxfer from the agent's channel to the target agent's extension."""
        call = await self.call(who, call_id)
        self._check_target(target)
        if mode not in ("blind", "attended"):
            raise BadRequest("mode is blind or attended")
        channels = await self._channels(call_id)
        if mode == "blind":
            return await self._blind(who, call_id, str(call.get("acd_tier") or ""), target, channels)
        return await self._attended(who, call_id, call, target, channels)

    def _check_target(self, target: str) -> None:
        if not _TARGET.match(target):
            raise BadRequest("transfer target must be a queue name or an agent extension")
        if target.isdigit():
            self._agent(target)
            return
        try:
            self.settings.queue(target)
        except KeyError as err:
            raise NotFound(f"no queue {target!r}") from err

    async def _blind(
        self, who: Who, call_id: str, tier: str, target: str, channels: list[dict[str, str]]
    ) -> dict[str, Any]:
        caller = next((c for c in channels if c.get("Application") == "Queue"), None)
        if caller is None:
            raise NotFound("the customer's channel is not in a queue call any more")
        name, is_agent = caller["Channel"], target.isdigit()
        if not is_agent:
            ami = self._ami()
            await ami.action("Setvar", {"Channel": name, "Variable": "TONGDAI_XFER_QUEUE", "Value": target})
            # The target queue's wait limit for this tier, after which its exits apply (never a hang-up).
            q = self.settings.queue(target)
            limit = str(self.settings.queue_exits.wait_limit(q.name, tier, q.max_wait))
            await ami.action("Setvar", {"Channel": name, "Variable": "TONGDAI_MAXWAIT", "Value": limit})
        redirect = {
            "Channel": name,
            "Context": "tongdai-transfer",
            "Exten": target if is_agent else "queue",
            "Priority": "1",
        }
        await self._ami().action("Redirect", redirect)
        if is_agent:
            self._pop_at(call_id, target, who)
        return {"mode": "blind", "channel": name, "target": target}

    async def _attended(
        self, who: Who, call_id: str, call: dict[str, Any], target: str, channels: list[dict[str, str]]
    ) -> dict[str, Any]:
        if not target.isdigit():
            raise BadRequest("an attended transfer goes to an agent extension")
        prefix = channel_prefix(self._agent(str(call.get("agent_id") or who.agent_id)))
        own = next(
            (c for c in channels if c["Channel"].startswith(prefix) and not c["Channel"].endswith(";2")),
            None,
        )
        if own is None:
            raise NotFound("the agent's channel for this call was not found")
        await self._ami().action(
            "Atxfer", {"Channel": own["Channel"], "Exten": target, "Context": "tongdai-transfer"}
        )
        self._pop_at(call_id, target, who)
        return {"mode": "attended", "channel": own["Channel"], "target": target}

    def _pop_at(self, call_id: str, target: str, who: Who) -> None:
        """The target agent gets the customer's pop as their phone rings: a transfer to an agent does
        not pass through a queue, so no AgentCalled would pop it (the caller must not repeat themself)."""
        live = self._live_call(call_id)
        if live is None:
            return
        data = {**live.to_dict(), "ringing_agent": target, "transferred_by": who.agent_id}
        self.bridge.bus.publish(BusEvent("call.transferring", call_id, data))

    async def spy(self, who: Who, agent_id: str, mode: str = "listen") -> dict[str, Any]:
        """Listen / whisper / barge on an agent's call: originate the supervisor into ``tongdai-spy``."""
        if not who.supervisor:
            raise Forbidden("only supervisors may listen, whisper or barge")
        if mode not in ("listen", "whisper", "barge"):
            raise BadRequest("mode is listen, whisper or barge")
        me = self._agent(who.agent_id)
        target = self._agent(agent_id)
        prefix = channel_prefix(target)
        await self._ami().action(
            "Originate",
            {
                "Channel": me.interface,
                "Context": "tongdai-spy",
                "Exten": mode,
                "Priority": "1",
                "CallerID": f"spy {target.id}",
                "Variable": [f"TONGDAI_SPY_TARGET={prefix}"],
                "Timeout": "30000",
                "Async": "true",
            },
        )
        await self._audit(who.agent_id, f"call.{mode}", "agent", agent_id)
        return {"mode": mode, "target": prefix}


def customer_access(bridge: BridgeView, audit: Audit) -> CustomerAccess:
    """The access rules on the bridge's live calls, database and current config."""
    return CustomerAccess(
        lambda: bridge.settings.desktop.access, lambda: bridge.tracker.calls, lambda: bridge.sessions, audit
    )


def _iso(v: datetime) -> str:
    return (v if v.tzinfo else v.replace(tzinfo=UTC)).isoformat()


def record_json(r: CallRecord) -> dict[str, Any]:
    return {
        "call_id": r.call_id,
        "caller_number": r.caller_number,
        "customer_id": r.customer_id,
        "queue": r.queue,
        "tier": r.tier,
        "acd_tier": r.acd_tier,
        "agent_id": r.agent_id,
        "started_at": r.started_at.isoformat() if r.started_at else None,
        "queued_at": r.queued_at.isoformat() if r.queued_at else None,
        "answered_at": r.answered_at.isoformat() if r.answered_at else None,
        "ended_at": r.ended_at.isoformat() if r.ended_at else None,
        "wait_seconds": r.wait_seconds,
        "talk_seconds": r.talk_seconds,
        "disposition": r.disposition,
        "ivr_path_text": r.ivr_path_text,
    }
