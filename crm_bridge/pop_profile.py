"""Which customer profile the screen pop shows for a call, fetched once per call.

The rule (moved here from the bridge): a customer the IVR identified (keyed ID or caller number) is
shown by that ID; the number the call came from is asked only when that can add something — the
operator's CRM is configured (it may know more, under its own deadline), or the IVR identified nobody.
A customer who keyed their ID from another phone keeps the verified ID.

The fetch happens once: the IVR hands over the profile it loaded while the caller was in the menu
(:meth:`PopProfiles.remember`), and the pop takes it from there instead of reading the cache or the
database again. A call that reached this node without our IVR (another node's, a desktop transfer)
is fetched once at its first pop and kept for later pops of the same call (a ring to a second agent,
a transfer). Entries go when the call ends; a bounded size keeps a lost ``call.ended`` harmless.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Protocol

from core.bus import BusEvent, EventBus
from crm_bridge.profile import CustomerProfile

__all__ = ["NumberProfiles", "PopProfiles", "ProfilesById"]


class ProfilesById(Protocol):
    """The local directory's lookup by customer ID (cached)."""

    async def by_customer_id(self, customer_id: str) -> CustomerProfile | None: ...


class NumberProfiles(Protocol):
    """The profile of whoever holds an E.164 number: local, enriched by the operator's CRM if any."""

    async def by_e164(self, e164: str) -> CustomerProfile | None: ...


class PopProfiles:
    """The pop's profile of each call, as the JSON the frame carries (see the module docstring)."""

    def __init__(
        self,
        directory: ProfilesById,
        by_number: NumberProfiles,
        *,
        external_crm: bool = False,
        max_calls: int = 10_000,
    ) -> None:
        """``external_crm``: the operator's CRM is configured, so the caller's number is always asked."""
        self._directory = directory
        self._by_number = by_number
        self._external = external_crm
        self._max = max_calls
        self._calls: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()

    def attach(self, bus: EventBus) -> None:
        bus.subscribe("call.ended", self._ended, name="pop-profiles")

    def remember(self, call_id: str, profile: CustomerProfile) -> None:
        """The profile the IVR loaded for ``call_id``: the pop will show it without fetching again."""
        self._keep(call_id, profile.customer_id, profile.to_json())

    def forget(self, call_id: str) -> None:
        self._calls.pop(call_id, None)

    async def for_call(self, call: dict[str, Any]) -> dict[str, Any] | None:
        """The profile to pop for ``call`` (a ``Call.to_dict()``), or None for an unknown caller."""
        call_id: str = call.get("call_id") or ""
        cid: str = call.get("customer_id") or ""
        e164: str = call.get("caller_e164") or ""
        kept = self._calls.get(call_id)
        if kept is not None and (not cid or kept[0] == cid):
            return kept[1]
        profile = await self._fetch(cid, e164)
        if profile is None:
            return None
        found = profile.to_json()
        if call_id:
            self._keep(call_id, profile.customer_id, found)
        return found

    async def _fetch(self, cid: str, e164: str) -> CustomerProfile | None:
        if e164 and (not cid or self._external):
            profile = await self._by_number.by_e164(e164)
            if profile is not None and (not cid or profile.customer_id == cid):
                return profile
        return await self._directory.by_customer_id(cid) if cid else None

    def _keep(self, call_id: str, customer_id: str, profile: dict[str, Any]) -> None:
        self._calls[call_id] = (customer_id, profile)
        self._calls.move_to_end(call_id)
        while len(self._calls) > self._max:
            self._calls.popitem(last=False)

    async def _ended(self, ev: BusEvent) -> None:
        self.forget(ev.call_id)
