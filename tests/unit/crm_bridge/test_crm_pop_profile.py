"""The pop's profile rule (moved out of the bridge) and the one fetch per call."""

from __future__ import annotations

from typing import Any

from crm_bridge.pop_profile import PopProfiles
from crm_bridge.profile import CustomerProfile
from crm_bridge.tiering import TierDecision


def profile(cid: str) -> CustomerProfile:
    reason = TierDecision("standard", "test", {}, "vi", "en")
    return CustomerProfile(cid, f"Name {cid}", "individual", "standard", reason, "none", "member", 0, 0)


class Source:
    """The directory (by ID) and the profile service (by number), counting every fetch."""

    def __init__(self, by_id: dict[str, str], by_number: dict[str, str]) -> None:
        self.ids, self.numbers = by_id, by_number
        self.fetches: list[tuple[str, str]] = []

    async def by_customer_id(self, customer_id: str) -> CustomerProfile | None:
        self.fetches.append(("id", customer_id))
        return profile(customer_id) if customer_id in self.ids else None

    async def by_e164(self, e164: str) -> CustomerProfile | None:
        self.fetches.append(("number", e164))
        cid = self.numbers.get(e164)
        return profile(cid) if cid else None


def call(call_id: str, customer_id: str = "", e164: str = "") -> dict[str, Any]:
    return {"call_id": call_id, "customer_id": customer_id, "caller_e164": e164}


async def test_the_ivr_profile_is_popped_without_fetching_again() -> None:
    src = Source({"KH1": ""}, {})
    pops = PopProfiles(src, src)
    pops.remember("c1", profile("KH1"))
    got = await pops.for_call(call("c1", "KH1", "+84912345678"))
    assert got is not None and got["customer_id"] == "KH1"
    assert src.fetches == []


async def test_a_call_without_the_ivr_is_fetched_once_for_all_its_pops() -> None:
    src = Source({"KH1": ""}, {})
    pops = PopProfiles(src, src)
    for _ in range(3):  # rings two agents, then a transfer
        got = await pops.for_call(call("c1", "KH1"))
        assert got is not None and got["customer_id"] == "KH1"
    assert src.fetches == [("id", "KH1")]
    pops.forget("c1")  # the call ended
    await pops.for_call(call("c1", "KH1"))
    assert len(src.fetches) == 2


async def test_unidentified_caller_is_found_by_number() -> None:
    src = Source({}, {"+84912345678": "KH7"})
    got = await PopProfiles(src, src).for_call(call("c1", "", "+84912345678"))
    assert got is not None and got["customer_id"] == "KH7"
    assert src.fetches == [("number", "+84912345678")]


async def test_identified_caller_is_not_looked_up_by_number_without_an_external_crm() -> None:
    src = Source({"KH1": ""}, {"+84912345678": "KH7"})
    got = await PopProfiles(src, src).for_call(call("c1", "KH1", "+84912345678"))
    assert got is not None and got["customer_id"] == "KH1"
    assert src.fetches == [("id", "KH1")]


async def test_a_keyed_id_from_another_phone_keeps_the_verified_id() -> None:
    src = Source({"KH2": ""}, {"+84912345678": "KH1"})
    pops = PopProfiles(src, src, external_crm=True)
    got = await pops.for_call(call("c1", "KH2", "+84912345678"))
    assert got is not None and got["customer_id"] == "KH2"
    assert src.fetches == [("number", "+84912345678"), ("id", "KH2")]
    # A profile remembered for another customer than the one now verified is not reused.
    pops.remember("c2", profile("KH1"))
    got = await pops.for_call(call("c2", "KH2"))
    assert got is not None and got["customer_id"] == "KH2"


async def test_unknown_caller_pops_no_profile_and_the_store_is_bounded() -> None:
    src = Source({}, {})
    pops = PopProfiles(src, src, max_calls=2)
    assert await pops.for_call(call("c1", "", "+84900000000")) is None
    for i in range(3):
        pops.remember(f"k{i}", profile("KH1"))
    assert await pops.for_call(call("k0")) is None  # evicted: no customer ID to fetch by
    assert (await pops.for_call(call("k2"))) is not None
