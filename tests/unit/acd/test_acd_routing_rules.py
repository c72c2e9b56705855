"""Skills, VIP group and sticky agent (acd/routing.py): penalties, windows, stages, the queue rule."""

from __future__ import annotations

import pytest

from acd.routing import (
    OPEN_MAX,
    AgentSkills,
    QueueSpec,
    RoutingConfig,
    RoutingPlan,
    check_routing,
    plan_from,
)
from core.members import base_queue
from tests.support.settings import base_config, make_settings

AGENTS = [
    AgentSkills("2001", {"internet": 5, "fault": 5}),  # the internet fault expert
    AgentSkills("2002", {"internet": 5}),  # internet generalist, top level
    AgentSkills("2003", {"internet": 2}, frozenset({"en"})),  # internet generalist, junior, speaks English
    AgentSkills("2004", {"mobile": 5}),  # another skill
    AgentSkills("2005"),  # no skill: listed in members only
    AgentSkills("2006"),  # the VIP desk
]
INTERNET = QueueSpec("internet", "internet", {"2005": 2})


def plan(**config: object) -> RoutingPlan:
    return RoutingPlan(
        [INTERNET, QueueSpec("mobile", "mobile"), QueueSpec("care", "", {"2005": 0})],
        AGENTS,
        {"internet": ["fault", "sales"]},
        RoutingConfig.model_validate(config),
        default_language="vi",
        languages=["vi", "en"],
    )


def test_penalties_are_bands_by_node_skill_then_the_queue_skill_then_the_rest() -> None:
    # bands: 0 fault, 1 sales (nobody), 2 internet only, 3 members without skill
    assert plan().members("internet") == {
        "2005": 1 + 30 + 2,  # a plain member, after every skilled agent, keeps its own penalty order
        "2001": 1,  # fault level 5: top of band 0
        "2002": 21,  # internet level 5: top of band 2
        "2003": 24,  # internet level 2: three levels down in band 2
    }
    # The queue's skill brings its agents; an agent of another skill is not a member.
    assert "2004" not in plan().members("internet")


def test_a_caller_starts_at_the_top_level_of_its_skill_band() -> None:
    p = plan()
    fault = p.window("internet", "fault")
    assert fault is not None and (fault.min_penalty, fault.max_penalty) == (1, 1)
    general = p.window("internet", "")
    assert general is not None and (general.min_penalty, general.max_penalty) == (21, 21)
    # Nobody has "sales": the queue's own skill band, not a window nobody can answer.
    assert p.window("internet", "sales") == general


def test_queues_without_skilled_members_keep_config_penalties_and_no_window() -> None:
    p = plan()
    assert p.members("care") == {"2005": 0}
    assert p.window("care", "fault") is None
    assert p.route("care", skill="fault").window is None


def test_the_rule_widens_one_level_per_step_then_opens_every_band() -> None:
    steps = [s.line() for s in plan(skills={"widen_every_seconds": 10, "all_after_seconds": 25}).rule_steps()]
    assert steps == [
        "penaltychange => 10,+1",
        "penaltychange => 20,+1",
        f"penaltychange => 25,{OPEN_MAX},0",
    ]


def test_the_window_reaches_a_lower_level_after_the_steps() -> None:
    # band 2 top is 21; the junior agent (24) is reached after three +1 steps, at 30 s here
    p = plan(skills={"widen_every_seconds": 10, "all_after_seconds": 40})
    w = p.window("internet", "")
    assert w is not None
    reached = w.max_penalty + 3
    assert reached >= p.members("internet")["2003"]
    assert [s.seconds for s in p.rule_steps()][:3] == [10, 20, 30]


