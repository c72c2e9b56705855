"""Agent login, pause and state: the service behind the desktop's ready/pause buttons.

Asterisk's app_queue is the source of truth for membership and pauses; this service changes them with
AMI (QueueAdd/QueueRemove/QueuePause) and mirrors what Asterisk reports back through
:class:`acd.agent_state.AgentBook`. Every change of an agent's status is

* published on the bus as ``agent.state`` (data = :meth:`AgentState.to_json`),
* saved in the agent store (a Redis hash per agent when ``redis.url`` is set, so every node agrees;
  written behind, so the AMI event drain never waits on Redis: acd/agent_store.py),
* and, when a status period ends, written to ``agent_state_log`` (by a background writer, so the AMI
  event loop never waits on the database).

Membership is dynamic (queues.conf renders no static members, so QueueRemove can log anyone out).
After every AMI (re)connect the service re-syncs from QueueStatus and logs in, with QueueAdd, the
agents configured to log in automatically (``auto_login``, on by default for simulated agents) that
Asterisk lost — e.g. after an Asterisk restart with ``persistentmembers = no``. ``ready()`` resolves
once that first sync is done.

Status periods are timed with Asterisk's own event stamps (``Timestamp``, manager.conf
``timestampevents = yes``) so a period's length does not include the time its events spent in sockets
and queues; a wrap-up ends exactly ``wrapuptime`` after the AgentComplete that began it, as in app_queue.

It also counts unanswered rings and pauses an agent with the ``auto_missed`` reason after
``acd.agents.auto_pause_after_missed`` of them in a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.agent_state import AgentBook, AgentState, Transition
from acd.agent_store import AgentStore, MemoryAgentStore
from acd.aging import ActionFn, QueueAger
from acd.routing import plan_from
from acd.state_log import StateLogWriter
from core.ami import AmiEvent, AmiResponse
from core.bus import BusEvent, EventBus
from core.config import AgentConfig
from core.errors import AmiActionFailed, Conflict, NotFound, TongdaiError
from core.members import agent_from_member, base_queue

if TYPE_CHECKING:  # the complete model is the composition root's; typing only, no import cycle
    from tongdai.settings import Settings

log = logging.getLogger(__name__)

MEMBER_EVENTS = frozenset(
    {
        "QueueMemberAdded",
        "QueueMemberRemoved",
        "QueueMemberStatus",
        "QueueMemberPause",
        "AgentCalled",
        "AgentRingNoAnswer",
        "AgentConnect",
        "AgentComplete",
        "QueueCallerAbandon",
    }
)


class InvalidPauseReason(TongdaiError):
    error_id = "acd.invalid_pause_reason"


# An event stamp further than this from the bridge's clock is not trusted (an Asterisk on another host
# with a wrong clock): the bridge's clock times that event instead.
MAX_CLOCK_SKEW = 60.0


class AgentStateService:
    """Log agents in and out, pause and unpause them, and mirror their state (module docstring)."""

    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        *,
        store: AgentStore | None = None,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.config = settings.acd.agents
        self._bus = bus
        self.store: AgentStore = store or MemoryAgentStore()
        self._sessions = sessions
        self._now = now
        wrapups = {q.name: float(q.wrapup) for q in settings.queues}
        # Members and penalties from skills, VIP groups and sticky stages (acd/routing.py); a stage queue
        # has its base queue's wrap-up.
        self.plan = plan_from(settings)
        self.book = AgentBook(lambda q: wrapups.get(base_queue(q), 0.0))
        self._action: ActionFn | None = None
        self._wait_booted: Callable[[float], Any] | None = None
        self._ready = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wrap_timers: dict[str, asyncio.TimerHandle] = {}
        self._state_log: StateLogWriter | None = None  # agent_state_log, once there is a database
        self._sync_lock = asyncio.Lock()
        self._changed = asyncio.Condition()  # notified after each batch of published transitions
        # Transitions in the order the book made them, published by one drainer at a time: a wrap-up
        # timer's "ready" must not overtake the "ringing" folded right after it (Redis would keep it).
        self._outbox: deque[Transition] = deque()
        self._publishing = asyncio.Lock()
        self._auto_pausing: set[str] = set()
        self.ager: QueueAger | None = None
        self._tier_of_uniqueid: Callable[[str], str] | None = None
        self.auto_pauses = 0

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(
        self, sessions: async_sessionmaker[AsyncSession] | None = None, store: AgentStore | None = None
    ) -> None:
        if sessions is not None:
            self._sessions = sessions
        if store is not None:
            self.store = store
        if self._sessions is not None:  # first: the periods the first transitions end are logged too
            self._state_log = StateLogWriter(self._sessions)
            self._state_log.start()
        now = self._now()
        for a in self.settings.agents:
            await self._publish(self.book.ensure(a.id, now))

    def bind(self, action: ActionFn | None, wait_booted: Callable[[float], Any] | None = None) -> None:
        """Give the service the AMI action sender (``AmiClient.action``) and FullyBooted waiter."""
        self._action = action
        self._wait_booted = wait_booted

    async def stop(self) -> None:
        for h in self._wrap_timers.values():
            h.cancel()
        self._wrap_timers.clear()
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self._state_log is not None:
            await self._state_log.stop()
            self._state_log = None

    @property
    def state_log(self) -> StateLogWriter | None:
        """The agent_state_log writer, once started with a database (/metrics watches its queue)."""
        return self._state_log

    async def ready(self, timeout: float = 30.0) -> None:
        """Resolve once the first post-connect sync (auto-login included) has completed."""
        async with asyncio.timeout(timeout):
            await self._ready.wait()

    # --- queries --------------------------------------------------------------------------------

    def snapshot(self, agent_id: str) -> AgentState | None:
        """This node's view, from the events it has folded."""
        return self.book.get(agent_id)

    async def state(self, agent_id: str) -> AgentState:
        """The shared view (Redis when configured)."""
        try:
            st = await self.store.load(agent_id)
        except Exception as err:  # Redis down or hung (socket timeout): this node's view still answers
            log.warning("agent store unavailable (%s): answering from this node's view", err)
            st = None
        if st is None:
            st = self.book.get(agent_id)
        if st is None:
            raise NotFound(f"unknown agent {agent_id!r}")
        return st

    async def states(self) -> list[AgentState]:
        try:
            return await self.store.all()
        except Exception as err:
            log.warning("agent store unavailable (%s): answering from this node's view", err)
            return sorted(
                (st for a in self.settings.agents if (st := self.book.get(a.id)) is not None),
                key=lambda st: st.agent_id,
            )

    # --- commands -------------------------------------------------------------------------------

    def _agent(self, agent_id: str) -> AgentConfig:
        a = self.settings.agent(agent_id)
        if a is None:
            raise NotFound(f"unknown agent {agent_id!r}")
        return a

    def _configured_queues(self, agent_id: str, only: list[str] | None = None) -> dict[str, int]:
        """Queue → penalty for every queue the agent belongs to (config's members, skills, VIP group)
        and their stage queues; ``only``: these queues and their stages."""
        return self.plan.agent_queues(agent_id, only)

    async def _send(self, name: str, fields: dict[str, str], *, multi: bool = False) -> AmiResponse:
        if self._action is None:
            raise AmiActionFailed(f"AMI is not connected; {name} not sent")
        resp: AmiResponse = await self._action(name, fields, multi=multi, timeout=self.config.action_timeout)
        return resp

    async def login(self, agent_id: str, queues: list[str] | None = None) -> AgentState:
        """Add the agent to ``queues`` (default: the queues config lists it in), with the configured
        penalty. Logging in to a queue the agent is already in is not an error."""
        agent = self._agent(agent_id)
        configured = self._configured_queues(agent_id)
        wanted = list(queues) if queues is not None else list(configured)
        if not wanted:
            raise Conflict(f"agent {agent_id} is a member of no queue in config; name the queues")
        known = {q.name for q in self.settings.queues} | {st.name for st in self.plan.stage_queues()}
        for q in wanted:
            if q not in known:
                raise NotFound(f"unknown queue {q!r}")
        # A queue named by the desktop brings the agent's stages of it (sticky, VIP group, language).
        wanted += [q for q in self._configured_queues(agent_id, wanted) if q not in wanted]
        for q in wanted:
            resp = await self._action_checked(
                "QueueAdd",
                {
                    "Queue": q,
                    "Interface": agent.interface,
                    "Penalty": str(configured.get(q, 0)),
                    "Paused": "false",
                    "MemberName": agent.id,
                    "StateInterface": agent.interface,
                },
            )
            if not resp.ok and "already" not in resp.message.lower():
                raise AmiActionFailed(f"QueueAdd {agent_id} to {q}: {resp.message}")
        return await self._wait_state(agent_id, lambda s: set(wanted) <= set(s.queues))

    async def logout(self, agent_id: str) -> AgentState:
        """Remove the agent from every queue Asterisk has it in."""
        agent = self._agent(agent_id)
        for q in await self._member_queues(agent):
            resp = await self._action_checked("QueueRemove", {"Queue": q, "Interface": agent.interface})
            if not resp.ok and "not there" not in resp.message.lower():
                raise AmiActionFailed(f"QueueRemove {agent_id} from {q}: {resp.message}")
        return await self._wait_state(agent_id, lambda s: s.status == "logged_out")

    async def pause(self, agent_id: str, reason: str) -> AgentState:
        """Pause the agent in all its queues with a configured reason code."""
        if reason not in self.config.pause_reasons:
            raise InvalidPauseReason(
                f"pause reason {reason!r} is not one of {', '.join(self.config.pause_reasons)}"
            )
        agent = self._agent(agent_id)
        resp = await self._action_checked(
            "QueuePause", {"Interface": agent.interface, "Paused": "true", "Reason": reason}
        )
        if not resp.ok:
            raise Conflict(f"cannot pause agent {agent_id} (logged in?): {resp.message}")
        return await self._wait_state(
            agent_id, lambda s: s.reason == reason or s.status in ("on_call", "ringing", "wrap_up")
        )

    async def unpause(self, agent_id: str) -> AgentState:
        agent = self._agent(agent_id)
        resp = await self._action_checked("QueuePause", {"Interface": agent.interface, "Paused": "false"})
        if not resp.ok:
            raise Conflict(f"cannot unpause agent {agent_id} (logged in?): {resp.message}")
        return await self._wait_state(agent_id, lambda s: s.status != "paused")

    async def _action_checked(self, name: str, fields: dict[str, str]) -> AmiResponse:
        if self._action is None:
            raise AmiActionFailed(f"AMI is not connected; {name} not sent")
        resp: AmiResponse = await self._action(
            name, fields, multi=False, timeout=self.config.action_timeout, check=False
        )
        return resp

    async def _member_queues(self, agent: AgentConfig) -> list[str]:
        resp = await self._send("QueueStatus", {"Member": agent.interface}, multi=True)
        queues = {
            e.get("Queue")
            for e in resp.events
            if e.name == "QueueMember"
            and agent_from_member(e.get("Name"), e.get("Location") or e.get("Interface")) == agent.id
        }
        return sorted(queues | self.book.queues_of(agent.id))

    async def _wait_state(
        self, agent_id: str, ok: Callable[[AgentState], bool], timeout: float = 5.0
    ) -> AgentState:
        """Wait until Asterisk's events have brought this node's view where the command leads."""

        def arrived() -> bool:
            st = self.book.get(agent_id)
            return st is not None and ok(st)

        async with self._changed:
            try:
                async with asyncio.timeout(timeout):
                    await self._changed.wait_for(arrived)
            except TimeoutError:
                log.warning(
                    "agent %s: Asterisk's events did not confirm the change in %.0f s", agent_id, timeout
                )
        st = self.book.get(agent_id)
        if st is None:
            raise NotFound(f"unknown agent {agent_id!r}")
        return st

    # --- AMI events -------------------------------------------------------------------------------

    async def handle(self, ev: AmiEvent) -> None:
        if ev.name not in MEMBER_EVENTS:
            return
        now = self.event_time(ev)
        await self._publish(self.book.apply(ev.name, ev.headers, now))
        if ev.name == "AgentRingNoAnswer":
            agent_id = agent_from_member(ev.get("MemberName"), ev.get("Interface"))
            n = self.config.auto_pause_after_missed
            if (
                n
                and self.book.missed_rings(agent_id) >= n
                and agent_id not in self._auto_pausing  # one more miss while the pause is on its way
                and self.settings.agent(agent_id) is not None
            ):
                self._auto_pausing.add(agent_id)
                self._spawn(self._auto_pause(agent_id), f"acd-auto-pause:{agent_id}")

    def event_time(self, ev: AmiEvent) -> float:
        """When Asterisk raised ``ev`` (its ``Timestamp``), or now when it carries no usable stamp."""
        now = self._now()
        try:
            stamp = float(ev.headers.get("Timestamp", ""))
        except ValueError:
            return now
        return stamp if abs(stamp - now) <= MAX_CLOCK_SKEW else now

    async def _auto_pause(self, agent_id: str) -> None:
        try:
            st = self.book.get(agent_id)
            if st is not None and st.status == "paused":
                return
            missed = self.book.missed_rings(agent_id)
            log.warning("agent %s missed %d rings in a row: pausing", agent_id, missed)
            await self.pause(agent_id, self.config.auto_pause_reason)
            self.auto_pauses += 1
        finally:
            self._auto_pausing.discard(agent_id)

    async def on_connected(self) -> None:
        """After each AMI login: re-sync in the background (the AMI supervisor must not wait on it)."""
        self._spawn(self._sync(), "acd-agent-sync")

    async def _sync(self) -> None:
        async with self._sync_lock:
            if self._wait_booted is not None:
                await self._wait_booted(60)
            resp = await self._send("QueueStatus", {}, multi=True)
            members = [dict(e.headers) for e in resp.events if e.name == "QueueMember"]
            await self._publish(self.book.resync(members, self._now()))
            present = {
                (m.get("Queue", ""), agent_from_member(m.get("Name", ""), m.get("Location", "")))
                for m in members
            }
            for a in self.settings.agents:
                if not a.logs_in_automatically:
                    continue
                missing = [q for q in self._configured_queues(a.id) if (q, a.id) not in present]
                if missing:
                    await self.login(a.id, missing)
            if self.ager is not None:
                self._resync_waiting(resp.events)
            self._ready.set()
            log.info("agent state re-synced: %d queue memberships", len(members))

    def _resync_waiting(self, events: Sequence[AmiEvent]) -> None:
        """Restart aging schedules for callers already waiting (their wait is in QueueEntry)."""
        ager = self.ager
        assert ager is not None
        live = set()
        for e in events:
            if e.name != "QueueEntry":
                continue
            channel = e.get("Channel")
            live.add(channel)
            if channel in ager.waiting:
                continue
            try:
                waited = float(e.get("Wait") or 0)
            except ValueError:
                waited = 0.0
            ager.caller_joined(e.get("Queue"), channel, self._tier_for_entry(e), waited=waited)
        for channel in ager.waiting - live:
            ager.caller_left(channel)

    def _tier_for_entry(self, e: AmiEvent) -> str:
        return self._tier_of_uniqueid(e.get("Uniqueid")) if self._tier_of_uniqueid else ""

    def attach_aging(self, ager: QueueAger, tier_of_uniqueid: Callable[[str], str]) -> None:
        """Let the post-connect sync restart aging for callers already waiting."""
        self.ager = ager
        self._tier_of_uniqueid = tier_of_uniqueid

    # --- publishing -------------------------------------------------------------------------------

    async def _publish(self, transitions: list[Transition]) -> None:
        """Publish ``transitions`` after any made before them (returns once they are out)."""
        self._outbox.extend(transitions)
        await self._drain()

    async def _drain(self) -> None:
        async with self._publishing:
            transitions = list(self._outbox)
            self._outbox.clear()
            await self._publish_now(transitions)

    async def _publish_now(self, transitions: list[Transition]) -> None:
        for t in transitions:
            cur = t.current
            data = cur.to_json()
            if t.previous is None:
                # This node's first word on the agent (at its start: "logged out" until its Asterisk
                # says otherwise). Another node, whose Asterisk has the agent logged in, knows better:
                # the wallboards keep that node's state (agent_desktop/wallboard.py).
                data["first"] = True
            self._bus.publish(BusEvent("agent.state", "", data))
            try:
                await self.store.save(cur)
            except Exception:
                log.exception("agent %s: state not saved to the store", cur.agent_id)
            if not t.status_changed:
                continue
            prev = t.previous
            if prev is not None and self._state_log is not None:
                self._state_log.period_ended(prev, cur)
            timer = self._wrap_timers.pop(cur.agent_id, None)
            if timer is not None:
                timer.cancel()
            if cur.status == "wrap_up" and t.wrap_up_seconds > 0:
                # Due wrapuptime after the call ended by the event's clock (the event may have
                # arrived late); the period ends at exactly that time.
                end = cur.since + t.wrap_up_seconds
                self._wrap_timers[cur.agent_id] = asyncio.get_running_loop().call_later(
                    max(0.0, end - self._now()), self._wrap_up_over, cur.agent_id, end
                )
        if transitions:
            async with self._changed:
                self._changed.notify_all()

    def _wrap_up_over(self, agent_id: str, end: float) -> None:
        self._wrap_timers.pop(agent_id, None)
        self._outbox.extend(self.book.end_wrap_up(agent_id, end))  # now: its place in the order
        self._spawn(self._drain(), f"acd-wrap:{agent_id}")

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed: %s", task.get_name(), task.exception())
