"""Who is the active bridge of one Asterisk: a lease in Redis, with a fencing token.

Two bridges may stand beside one Asterisk (docs/operations.md, "A standby takes over"); only the
lease's holder logs in to AMI and answers FastAGI. The lease is one key, ``SET NX PX ttl``, renewed
by its holder; each acquisition takes a new **fencing token** from a counter that never goes back,
and the key's value is ``node_id:token``, so a renewal succeeds only for the very acquisition that
set it (a restarted node with the same id cannot renew its predecessor's lease).

The holder never relies on Redis to tell it that it lost the lease: it counts from the moment it
*sent* its last successful renewal (the key cannot expire earlier than ``ttl`` after that) and
stops acting at ``ttl - margin`` past it, whether or not Redis answers. So it steps down before the
key can lapse and before any contender can acquire it. :meth:`LeaseKeeper.holding` is that local,
I/O-free check, for the places that act (AMI actions, FastAGI sessions) to consult each time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

# KEYS[1] the lease, KEYS[2] the fencing counter; ARGV[1] node id, ARGV[2] ttl in ms.
# Atomic: no two contenders can both see the key absent and both set it.
_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
return token
"""
# KEYS[1] the lease; ARGV[1] the holder's value (node:token), ARGV[2] ttl in ms.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLease:
    """The lease's three operations on Redis, each one atomic script."""

    def __init__(self, redis: Redis, key: str, node_id: str, ttl: float) -> None:
        self.redis, self.key, self.node_id, self.ttl = redis, key, node_id, ttl
        self.fence_key = key + ":fence"
        self._ms = max(1, int(ttl * 1000))

    def value(self, token: int) -> str:
        return f"{self.node_id}:{token}"

    async def acquire(self) -> int | None:
        """The new fencing token, or None while another node holds the lease."""
        token = await self.redis.eval(_ACQUIRE, 2, self.key, self.fence_key, self.node_id, self._ms)
        return int(token) or None

    async def renew(self, token: int) -> bool:
        """Extend the lease by ``ttl``; False when it is no longer this acquisition's."""
        return bool(await self.redis.eval(_RENEW, 1, self.key, self.value(token), self._ms))

    async def release(self, token: int) -> bool:
        return bool(await self.redis.eval(_RELEASE, 1, self.key, self.value(token)))

    async def holder(self) -> str | None:
        """``node_id:token`` of the holder, or None (for operators and tests)."""
        raw = await self.redis.get(self.key)
        return raw.decode() if isinstance(raw, bytes) else raw


RoleChange = Callable[[int], Awaitable[None]]


