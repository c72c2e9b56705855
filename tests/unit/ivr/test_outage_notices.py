"""Outage notices: which apply to which customer at which time (boundaries at start and end), and how
the IVR reads them: before the first menu once the caller is identified, in their language."""

from __future__ import annotations

import datetime as dt

from ivr.config import IvrConfig, default_tree
from ivr.machine import CallInfo, Collect, CustomerFacts, Digits, IvrSession, LookupResult, Play, Played
from ivr.outages import Notice, area_key, notice_sound, notices_for, sounds_for

VN = dt.timezone(dt.timedelta(hours=7))
START = dt.datetime(2026, 12, 3, 8, 0, tzinfo=VN)
END = dt.datetime(2026, 12, 3, 17, 0, tzinfo=VN)
HANOI = Notice(1, area_key("Hà Nội"), START, END, frozenset({"vi", "en"}))
HANOI_LATER = Notice(2, area_key("Ha Noi"), START + dt.timedelta(hours=1), END, frozenset({"vi"}))
HCM = Notice(3, area_key("TP Hồ Chí Minh"), START, END, frozenset({"vi", "en"}))
ALL = (HANOI_LATER, HCM, HANOI)
CALLER = "0912345678"
IN_HANOI = CustomerFacts("KH0000000001", area="Hà Nội")
IN_HUE = CustomerFacts("KH0000000002", area="Thừa Thiên Huế")


def test_areas_match_folded() -> None:
    assert area_key("Hà Nội") == area_key("HA NOI") == area_key(" ha-nội ") == "ha noi"
    assert area_key("TP. Hồ Chí Minh") == "tp ho chi minh"
    assert area_key("Đà Nẵng") == "da nang"


def test_a_notice_is_in_force_from_its_start_to_before_its_end() -> None:
    second = dt.timedelta(seconds=1)
    assert notices_for(ALL, "Hà Nội", START - second) == ()
    assert notices_for(ALL, "Hà Nội", START) == (HANOI,)  # the start is included
    assert notices_for(ALL, "Hà Nội", START + dt.timedelta(hours=1)) == (HANOI, HANOI_LATER)
    assert notices_for(ALL, "Hà Nội", END - second) == (HANOI, HANOI_LATER)
    assert notices_for(ALL, "Hà Nội", END) == ()  # the end is not


def test_only_the_customers_area() -> None:
    noon = START + dt.timedelta(hours=4)
    assert notices_for(ALL, "tp ho chi minh", noon) == (HCM,)
    assert notices_for(ALL, "Thừa Thiên Huế", noon) == ()
    assert notices_for(ALL, None, noon) == ()
    assert notices_for(ALL, "", noon) == ()
    assert notices_for(ALL, " - ", noon) == ()  # folds to nothing: matches nothing


def test_sounds_play_each_notice_or_the_generic_prompt_once() -> None:
    generic = "tongdai/en/outage_generic"
    both = (HANOI, HANOI_LATER, Notice(4, "ha noi", START, END))
    assert sounds_for(both, "vi", "tongdai/vi/outage_generic") == {
        "tongdai/vi/outage/n1": (1,),
        "tongdai/vi/outage/n2": (2,),
        "tongdai/vi/outage_generic": (4,),
    }
    # In English only notice 1 has audio: the others share one generic prompt.
    assert sounds_for(both, "en", generic) == {"tongdai/en/outage/n1": (1,), generic: (2, 4)}
    assert notice_sound("en", 12) == "tongdai/en/outage/n12"


def _session(
    customer: CustomerFacts | None,
    now: dt.datetime,
    cfg: IvrConfig | None = None,
    outages: tuple[Notice, ...] = ALL,
) -> tuple[IvrSession, Collect]:
    """Welcome and language (silence, or the key given), then the lookup by number answered."""
    s = IvrSession(
        cfg or IvrConfig.default(),
        CallInfo(caller=CALLER, caller_name=None, dialled="18001090", now=now, outages=outages),
    )
    s.start()
    s.feed(Digits(None))
    step = s.feed(LookupResult(customer))
    assert isinstance(step, Collect)
    return s, step


def test_identified_caller_in_the_area_hears_the_notices_before_the_main_menu() -> None:
    s, menu = _session(IN_HANOI, START + dt.timedelta(hours=2))
    assert menu.prompts == (
        "tongdai/vi/customer_verified",
        "tongdai/vi/outage/n1",
        "tongdai/vi/outage/n2",
        "tongdai/vi/main_menu",
    )
    assert s.outage_sounds == {"tongdai/vi/outage/n1": [1], "tongdai/vi/outage/n2": [2]}
    # Once a call: a wrong key re-prompts the menu without the notices.
    again = s.feed(Digits("7"))
    assert isinstance(again, Collect) and "tongdai/vi/outage/n1" not in again.prompts


def test_english_caller_hears_english_or_the_generic_english_prompt() -> None:
    s, menu = _session(CustomerFacts("KH9", area="Hà Nội", language="en"), START + dt.timedelta(hours=2))
    assert s.outage_sounds["tongdai/en/outage_generic"] == [2]
    assert menu.prompts[1:-1] == ("tongdai/en/outage/n1", "tongdai/en/outage_generic")
    assert menu.prompts[-1] == "tongdai/en/main_menu"


def test_no_notice_outside_the_area_unidentified_or_out_of_time() -> None:
    for customer, now in (
        (IN_HUE, START + dt.timedelta(hours=2)),
        (None, START + dt.timedelta(hours=2)),
        (IN_HANOI, END),
        (IN_HANOI, START - dt.timedelta(minutes=1)),
    ):
        s, menu = _session(customer, now)
        assert not any("outage" in p for p in menu.prompts), (customer, now)
        assert s.outage_sounds == {}


def test_before_menu_can_be_turned_off_and_self_service_still_reads_them() -> None:
    tree = default_tree()
    tree["outage_notices"] = {"before_menu": False}
    s, menu = _session(IN_HANOI, START + dt.timedelta(hours=2), IvrConfig.model_validate(tree))
    assert menu.prompts == ("tongdai/vi/customer_verified", "tongdai/vi/main_menu")
    s.feed(Digits("2"))  # internet
    # Outages in your area: the posted notices in place of "no known outage".
    assert s.feed(Digits("2")) == Play(("tongdai/vi/outage/n1", "tongdai/vi/outage/n2"))
    assert s.self_served == ["outage"] and s.outage_sounds["tongdai/vi/outage/n1"] == [1]
    assert isinstance(s.feed(Played()), Collect)


def test_self_service_without_a_posted_notice_keeps_the_configured_map() -> None:
    tree = default_tree()
    tree["outages"] = {"Thừa Thiên Huế": "outage_generic"}
    s, _ = _session(IN_HUE, START + dt.timedelta(hours=2), IvrConfig.model_validate(tree))
    s.feed(Digits("2"))
    assert s.feed(Digits("2")) == Play(("tongdai/vi/outage_generic",))
    assert s.outage_sounds == {}  # a configured prompt, not a posted notice: nothing to count
