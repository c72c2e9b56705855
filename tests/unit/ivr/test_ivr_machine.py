"""The IVR state machine, driven step by step as the FastAGI route would, without any socket."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ivr.config import IvrConfig, default_tree
from ivr.machine import (
    CallInfo,
    Collect,
    CustomerFacts,
    Digits,
    Done,
    Hangup,
    IvrSession,
    IvrStateError,
    LookupCustomer,
    LookupResult,
    Play,
    Played,
    RequestCallback,
    Step,
    Transfer,
)

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
OPEN = dt.datetime(2026, 3, 10, 9, 0, tzinfo=HCM)  # a Tuesday morning
NIGHT = dt.datetime(2026, 3, 10, 23, 30, tzinfo=HCM)
TET = dt.datetime(2026, 2, 17, 10, 0, tzinfo=HCM)  # mùng 1 Tết Bính Ngọ
CALLER = "0912345678"
CUSTOMER = CustomerFacts(
    customer_id="KH0012345",
    name="Nguyễn Văn An",
    tier="gold",
    points=1250,
    last_bill_vnd=1_250_000,
    last_bill_month=dt.date(2026, 2, 1),
    area="hn-caugiay",
)
DEFAULT = IvrConfig.default()


def vi(*ids: str) -> tuple[str, ...]:
    return tuple(f"tongdai/vi/{i}" for i in ids)


def en(*ids: str) -> tuple[str, ...]:
    return tuple(f"tongdai/en/{i}" for i in ids)


def new(
    caller: str | None = CALLER,
    *,
    cfg: IvrConfig = DEFAULT,
    now: dt.datetime = OPEN,
    name: str | None = None,
    customer: CustomerFacts | None = None,
) -> tuple[IvrSession, Step]:
    s = IvrSession(
        cfg, CallInfo(caller=caller, caller_name=name, dialled="18001090", now=now, customer=customer)
    )
    return s, s.start()


def to_main(customer: CustomerFacts | None = CUSTOMER, language_key: str | None = None) -> IvrSession:
    """Welcome → language → identify by number → the main menu."""
    s, step = new()
    assert isinstance(step, Collect)
    step = s.feed(Digits(language_key))
    assert step == LookupCustomer("number", CALLER)
    step = s.feed(LookupResult(customer))
    assert isinstance(step, Collect)
    menu = "main_menu"
    assert step.prompts[-1] == f"tongdai/{s.language}/{menu}"
    return s


def custom(**changes: Any) -> IvrConfig:
    data = default_tree()
    for key, value in changes.items():
        if key.startswith("node_"):
            data["nodes"][key[5:]].update(value)
        else:
            data[key] = value
    return IvrConfig.model_validate(data)


# --- the happy path ----------------------------------------------------------------------------


def test_start_plays_welcome_then_offers_both_languages() -> None:
    s, step = new()
    assert step == Collect(
        vi("welcome", "choose_language") + en("choose_language"),
        max_digits=1,
        timeout_ms=3000,
    )
    assert [e.node_id for e in s.path] == ["screen", "hours", "welcome", "language"]


def test_identified_by_number_then_internet_fault() -> None:
    s = to_main()
    assert s.customer == CUSTOMER and s.language == "vi"
    step = s.feed(Digits("2"))
    assert step == Collect(vi("internet_menu"), 1, 5000, None, 3000)
    assert s.feed(Digits("1")) == Play(vi("transferring"))
    assert s.feed(Played()) == Transfer("internet", "fault")
    assert s.finished and s.outcome == "transferred"
    assert s.path_text() == "Internet › Báo hỏng"
    assert s.keys() == "2,1"
    summary = s.summary()
    assert summary["customer_id"] == "KH0012345"
    assert summary["queue"] == "internet" and summary["skill"] == "fault"
    assert summary["language"] == "vi"


def test_verified_prompt_rides_on_the_main_menu() -> None:
    s, _ = new()
    s.feed(Digits(None))
    step = s.feed(LookupResult(CUSTOMER))
    assert isinstance(step, Collect)
    assert step.prompts == vi("customer_verified", "main_menu")


@pytest.mark.parametrize(
    ("keys", "queue", "skill", "path"),
    [
        ("11", "mobile", "fault", "Di động › Báo hỏng"),
        ("12", "mobile", "sales", "Di động › Gói cước"),
        ("21", "internet", "fault", "Internet › Báo hỏng"),
        ("23", "internet", "sales", "Internet › Đăng ký dịch vụ"),
        ("31", "tv", "fault", "Truyền hình › Báo hỏng"),
        ("32", "tv", "sales", "Truyền hình › Gói kênh"),
        ("42", "billing", None, "Cước/thanh toán › Thanh toán, khiếu nại"),
        ("0", "general", None, "Tổng đài viên"),
        ("90", "general", None, "Tự phục vụ › Tổng đài viên"),
    ],
)
def test_each_branch_reaches_its_queue(keys: str, queue: str, skill: str | None, path: str) -> None:
    s = to_main()
    step: Step | None = None
    for key in keys:
        step = s.feed(Digits(key))
    assert step == Play(vi("transferring"))
    assert s.feed(Played()) == Transfer(queue, skill)
    assert s.path_text() == path


# --- wrong keys, silence, max attempts -----------------------------------------------------------


def test_wrong_key_replays_the_menu_after_the_invalid_prompt() -> None:
    s = to_main()
    step = s.feed(Digits("7"))
    assert isinstance(step, Collect) and step.prompts == vi("invalid_key", "main_menu")
    step = s.feed(Digits("3"))
    assert isinstance(step, Collect) and step.prompts == vi("tv_menu")
    assert s.path[-2].digits == ("7", "3")


def test_timeout_replays_the_menu_after_the_no_input_prompt() -> None:
    s = to_main()
    step = s.feed(Digits(None))
    assert isinstance(step, Collect) and step.prompts == vi("no_input", "main_menu")
    step = s.feed(Digits(""))  # Asterisk's GET DATA reports a timeout as an empty result
    assert isinstance(step, Collect) and step.prompts == vi("no_input", "main_menu")


def test_after_max_attempts_the_caller_goes_to_the_safe_default() -> None:
    s = to_main()
    s.feed(Digits("7"))
    s.feed(Digits(None))
    step = s.feed(Digits("8"))  # 3rd failure: 1 try + 2 retries spent
    assert step == Play(vi("transferring"))
    assert s.feed(Played()) == Transfer("general", None)
    assert s.path[-2].node_id == "main" and s.path[-2].digits == ("7", "8")
    assert s.outcome == "transferred"


def test_submenu_default_is_its_own_queue() -> None:
    s = to_main()
    s.feed(Digits("1"))
    for _ in range(3):
        step = s.feed(Digits("5"))
    assert step == Play(vi("transferring"))
    assert s.feed(Played()) == Transfer("mobile", None)


def test_star_goes_back_and_the_breadcrumb_follows() -> None:
    s = to_main()
    s.feed(Digits("1"))  # mobile
    s.feed(Digits("*"))  # back to main
    s.feed(Digits("2"))  # internet
    s.feed(Digits("1"))
    s.feed(Played())
    assert s.path_text() == "Internet › Báo hỏng"
    assert s.path_text(full=True) == "Di động › Internet › Báo hỏng"
    assert s.keys() == "1,*,2,1"


def test_non_dtmf_input_counts_as_wrong_and_is_not_echoed() -> None:
    s = to_main()
    step = s.feed(Digits("1\r\nHANGUP"))
    assert isinstance(step, Collect) and step.prompts == vi("invalid_key", "main_menu")
    assert s.path[-1].digits == ("?",)


def test_bouncing_forever_ends_at_the_fallback() -> None:
    s = to_main()
    step: Step = Collect((), 1, 1)
    for _ in range(200):
        step = s.feed(Digits("1"))  # into mobile
        if not isinstance(step, Collect):
            break
        step = s.feed(Digits("*"))  # and back
        if not isinstance(step, Collect):
            break
    assert step == Play(vi("transferring"))
    assert s.feed(Played()) == Transfer("general", None)
    assert len(s.path) <= DEFAULT.max_hops + 1


# --- language ------------------------------------------------------------------------------------


def test_english_switches_every_later_prompt_and_read_back() -> None:
    s = to_main(language_key="2")
    assert s.language == "en"
    step = s.feed(Digits("9"))
    assert isinstance(step, Collect) and step.prompts == en("self_menu")
    step = s.feed(Digits("2"))
    assert step == Play(
        en("ss_points_intro")
        + tuple(f"tongdai/en/num/{w}" for w in ("one", "thousand", "two", "hundred", "fifty", "points"))
    )


def test_wrong_language_key_retries_then_keeps_vietnamese() -> None:
    s, _ = new()
    step = s.feed(Digits("5"))
    assert isinstance(step, Collect)
    assert step.prompts == vi("invalid_key", "choose_language") + en("choose_language")
    step = s.feed(Digits("6"))  # retries: 1 in the default tree
    assert isinstance(step, LookupCustomer)
    assert s.language == "vi"


def test_customer_preferred_language_applies_unless_the_caller_chose() -> None:
    english_customer = CustomerFacts("KH9", language="en")
    s = to_main(customer=english_customer)
    assert s.language == "en"
    s2 = to_main(customer=english_customer, language_key="1")
    assert s2.language == "vi"


# --- identify ------------------------------------------------------------------------------------


def test_not_found_by_number_then_keyed_id_verified() -> None:
    s, _ = new()
    s.feed(Digits(None))
    step = s.feed(LookupResult(None))
    assert step == Collect(vi("ask_customer_id"), max_digits=12, timeout_ms=5000, terminator="#")
    assert s.feed(Digits("0012345#")) == LookupCustomer("customer_id", "0012345")
    step = s.feed(LookupResult(CUSTOMER))
    assert isinstance(step, Collect) and step.prompts == vi("customer_verified", "main_menu")
    assert s.customer == CUSTOMER
    assert s.path[-2].node_id == "identify" and s.path[-2].digits == ("0012345#",)


def test_keyed_id_fails_until_max_attempts_then_failed_node() -> None:
    s, _ = new()
    s.feed(Digits(None))
    s.feed(LookupResult(None))
    assert s.feed(Digits("11111")) == LookupCustomer("customer_id", "11111")
    step = s.feed(LookupResult(None))
    assert isinstance(step, Collect) and step.prompts == vi("customer_id_invalid", "ask_customer_id")
    step = s.feed(Digits("12"))  # too short: refused without a lookup
    assert isinstance(step, Collect) and step.prompts == vi("customer_id_invalid", "ask_customer_id")
    step = s.feed(Digits(None))  # third attempt: silence
    assert isinstance(step, Collect) and step.prompts == vi("no_input", "main_menu")
    assert s.customer is None
    assert s.path[-1].node_id == "main"


def test_crm_failure_does_not_make_the_caller_key_an_id() -> None:
    s, _ = new()
    s.feed(Digits(None))
    step = s.feed(LookupResult(None, failed=True))
    assert isinstance(step, Collect) and step.prompts == vi("main_menu")
    assert s.customer is None


def test_customer_known_beforehand_skips_the_lookup() -> None:
    s, _ = new(customer=CUSTOMER)
    step = s.feed(Digits(None))
    assert isinstance(step, Collect) and step.prompts == vi("main_menu")
    assert s.customer == CUSTOMER


# --- self-service -------------------------------------------------------------------------------


def _num(*slugs: str, lang: str = "vi") -> tuple[str, ...]:
    return tuple(f"tongdai/{lang}/num/{s}" for s in slugs)


def test_self_service_tier_points_bill() -> None:
    s = to_main()
    s.feed(Digits("9"))
    assert s.feed(Digits("1")) == Play(vi("ss_tier_intro", "tier_gold"))
    s.feed(Played())
    assert s.feed(Digits("2")) == Play(
        vi("ss_points_intro") + _num("mot5", "nghin2", "hai", "tram", "nam", "muoi", "diem3")
    )
    s.feed(Played())
    step = s.feed(Digits("3"))
    month = _num("thang1", "hai", "nam", "hai", "nghin2", "khong", "tram", "hai", "muoi", "sau1")
    amount = _num("mot5", "trieu5", "hai", "tram", "nam", "muoi", "nghin2", "dong2")
    assert step == Play(vi("ss_bill_intro") + month + vi("ss_bill_is") + amount)
    step = s.feed(Played())
    assert isinstance(step, Collect) and step.prompts == vi("self_menu")
    assert s.self_served == ["tier", "points", "bill"]
    s.on_hangup()
    assert s.outcome == "self_served"  # hanging up after a read-back: contained
    assert s.path_text() == "Tự phục vụ"


def test_self_service_unknown_tier_and_missing_facts() -> None:
    s = to_main(customer=CustomerFacts("KH7", tier="platinum"))
    s.feed(Digits("9"))
    assert s.feed(Digits("1")) == Play(vi("ss_tier_intro", "tier_standard"))
    s.feed(Played())
    assert s.feed(Digits("2")) == Play(vi("ss_points_intro", "ss_no_data"))
    s.feed(Played())
    assert s.feed(Digits("3")) == Play(vi("ss_no_data"))


def test_self_service_without_customer() -> None:
    s, _ = new()
    s.feed(Digits(None))
    s.feed(LookupResult(None, failed=True))  # CRM down: on to the main menu unidentified
    s.feed(Digits("9"))
    assert s.feed(Digits("2")) == Play(vi("ss_no_customer"))
    assert s.self_served == []


def test_outage_notice_for_the_customers_area() -> None:
    cfg = custom(outages={"hn-caugiay": "outage_generic"})
    s, _ = new(cfg=cfg)
    s.feed(Digits(None))
    s.feed(LookupResult(CUSTOMER))
    s.feed(Digits("2"))
    assert s.feed(Digits("2")) == Play(vi("outage_generic"))
    step = s.feed(Played())
    assert isinstance(step, Collect) and step.prompts == vi("internet_menu")
    # Another area: no notice.
    s2 = to_main(customer=CustomerFacts("KH8", area="hcm-q1"))
    s2.feed(Digits("2"))
    assert s2.feed(Digits("2")) == Play(vi("outage_none"))


def test_self_served_outcome_through_a_goodbye() -> None:
    cfg = custom(node_self={"options": {"2": "ss_points", "8": "bye", "*": "main"}})
    s, _ = new(cfg=cfg)
    s.feed(Digits(None))
    s.feed(LookupResult(CUSTOMER))
    s.feed(Digits("9"))
    s.feed(Digits("2"))
    s.feed(Played())
    assert s.feed(Digits("8")) == Play(vi("goodbye"))
    assert s.feed(Played()) == Hangup("self_served")
    assert s.outcome == "self_served"


# --- blocking ----------------------------------------------------------------------------------


def test_blocked_number_hears_the_refusal_and_is_hung_up() -> None:
    cfg = custom(node_screen={"numbers": ["+84912345678"]})
    s, step = new(cfg=cfg)
    assert step == Play(vi("blocked"))
    assert s.feed(Played()) == Hangup("blocked")
    assert s.outcome == "blocked" and s.blocked
    with pytest.raises(IvrStateError):
        s.feed(Played())


def test_blocked_prefix_and_unrelated_number() -> None:
    cfg = custom(node_screen={"numbers": ["1900*"]})
    _, step = new("19001234", cfg=cfg)
    assert step == Play(vi("blocked"))
    _, step = new("0987654321", cfg=cfg)
    assert isinstance(step, Collect)


@pytest.mark.parametrize("caller", [None, "anonymous", "", "Restricted"])
def test_anonymous_rejected(caller: str | None) -> None:
    cfg = custom(node_screen={"anonymous": "reject"})
    s, step = new(caller, cfg=cfg)
    assert step == Play(vi("blocked"))
    assert s.feed(Played()) == Hangup("blocked")


def test_anonymous_allowed_goes_on_without_a_number_lookup() -> None:
    cfg = custom(node_screen={"anonymous": "allow"})
    s, step = new(None, cfg=cfg)
    assert isinstance(step, Collect)
    step = s.feed(Digits(None))
    assert isinstance(step, Collect) and step.prompts == vi("ask_customer_id")
    for _ in range(3):
        step = s.feed(Digits(None))
    assert isinstance(step, Collect) and step.prompts[-1] == "tongdai/vi/main_menu"  # failed → main


def test_anonymous_ask_id_verified_goes_on() -> None:
    s, _ = new(None)  # the default tree asks anonymous callers for their ID
    step = s.feed(Digits(None))
    assert isinstance(step, Collect) and step.prompts == vi("ask_customer_id")
    assert s.feed(Digits("0012345")) == LookupCustomer("customer_id", "0012345")
    step = s.feed(LookupResult(CUSTOMER))
    assert isinstance(step, Collect) and step.prompts[-1] == "tongdai/vi/main_menu"
    assert not s.blocked


def test_anonymous_ask_id_failing_is_blocked() -> None:
    s, _ = new(None)
    s.feed(Digits(None))
    for attempt in range(3):
        assert s.feed(Digits(f"99999{attempt}")) == LookupCustomer("customer_id", f"99999{attempt}")
        step = s.feed(LookupResult(None))
    assert step == Play(vi("customer_id_invalid", "blocked"))
    assert s.feed(Played()) == Hangup("blocked")
    assert s.outcome == "blocked"


# --- hours and callback -------------------------------------------------------------------------


@pytest.mark.parametrize("now", [NIGHT, TET])
def test_closed_offers_a_callback_and_records_it(now: dt.datetime) -> None:
    s, step = new(now=now)
    assert step == Collect(vi("closed", "callback_offer"), max_digits=1, timeout_ms=5000)
    assert s.feed(Digits("1")) == RequestCallback(CALLER)
    assert s.feed(Done()) == Play(vi("callback_confirmed", "goodbye"))
    assert s.feed(Played()) == Hangup("callback")
    assert s.outcome == "callback" and s.callback_requested
    assert s.path_text() == "Ngoài giờ › Hẹn gọi lại"


def test_closed_and_callback_declined() -> None:
    s, _ = new(now=NIGHT)
    assert s.feed(Digits(None)) == Play(vi("goodbye"))
    assert s.feed(Played()) == Hangup("closed")
    assert s.outcome == "closed" and not s.callback_requested


def test_closed_anonymous_caller_cannot_get_a_callback() -> None:
    cfg = custom(node_screen={"anonymous": "allow"})
    s, step = new(None, cfg=cfg, now=NIGHT)
    assert step == Play(vi("closed", "callback_no_number", "goodbye"))
    assert s.feed(Played()) == Hangup("closed")


def test_hangup_during_goodbye_keeps_the_decision() -> None:
    s, _ = new(now=NIGHT)
    s.feed(Digits("1"))
    s.feed(Done())  # callback recorded, goodbye playing
    s.on_hangup()
    assert s.outcome == "callback"


# --- hang-ups and protocol misuse ------------------------------------------------------------------


def test_caller_hangs_up_in_a_menu() -> None:
    s = to_main()
    s.feed(Digits("2"))
    s.on_hangup()
    assert s.finished and s.outcome == "hung_up"
    assert s.path_text() == "Internet"
    assert [e.node_id for e in s.path][-2:] == ["main", "internet"]
    with pytest.raises(IvrStateError):
        s.feed(Digits("1"))


def test_hangup_before_the_transfer_happened_is_not_a_transfer() -> None:
    s = to_main()
    s.feed(Digits("0"))  # "transferring" prompt playing
    s.on_hangup()
    assert s.outcome == "hung_up" and s.transfer is None


def test_wrong_result_type_is_a_driver_bug() -> None:
    s, _ = new()
    with pytest.raises(IvrStateError, match="expected Digits"):
        s.feed(Played())
    with pytest.raises(IvrStateError):
        s.start()


# --- caller ID is data ---------------------------------------------------------------------------


def test_caller_name_with_quotes_and_newlines_is_only_data() -> None:
    evil_name = '"Bob"\r\nAction: Originate\nEXEC Dial("SIP/666")'
    s, step = new(name=evil_name)
    steps = [
        step,
        s.feed(Digits(None)),
        s.feed(LookupResult(CUSTOMER)),
        s.feed(Digits("0")),
        s.feed(Played()),
    ]
    for st in steps:
        assert "Bob" not in repr(st) and "\n" not in repr(st)
    assert s.outcome == "transferred"
    assert "Bob" not in str(s.summary())
    assert s.call.caller_name == evil_name  # kept, untouched, for whoever displays it escaped


def test_caller_number_with_injection_is_treated_as_anonymous() -> None:
    cfg = custom(node_screen={"anonymous": "allow"})
    s, _ = new("0912345678\nHANGUP", cfg=cfg)
    assert s.caller is None and s.anonymous
    step = s.feed(Digits(None))
    assert isinstance(step, Collect) and step.prompts == vi("ask_customer_id")  # no number lookup


def test_international_caller_number_is_normalised_for_lookup() -> None:
    s, _ = new("+84 912-345-678")
    assert s.feed(Digits(None)) == LookupCustomer("number", "0912345678")


# --- a small hand-written tree -------------------------------------------------------------------


def test_minimal_tree_menu_default_and_play() -> None:
    cfg = IvrConfig.model_validate(
        {
            "languages": ["vi"],
            "entry": "hello",
            "fallback": "agent",
            "input": {"retries": 0, "timeout_ms": 4000},
            "nodes": {
                "hello": {"type": "play", "prompt": "welcome", "next": "menu"},
                "menu": {"type": "menu", "prompt": "main_menu", "options": {"1": "bye"}, "default": "bye"},
                "agent": {"type": "transfer", "queue": "general"},
                "bye": {"type": "hangup"},
            },
        }
    )
    s, step = new(cfg=cfg)
    assert step == Collect(vi("welcome", "main_menu"), 1, 4000, None, 3000)
    assert s.feed(Digits(None)) == Hangup("hung_up")  # retries 0: the first silence goes to default
    assert s.outcome == "hung_up"


def test_queued_prompt_waits_for_the_lookup_and_rides_on_the_menu() -> None:
    cfg = IvrConfig.model_validate(
        {
            "entry": "hello",
            "fallback": "agent",
            "nodes": {
                "hello": {"type": "play", "prompt": "welcome", "next": "ident"},
                "ident": {"type": "identify", "next": "menu", "failed": "menu"},
                "menu": {"type": "menu", "prompt": "main_menu", "options": {"0": "agent"}},
                "agent": {"type": "transfer", "queue": "general"},
            },
        }
    )
    s, step = new(cfg=cfg)
    assert step == LookupCustomer("number", CALLER)  # no silent round trip for the welcome alone
    step = s.feed(LookupResult(CUSTOMER))
    assert isinstance(step, Collect) and step.prompts == vi("welcome", "main_menu")
    assert s.feed(Digits("0")) == Transfer("general", None)  # no prompt: transferred at once
    assert s.outcome == "transferred" and s.path_text() == ""


def test_anonymous_ask_id_with_crm_down_goes_to_a_person() -> None:
    s, _ = new(None)
    s.feed(Digits(None))
    s.feed(Digits("0012345"))
    assert s.feed(LookupResult(None, failed=True)) == Play(vi("transferring"))
    assert s.feed(Played()) == Transfer("general", None)
    assert not s.blocked
