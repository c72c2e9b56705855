"""Where the current agent states live: in memory on one node, or in Redis (a hash per agent) so every
node of a cluster answers "who is ready" the same way.

The Redis store writes behind: ``save`` is called from the AMI event drain, which must never wait on
the network (a hung Redis stopped call tracking), so it only queues the state on a
:class:`core.writer.Writer` — coalesced per agent, sheddable (a presence refresh is the least
important write: the next one supersedes it) — and reads see the queued state until it is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from acd.agent_state import AgentState
from core.writer import Writer


def redis_transient(err: BaseException) -> bool:
    """Redis errors worth retrying: the connection, not the command."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeout

    return isinstance(err, RedisConnectionError | RedisTimeout | OSError | TimeoutError)


class AgentStore(Protocol):
    async def save(self, state: AgentState) -> None: ...

    async def load(self, agent_id: str) -> AgentState | None: ...

    async def all(self) -> list[AgentState]: ...


class MemoryAgentStore:
    def __init__(self) -> None:
        self._states: dict[str, AgentState] = {}

    async def save(self, state: AgentState) -> None:
        self._states[state.agent_id] = state

    async def load(self, agent_id: str) -> AgentState | None:
        return self._states.get(agent_id)

    async def all(self) -> list[AgentState]:
        return sorted(self._states.values(), key=lambda s: s.agent_id)


# One agent's state, unless it would log out an agent another node has logged in: each node reports
# "logged out" for the agents its own Asterisk has no membership of (at its start, for every configured
# agent), and that must not overwrite the node whose Asterisk the agent is logged in to.
_SAVE = """
local status = redis.call('HGET', KEYS[1], 'status')
local node = redis.call('HGET', KEYS[1], 'node')
if ARGV[2] == 'logged_out' and status and status ~= 'logged_out'
   and node and node ~= '' and node ~= ARGV[6] then
  return 0
end
redis.call('HSET', KEYS[1], 'agent_id', ARGV[1], 'status', ARGV[2], 'reason', ARGV[3], 'since', ARGV[4],
           'queues', ARGV[5], 'node', ARGV[6])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""


class RedisAgentStore:
    """``<prefix>agent:<id>`` is a hash (status, reason, since, queues comma-separated, the node that
    wrote it); ``<prefix>agents`` is the set of known agent ids. ``redis`` is a ``redis.asyncio.Redis``.
    A node's "logged out" never replaces another node's logged-in state (``_SAVE``)."""

    def __init__(
        self, redis: Any, prefix: str = "tongdai:", *, node: str = "", capacity: int = 10_000
    ) -> None:
        self._r = redis
        self._prefix = prefix
        self._node = node
        self._pending: dict[str, AgentState] = {}  # queued, not yet in Redis: what reads must see
        self.writer: Writer[AgentState] = Writer(
            "agent-states", self._write, capacity=capacity, transient=redis_transient
        )

    def start(self) -> None:
        self.writer.start()

    async def stop(self, timeout: float = 5.0) -> None:
        await self.writer.stop(timeout)

    def _key(self, agent_id: str) -> str:
        return f"{self._prefix}agent:{agent_id}"

    async def save(self, state: AgentState) -> None:
        """Queue ``state`` for Redis (never waits on the network)."""
        self._pending[state.agent_id] = state
        self.writer.submit(state, keep=False, key=state.agent_id)

    async def _write(self, states: Sequence[AgentState]) -> None:
        pipe = self._r.pipeline(transaction=True)
        for state in states:
            pipe.eval(
                _SAVE,
                2,
                self._key(state.agent_id),
                f"{self._prefix}agents",
                state.agent_id,
                state.status,
                state.reason,
                repr(state.since),
                ",".join(state.queues),
                self._node,
            )
        await pipe.execute()
        for state in states:
            if self._pending.get(state.agent_id) is state:
                del self._pending[state.agent_id]

    async def load(self, agent_id: str) -> AgentState | None:
        pending = self._pending.get(agent_id)
        if pending is not None:
            return pending
        raw = await self._r.hgetall(self._key(agent_id))
        if not raw:
            return None
        d = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()
        }
        d["queues"] = [q for q in d.get("queues", "").split(",") if q]
        d.pop("node", None)
        return AgentState.from_json(d)

    async def all(self) -> list[AgentState]:
        ids = {
            i.decode() if isinstance(i, bytes) else i for i in await self._r.smembers(f"{self._prefix}agents")
        }
        out = []
        for agent_id in sorted(ids | set(self._pending)):
            st = await self.load(agent_id)
            if st is not None:
                out.append(st)
        return out
