"""Where the current agent states live: in memory on one node, or in Redis (a hash per agent) so every
node of a cluster answers "who is ready" the same way."""

from __future__ import annotations

from typing import Any, Protocol

from acd.agent_state import AgentState


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


class RedisAgentStore:
    """``<prefix>agent:<id>`` is a hash (status, reason, since, queues comma-separated);
    ``<prefix>agents`` is the set of known agent ids. ``redis`` is a ``redis.asyncio.Redis``."""

    def __init__(self, redis: Any, prefix: str = "tongdai:") -> None:
        self._r = redis
        self._prefix = prefix

    def _key(self, agent_id: str) -> str:
        return f"{self._prefix}agent:{agent_id}"

    async def save(self, state: AgentState) -> None:
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(
            self._key(state.agent_id),
            mapping={
                "agent_id": state.agent_id,
                "status": state.status,
                "reason": state.reason,
                "since": repr(state.since),
                "queues": ",".join(state.queues),
            },
        )
        pipe.sadd(f"{self._prefix}agents", state.agent_id)
        await pipe.execute()

    async def load(self, agent_id: str) -> AgentState | None:
        raw = await self._r.hgetall(self._key(agent_id))
        if not raw:
            return None
        d = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()
        }
        d["queues"] = [q for q in d.get("queues", "").split(",") if q]
        return AgentState.from_json(d)

    async def all(self) -> list[AgentState]:
        ids = await self._r.smembers(f"{self._prefix}agents")
        out = []
        for raw_id in sorted(ids):
            st = await self.load(raw_id.decode() if isinstance(raw_id, bytes) else raw_id)
            if st is not None:
                out.append(st)
        return out