def test_vip_callers_try_the_vip_group_first_others_do_not() -> None:
    p = plan(queues={"internet": {"vip_agents": ["2006"], "vip_first_seconds": 12}})
    vip = p.route("internet", tier="vip")
    assert vip.stages_var() == "internet.vip:12"
    assert vip.window is None  # after the desk, any agent of the queue: a VIP has waited enough
    assert p.route("internet", tier="standard").stages == ()
    # The VIP desk serves the queue too, after every band (4 = after the plain members' band 3) …
    assert p.agent_queues("2006") == {"internet.vip": 0, "internet": 41}
    # … or VIPs only.
    dedicated = plan(queues={"internet": {"vip_agents": ["2006"], "vip_share_pool": False}})
    assert dedicated.agent_queues("2006") == {"internet.vip": 0}


def test_the_sticky_agent_is_tried_first_then_the_vip_group_then_the_language() -> None:
    p = plan(
        sticky={"days": 30, "seconds": 8},
        queues={"internet": {"vip_agents": ["2006"]}},
        language_first_seconds=15,
    )
    r = p.route("internet", tier="vip", language="en", sticky_agent="2002")
    assert r.stages_var() == "internet.a2002:8&internet.vip:5&internet.en:15"
    assert r.sticky_agent == "2002"
    # Only English speakers are in the language stage, with their queue penalty.
    (en,) = [s for s in p.stage_queues() if s.name == "internet.en"]
    assert dict(en.members) == {"2003": 24}
    # A last agent who is not a member of the queue gets no stage (nor the pop's "sticky" line).
    r = p.route("internet", sticky_agent="2004")
    assert r.sticky_agent == "" and not any(s.kind == "sticky" for s in r.stages)
    # Every stage counts as its queue in reports.
    assert {base_queue(s.queue) for s in p.route("internet", tier="vip", sticky_agent="2002").stages} == {
        "internet"
    }


def test_sticky_off_by_default_and_per_queue() -> None:
    assert plan().route("internet", sticky_agent="2002").stages == ()
    p = plan(queues={"internet": {"sticky": {"seconds": 5}}})
    assert p.route("internet", sticky_agent="2002").stages_var() == "internet.a2002:5"
    assert p.route("mobile", sticky_agent="2004").stages == ()


def test_agent_queues_include_stages_of_the_queues_asked_for() -> None:
    p = plan(sticky={"seconds": 8})
    assert p.agent_queues("2002") == {"internet": 21, "internet.a2002": 0}
    assert p.agent_queues("2002", only=["mobile"]) == {}


def test_check_routing_names_unknown_references() -> None:
    cfg = RoutingConfig.model_validate(
        {
            "skills": {"widen_every_seconds": 30, "all_after_seconds": 20},
            "queues": {"nope": {"vip_agents": ["9"]}},
        }
    )
    problems = list(check_routing(cfg, ["internet"], ["2001"], ["vip"]))
    assert any("all_after_seconds" in p for p in problems)
    assert any(p.startswith("routing.queues.nope:") for p in problems)
    assert any("vip_agents.0: unknown agent '9'" in p for p in problems)


def test_plan_from_the_settings_reads_skills_languages_and_node_skills() -> None:
    agents = base_config()["agents"]
    agents[1] = {**agents[1], "skills": {"internet": 4, "fault": 3}, "languages": ["en"]}
    s = make_settings(agents=agents, routing={"language_first_seconds": 10})
    p = plan_from(s)
    # the shipped tree asks for fault and sales in internet: 1002 is in the fault band, 1003 a member
    assert p.members("internet") == {"1002": 1 + 2, "1003": 1 + 30}
    assert p.route("internet", skill="fault", language="en").stages_var() == "internet.en:10"
    # mobile lists 1002 with penalty 1: its fault skill puts it in mobile's fault band too
    assert p.members("mobile")["1002"] == 3


def test_bad_skill_levels_are_refused() -> None:
    agents = base_config()["agents"]
    agents[0] = {**agents[0], "skills": {"internet": 7}}
    with pytest.raises(ValueError, match=r"level must be within 1\.\.5"):
        make_settings(agents=agents)
