"""Queue exits (acd/exits.py): the rule chosen, the aged priority carried, and config validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from acd.exits import ExitRule, ExitsConfig, decide_exit
from acd.policy import RoutingPolicy
from core.errors import ConfigError
from tests.support.settings import REPO
from tongdai.settings import parse_config

POLICY = RoutingPolicy()  # vip 300 / 15 s, gold 25 / 30 s, standard 10 / 60 s, weight 16
MAX_WAIT = {"mobile": 600, "care": 600, "billing": 600}


def exits(**queues: dict[str, object]) -> ExitsConfig:
    return ExitsConfig.model_validate({"queues": queues})


def test_default_is_the_callback_offer_never_a_hangup() -> None:
    d = decide_exit(
        ExitsConfig(),
        POLICY,
        queue="mobile",
        tier="standard",
        waited_seconds=600,
        visited=[],
        max_wait=MAX_WAIT,
    )
    assert d.action == "callback"
    assert d.queue == "mobile"
    assert d.priority == POLICY.effective_priority("standard", 600)  # the place earned, not the base


def test_overflow_keeps_the_aged_priority_and_uses_the_next_queues_limit() -> None:
    cfg = exits(
        mobile={"exit": {"action": "overflow", "to": "care", "after_seconds": 120}},
        care={"exit": {"action": "callback", "after_seconds": 90}},
    )
    assert cfg.wait_limit("mobile", "standard", 600) == 120
    d = decide_exit(
        cfg, POLICY, queue="mobile", tier="standard", waited_seconds=120, visited=[], max_wait=MAX_WAIT
    )
    assert (d.action, d.queue, d.max_wait, d.hops) == ("overflow", "care", 90, 1)
    assert d.priority == 10 + 16 * 2  # two standard targets waited


def test_tier_rule_wins_over_the_queue_rule() -> None:
    cfg = exits(
        billing={"exit": {"action": "callback"}, "tiers": {"vip": {"action": "overflow", "to": "care"}}}
    )
    assert cfg.rule("billing", "vip").action == "overflow"
    assert cfg.rule("billing", "gold").action == "callback"
    assert cfg.rule("unlisted", "vip") == cfg.default


def test_a_spent_chain_ends_in_the_callback_offer() -> None:
    cfg = ExitsConfig.model_validate(
        {"max_hops": 1, "queues": {"care": {"exit": {"action": "overflow", "to": "billing"}}}}
    )
    d = decide_exit(
        cfg, POLICY, queue="care", tier="gold", waited_seconds=30, visited=["mobile"], max_wait=MAX_WAIT
    )
    assert d.action == "callback"
    # Never back into a queue already visited, whatever max_hops says.
    cfg2 = exits(care={"exit": {"action": "overflow", "to": "mobile"}})
    d2 = decide_exit(
        cfg2, POLICY, queue="care", tier="gold", waited_seconds=30, visited=["mobile"], max_wait=MAX_WAIT
    )
    assert d2.action == "callback"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"action": "overflow"}, "needs 'to'"),
        ({"action": "voicemail"}, "needs 'mailbox'"),
        ({"action": "callback", "to": "care"}, "only for action overflow"),
        ({"action": "goodbye", "mailbox": "100"}, "only for action voicemail"),
        ({"action": "hangup"}, "action"),
        ({"action": "callback", "after_seconds": 1}, "after_seconds"),
    ],
)
def test_incomplete_rules_are_refused(rule: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ExitRule.model_validate(rule)


def _config_with(section: str) -> str:
    """The shipped config.yaml with its ``queue_exits`` section replaced by ``section``."""
    text = (REPO / "config.yaml").read_text(encoding="utf-8")
    start = text.index("\nqueue_exits:\n")
    end = text.index("\n\n", start + 1)
    return text[:start] + text[end:] + "\n" + section


def test_config_errors_name_the_key() -> None:
    bad = _config_with(
        "queue_exits:\n"
        "  queues:\n"
        "    mobile: {exit: {action: overflow, to: nowhere}}\n"
        "    nosuch: {exit: {action: callback}}\n"
        "    tv: {tiers: {platinum: {action: callback}}}\n"
    )
    with pytest.raises(ConfigError) as err:
        parse_config(bad, env={"TONGDAI__DEMO": "1"})
    text = str(err.value)
    assert "queue_exits.queues.mobile.exit.to (line " in text
    assert "'nowhere' is not a configured queue" in text
    assert "queue_exits.queues.nosuch (line " in text
    assert "queue_exits.queues.tv.tiers.platinum (line " in text
    assert "not a tier in acd.tiers" in text


def test_overflow_cycles_are_refused() -> None:
    bad = _config_with(
        "queue_exits:\n"
        "  queues:\n"
        "    mobile: {exit: {action: overflow, to: care}}\n"
        "    care: {exit: {action: overflow, to: mobile}}\n"
    )
    with pytest.raises(ConfigError, match="overflow cycle"):
        parse_config(bad, env={"TONGDAI__DEMO": "1"})


def test_bad_rule_error_names_its_line() -> None:
    bad = _config_with("queue_exits:\n  default: {action: voicemail}\n")
    with pytest.raises(ConfigError) as err:
        parse_config(bad, env={"TONGDAI__DEMO": "1"})
    assert "queue_exits.default" in str(err.value)
    assert "line" in str(err.value)