class LeaseKeeper:
    """Contends for the lease and keeps it: ``on_active(token)`` once acquired, ``on_passive(token)``
    once it is lost, lapsed or given up (at :meth:`stop`). The callbacks run in this task, one at a
    time, so a step-down is complete before the next acquisition is tried."""

    def __init__(
        self,
        lease: RedisLease,
        *,
        on_active: RoleChange,
        on_passive: RoleChange,
        margin: float | None = None,
        poll_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lease = lease
        self.ttl = lease.ttl
        # Room for the step-down itself and for the two clocks' rates to differ.
        self.margin = margin if margin is not None else max(0.1 * self.ttl, min(0.5, 0.25 * self.ttl))
        if not 0 < self.margin < self.ttl:
            raise ValueError(f"lease margin {self.margin} s must be above 0 and below the ttl {self.ttl} s")
        self.renew_every = (self.ttl - self.margin) / 3  # two renewals may fail before a step-down
        self.poll_interval = poll_interval
        self._on_active, self._on_passive = on_active, on_passive
        self._clock = clock
        self.token: int | None = None  # the fencing token while active
        self._valid_until = 0.0
        self.acquisitions = 0
        self.last_error = ""
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._became_active = asyncio.Event()
        self._passive = asyncio.Event()  # set once a step-down (or the start) has left nothing acting
        self._passive.set()

    # --- what the acting parts consult -----------------------------------------------------------

    def holding(self) -> bool:
        """True while this node may act: it holds the lease and its local deadline has not passed."""
        return self.token is not None and self._clock() < self._valid_until

    @property
    def role(self) -> str:
        return "active" if self.holding() else "passive"

    async def wait_active(self, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            await self._became_active.wait()

    async def wait_passive(self, timeout: float) -> None:
        """Until this node has stepped down completely (FastAGI closed, AMI logged out)."""
        async with asyncio.timeout(timeout):
            await self._passive.wait()

    # --- lifetime ------------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ha-lease")

    async def stop(self) -> None:
        """Step down (if active) and give the lease back, so a standby takes over at once."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        token = self.token
        if token is not None:
            await self._step_down("stopping")
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self.lease.release(token)

    async def _run(self) -> None:
        # Checked as well as cancelled: Python 3.11's wait_for returns a result that lands together
        # with a cancel and swallows the cancel.
        while not self._stopping:
            if await self._try_acquire():
                await self._keep()
            else:
                await asyncio.sleep(self.poll_interval)

    async def _try_acquire(self) -> bool:
        sent = self._clock()
        try:
            async with asyncio.timeout(max(self.poll_interval, 1.0)):
                token = await self.lease.acquire()
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self._note_error("acquire", err)
            return False
        if token is None:
            return False
        self.token, self._valid_until = token, sent + self.ttl - self.margin
        self.acquisitions += 1
        self._passive.clear()
        log.warning(
            "HA: %s acquired the lease %s (fencing token %d): active",
            self.lease.node_id,
            self.lease.key,
            token,
        )
        try:
            await self._on_active(token)
        except Exception:
            log.exception("HA: becoming active failed; giving the lease back")
            await self._step_down("becoming active failed")
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self.lease.release(token)
            return False
        self._became_active.set()
        return True

    async def _keep(self) -> None:
        """Renew until the lease is lost or the local deadline passes, then step down."""
        token = self.token
        assert token is not None
        # Counted from the acquisition, not from now: becoming active may have taken a while.
        next_renew = self._valid_until - (self.ttl - self.margin) + self.renew_every
        while not self._stopping:
            now = self._clock()
            await asyncio.sleep(max(0.0, min(next_renew, self._valid_until) - now))
            left = self._valid_until - self._clock()
            if left <= 0:
                why = f"not renewed for {self.ttl - self.margin:.1f} s ({self.last_error})"
                await self._step_down(why)
                return
            sent = self._clock()
            try:
                # Never wait past the deadline: a hung Redis must not keep a stale holder acting.
                async with asyncio.timeout(left):
                    renewed = await self.lease.renew(token)
            except asyncio.CancelledError:
                raise
            except TimeoutError as err:
                self._note_error("renew", err)
                continue
            except Exception as err:
                self._note_error("renew", err)
                next_renew = self._clock() + min(self.renew_every, self.poll_interval)
                continue
            if not renewed:
                await self._step_down("the lease is no longer ours")
                return
            self._valid_until = sent + self.ttl - self.margin
            next_renew = sent + self.renew_every
            self.last_error = ""

    async def _step_down(self, why: str) -> None:
        token, self.token = self.token, None
        self._valid_until = 0.0
        self._became_active.clear()
        if token is None:
            return
        log.warning("HA: %s steps down (fencing token %d): %s; passive", self.lease.node_id, token, why)
        started = self._clock()
        try:
            await self._on_passive(token)
        except Exception:
            log.exception("HA: stepping down failed")
        finally:
            self._passive.set()
        log.info("HA: %s stepped down in %.3f s", self.lease.node_id, self._clock() - started)

    def _note_error(self, what: str, err: BaseException) -> None:
        error = f"{what}: {type(err).__name__}: {err}"[:200]
        if error != self.last_error:  # once per kind of failure, not at every poll
            log.warning("HA lease %s", error)
        self.last_error = error
