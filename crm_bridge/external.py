"""External CRM adapter: enrich the local profile from the operator's CRM, never holding up a call.

The local profile (Redis cache, then database) is the answer a ringing call gets. The external CRM is
asked at the same time under a hard deadline; if it answers in time its fields are merged in
(``source="crm"``); if it is slow, down or answers garbage, the local profile is returned marked
``stale=True`` as soon as the deadline passes. The call never waits longer than the timeout.

The CRM's contract (a small REST API, JSON over HTTP):

* ``GET {base_url}/customers/by-number/{e164}`` → ``200`` with an object, or ``404`` if unknown.
* The object may carry ``customer_id``, ``name``, ``segment``, ``preferred_language``, ``province``;
  other keys are ignored. Only these fields overwrite the local profile: revenue, tier and points are
  ours (billing is the source of truth for them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import quote

import aiohttp

from core.errors import ExternalServiceError
from core.phone import try_e164
from crm_bridge.directory import CustomerDirectory
from crm_bridge.models import SEGMENTS
from crm_bridge.profile import CustomerProfile
from crm_bridge.tiering import TierDecision

__all__ = ["CrmUnavailable", "ExternalCrm", "ProfileService"]

log = logging.getLogger(__name__)

_MERGED = ("name", "segment", "preferred_language", "province")


class CrmUnavailable(ExternalServiceError):
    error_id = "crm.external_unavailable"


class ExternalCrm:
    """HTTP client of the operator's CRM with a hard per-request timeout."""

    def __init__(
        self, base_url: str, *, timeout_seconds: float = 0.3, session: aiohttp.ClientSession | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout_seconds
        self._session = session
        self._own_session = session is None

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout, sock_connect=self.timeout)
            )
            self._own_session = True
        return self._session

    async def by_number(self, e164: str) -> dict[str, Any] | None:
        """The CRM's record for a number; None if it does not know it. Raises :class:`CrmUnavailable`."""
        url = f"{self.base_url}/customers/by-number/{quote(e164, safe='')}"
        client = await self._client()
        try:
            async with asyncio.timeout(self.timeout):
                async with client.get(url) as resp:
                    if resp.status == 404:
                        return None
                    if resp.status != 200:
                        raise CrmUnavailable(f"external CRM answered HTTP {resp.status} for {e164}")
                    data = await resp.json(content_type=None)
        except TimeoutError as err:
            raise CrmUnavailable(f"external CRM did not answer within {self.timeout:.3f}s") from err
        except (aiohttp.ClientError, ValueError) as err:
            raise CrmUnavailable(f"external CRM failed: {err!r}") from err
        if not isinstance(data, dict):
            raise CrmUnavailable("external CRM answered something other than a JSON object")
        return data

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()


def _merge(local: CustomerProfile, remote: dict[str, Any]) -> CustomerProfile:
    changes: dict[str, Any] = {"source": "crm", "stale": False}
    for key in _MERGED:
        value = remote.get(key)
        if isinstance(value, str) and value.strip():
            if key == "segment" and value not in SEGMENTS:
                continue
            changes[key] = value.strip()
    return local.with_(**changes)


def _remote_only(remote: dict[str, Any]) -> CustomerProfile | None:
    cid, name = remote.get("customer_id"), remote.get("name")
    if not (isinstance(cid, str) and cid and isinstance(name, str) and name):
        return None
    reason = TierDecision(
        "standard",
        "unknown locally",
        {},
        "Khách hàng chưa có trong dữ liệu cước: chưa xác định hạng",
        "Customer not in local billing data: tier not determined",
    )
    base = CustomerProfile(
        customer_id=cid,
        name=name,
        kind="individual",
        tier="standard",
        tier_reason=reason,
        care_card="none",
        loyalty_rank="",
        points=0,
        overdue_debt_vnd=0,
        source="crm",
    )
    return _merge(base, remote)


class ProfileService:
    """What the screen pop calls: the local profile, enriched by the external CRM when it is quick."""

    def __init__(self, directory: CustomerDirectory, external: ExternalCrm | None = None) -> None:
        self.directory = directory
        self.external = external

    async def by_number(self, number: str) -> CustomerProfile | None:
        """The profile of whoever holds ``number`` (any format; None if it is not a number)."""
        e164 = try_e164(number)
        return await self.by_e164(e164) if e164 is not None else None

    async def by_e164(self, e164: str) -> CustomerProfile | None:
        """Like :meth:`by_number` for a number already in E.164 (normalised where the call came in)."""
        if self.external is None:
            return await self.directory.by_e164(e164)
        # Ask both at once: the total wait is max(local, timeout), not their sum.
        remote_task = asyncio.create_task(self.external.by_number(e164))
        try:
            local = await self.directory.by_e164(e164)
        except BaseException:
            remote_task.cancel()
            raise
        try:
            # by_number enforces the timeout itself; this outer bound is a second guard.
            async with asyncio.timeout(self.external.timeout + 0.05):
                remote = await remote_task
        except (CrmUnavailable, TimeoutError) as err:
            remote_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await remote_task
            log.warning("external CRM unavailable for %s: %s", e164, err)
            return local.with_(stale=True) if local is not None else None
        if remote is None:
            return local
        if local is None:
            return _remote_only(remote)
        return _merge(local, remote)
