"""The IVR config model: the default tree loads, and every kind of broken tree is refused at load
with an error at the dotted path of the bad key."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from core.phone import caller_national
from ivr.config import (
    BlocklistNode,
    IvrConfig,
    MenuNode,
    TransferNode,
    default_prompts,
    default_tree,
)


def tree(**nodes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "main": {"type": "menu", "prompt": "main_menu", "options": {"1": "agent", "2": "bye"}},
        "agent": {"type": "transfer", "queue": "general"},
        "bye": {"type": "hangup"},
    }
    base.update(nodes)
    return {"entry": "main", "fallback": "agent", "nodes": base}


def problems(data: dict[str, Any]) -> list[str]:
    """Errors as the config loader prints them under the ``ivr:`` section."""
    try:
        IvrConfig.model_validate(data)
    except ValidationError as err:
        return [f"ivr.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]
    return []


def test_default_tree_is_valid_and_names_its_queues() -> None:
    cfg = IvrConfig.default()
    assert cfg.entry == "screen"
    assert cfg.default_language == "vi"
    assert cfg.transfer_queues() == {"mobile", "internet", "tv", "billing", "general"}
    assert IvrConfig.default(agent_queue="support").transfer_queues() >= {"support"}
    main = cfg.nodes["main"]
    assert isinstance(main, MenuNode)
    assert set(main.options) == {"1", "2", "3", "4", "9", "0"}


def test_default_tree_round_trips_through_yaml() -> None:
    text = yaml.safe_dump({"ivr": default_tree()}, allow_unicode=True)
    assert "Báo hỏng" in text
    cfg = IvrConfig.model_validate(yaml.safe_load(text)["ivr"])
    assert cfg == IvrConfig.default()


def test_catalogue_is_vietnamese_first_with_diacritics_and_has_english() -> None:
    catalogue = default_prompts()
    for prompt_id, texts in catalogue.items():
        assert next(iter(texts)) == "vi", prompt_id
        assert texts["vi"] and texts["en"], prompt_id
    assert "Chào mừng quý khách" in catalogue["welcome"]["vi"]


def test_prompts_in_config_extend_and_replace_the_catalogue() -> None:
    data = tree()
    data["prompts"] = {
        "main_menu": {"vi": "Thực đơn mới.", "en": "New menu."},
        "promo": {"vi": "Khuyến mãi tháng này."},
    }
    cfg = IvrConfig.model_validate(data)
    assert cfg.prompts["main_menu"].vi == "Thực đơn mới."
    assert cfg.prompts["promo"].en is None  # fine while no node plays it
    assert cfg.prompts["welcome"].vi == default_prompts()["welcome"]["vi"]


def test_dangling_reference_names_node_and_field() -> None:
    data = tree()
    data["nodes"]["main"]["options"]["3"] = "billing_menu"
    assert problems(data) == ["ivr.nodes.main.options.3: points to unknown node 'billing_menu'"]


def test_error_paths_nest_under_the_ivr_section() -> None:
    class Settings(BaseModel):
        ivr: IvrConfig

    data = tree()
    data["nodes"]["main"]["default"] = "nowhere"
    with pytest.raises(ValidationError) as info:
        Settings.model_validate({"ivr": data})
    [err] = info.value.errors()
    assert err["loc"] == ("ivr", "nodes", "main", "default")
    assert err["msg"] == "points to unknown node 'nowhere'"


def test_every_dangling_reference_is_reported_at_once() -> None:
    data = tree(
        ident={"type": "identify", "next": "gone_a", "failed": "gone_b"},
        hrs={"type": "hours", "open": "main", "closed": "gone_c"},
    )
    assert sorted(problems(data)) == [
        "ivr.nodes.hrs.closed: points to unknown node 'gone_c'",
        "ivr.nodes.ident.failed: points to unknown node 'gone_b'",
        "ivr.nodes.ident.next: points to unknown node 'gone_a'",
    ]


def test_loop_with_no_exit_names_the_nodes() -> None:
    data = tree(
        loop_a={"type": "menu", "prompt": "main_menu", "options": {"1": "loop_b"}, "default": "loop_b"},
        loop_b={"type": "play", "prompt": "welcome", "next": "loop_a"},
    )
    data["nodes"]["main"]["options"]["3"] = "loop_a"
    [msg] = problems(data)
    assert msg.startswith("ivr.nodes: a loop with no exit: loop_a, loop_b can never reach")


def test_loop_with_an_exit_is_fine() -> None:
    data = tree(sub={"type": "menu", "prompt": "self_menu", "options": {"*": "main", "1": "sub"}})
    data["nodes"]["main"]["options"]["9"] = "sub"
    data["nodes"]["main"]["default"] = "main"  # a menu that re-asks forever still has exits by key
    assert problems(data) == []


def test_menu_without_default_reaches_the_fallback() -> None:
    # Only the fallback (via retries) gets this menu out: that counts as an exit.
    data = tree(sub={"type": "menu", "prompt": "self_menu", "options": {"1": "sub"}})
    data["nodes"]["main"]["options"]["9"] = "sub"
    assert problems(data) == []


def test_loop_of_automatic_nodes_is_refused() -> None:
    data = tree(
        screen={"type": "blocklist", "blocked": "bye", "next": "hrs"},
        hrs={"type": "hours", "open": "screen", "closed": "bye"},
    )
    data["entry"] = "screen"
    [msg] = problems(data)
    assert "loop without any caller input" in msg
    assert "hrs → screen → hrs" in msg or "screen → hrs → screen" in msg


def test_entry_and_fallback_must_exist_and_fallback_must_be_a_transfer() -> None:
    data = tree()
    data["entry"] = "start"
    data["fallback"] = "bye"
    assert sorted(problems(data)) == [
        "ivr.entry: points to unknown node 'start'",
        "ivr.fallback: node 'bye' must be a transfer (the safe default)",
    ]


@pytest.mark.parametrize("key", ["x", "12", "", "A"])
def test_menu_keys_are_single_dtmf_digits(key: str) -> None:
    data = tree()
    data["nodes"]["main"]["options"][key] = "agent"
    errs = problems(data)
    assert errs and all("nodes.main" in e for e in errs)


def test_star_and_hash_are_valid_keys() -> None:
    data = tree()
    data["nodes"]["main"]["options"].update({"*": "agent", "#": "bye", "0": "agent"})
    assert problems(data) == []


def test_prompt_must_exist_in_every_language() -> None:
    data = tree()
    data["nodes"]["main"]["prompt"] = "no_such_prompt"
    assert problems(data) == [
        "ivr.nodes.main.prompt: prompt 'no_such_prompt' is not in the prompts catalogue"
    ]
    data = tree()
    data["prompts"] = {"vi_only": {"vi": "Chỉ tiếng Việt."}}
    data["nodes"]["main"]["prompt"] = "vi_only"
    assert problems(data) == ["ivr.nodes.main.prompt: prompt 'vi_only' has no text for en"]
    data["languages"] = ["vi"]  # an IVR that speaks only Vietnamese does not need English texts
    assert problems(data) == []


def test_default_language_must_be_spoken() -> None:
    data = tree()
    data["languages"] = ["vi"]
    data["default_language"] = "en"
    assert problems(data) == ["ivr.default_language: 'en' is not in languages"]


def test_language_node_options() -> None:
    data = tree(lang={"type": "language", "options": {"1": "vi", "2": "en"}, "next": "main"})
    data["entry"] = "lang"
    assert problems(data) == []
    data["nodes"]["lang"]["options"]["3"] = "fr"
    assert any("nodes.lang" in e for e in problems(data))
    data["nodes"]["lang"]["options"] = {"1": "vi", "2": "en"}
    data["languages"] = ["vi"]
    assert "ivr.nodes.lang.options.2: 'en' is not in languages" in problems(data)


def test_unknown_keys_and_unsafe_ids_are_refused() -> None:
    data = tree()
    data["nodes"]["main"]["optoins"] = {}
    assert any("optoins" in e for e in problems(data))
    data = tree()
    data["nodes"]["main"]["prompt"] = "../../etc/passwd"
    assert any("nodes.main" in e for e in problems(data))
    data = tree()
    data["nodes"]["Main Menu"] = data["nodes"].pop("main")
    assert problems(data)
    data = tree()
    data["nodes"]["main"]["type"] = "ringgroup"
    assert problems(data)


def test_outage_prompts_are_checked() -> None:
    data = tree()
    data["outages"] = {"hn-caugiay": "outage_generic", "hcm-q1": "missing_notice"}
    assert problems(data) == ["ivr.outages.hcm-q1: prompt 'missing_notice' is not in the prompts catalogue"]


def test_self_service_accepts_one_item_or_many_and_needs_a_fallback_tier() -> None:
    data = tree(ss={"type": "self_service", "what": "points", "next": "main"})
    data["nodes"]["main"]["options"]["9"] = "ss"
    cfg = IvrConfig.model_validate(data)
    assert cfg.nodes["ss"].what == ("points",)  # type: ignore[union-attr]
    data["nodes"]["ss"] = {"type": "self_service", "what": ["tier", "bill"], "next": "main",
                           "tier_prompts": {"vip": "tier_vip"}}  # fmt: skip
    assert any("'other'" in e for e in problems(data))


def test_blocklist_numbers_are_normalised_and_checked() -> None:
    data = tree(screen={"type": "blocklist", "numbers": ["+84 912 345 678", "1900*", "0243.555.1234"],
                        "blocked": "bye", "next": "main"})  # fmt: skip
    data["entry"] = "screen"
    node = IvrConfig.model_validate(data).nodes["screen"]
    assert isinstance(node, BlocklistNode)
    assert node.numbers == ["0912345678", "1900*", "02435551234"]
    assert node.matches("0912345678") and node.matches("19001234") and not node.matches("0912345679")
    data["nodes"]["screen"]["numbers"] = ["09x"]
    assert any("nodes.screen.numbers" in e for e in problems(data))


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("+84912345678", "0912345678"),
        ("84912345678", "0912345678"),
        ("0084912345678", "0912345678"),
        ("0912 345 678", "0912345678"),
        ("(024) 3555-1234", "02435551234"),
        ("+14155550100", "+14155550100"),
        ("anonymous", None),
        ("Unknown", None),
        ("", None),
        (None, None),
        ("0912345678\nAction: Originate", None),
        ("12", None),
    ],
)
def test_normalize_number(raw: str | None, normal: str | None) -> None:
    assert caller_national(raw) == normal


def test_identify_digit_bounds() -> None:
    data = tree(
        ident={"type": "identify", "next": "main", "failed": "main", "min_digits": 9, "max_digits": 6}
    )
    data["entry"] = "ident"
    assert any("min_digits" in e for e in problems(data))


def test_transfer_queue_and_skill_names() -> None:
    data = tree()
    data["nodes"]["agent"] = {"type": "transfer", "queue": "internet", "skill": "fault"}
    node = IvrConfig.model_validate(data).nodes["agent"]
    assert isinstance(node, TransferNode) and node.skill == "fault"
    bad = copy.deepcopy(data)
    bad["nodes"]["agent"]["queue"] = "Internet Queue!"
    assert any("nodes.agent" in e for e in problems(bad))


def test_field_errors_inside_a_node_have_plain_paths() -> None:
    data = tree()
    data["nodes"]["main"]["retries"] = "many"
    data["nodes"]["agent"]["skil"] = "x"
    data["nodes"]["bye"] = {"type": "ringgroup"}
    errs = problems(data)
    assert any(e.startswith("ivr.nodes.main.retries: ") for e in errs)
    assert any(e.startswith("ivr.nodes.agent.skil: ") for e in errs)
    assert any(e.startswith("ivr.nodes.bye.type: unknown node type 'ringgroup'") for e in errs)
