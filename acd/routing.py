"""Who is offered a call first: skills with levels, the VIP agent group and the sticky agent.

Pure rules, no I/O (docs/acd-policy.md, "Skills, VIP group, sticky agent", says why app_queue carries
them). Everything is expressed with what app_queue does natively, so the bridge stays out of the call
path and tier priority with aging (acd/policy.py) keeps ordering the callers:

* **Skills → member penalties and a penalty window.** In a queue, an agent's penalty is its *band*
  (which of the queue's requested skills it serves) plus how far its level is from the top. The
  queue's own ``skill`` makes every agent who has it a member; the IVR transfer nodes' ``skill:``
  values into that queue (the *node skills*) split its agents into bands::

      band i   (node skill i, i = 0..n-1)  agents with node skill i (their best one) → 1 + 10·i + (5 − level)
      band n   (the queue's skill only)     the rest that have the queue's skill    → 1 + 10·n + (5 − level)
      band n+1 (listed in members, no skill)                                        → 1 + 10·(n+1) + penalty

  A caller enters with ``QUEUE_MIN_PENALTY`` = ``QUEUE_MAX_PENALTY`` = the first penalty of the band
  of its skill (the node's, else the queue's), so only the best-levelled agents of that skill are
  offered the call; the queue rule ``tongdai-skills`` (queuerules.conf) widens the maximum by one level
  every ``widen_every_seconds``, then opens the whole queue (every band, every level) at
  ``all_after_seconds``. A queue where no member has any of its skills keeps the configured member
  penalties and no window: nothing changes for a deployment without skills.
* **Stages before the queue.** A caller can spend a few seconds in *stage queues* first, each holding
  only the agents to try first: the sticky agent (``<queue>.a<agent>``, skipped at once when that agent
  is not ready: joinempty), then the VIP group for VIP tiers (``<queue>.vip``), then the agents who
  speak the caller's language when it is not the IVR's default (``<queue>.<lang>``). Then the queue
  itself. Stage names contain a '.', which no configured queue may, so every report counts a stage as
  its queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from core.members import STAGE_SEP

MAX_LEVEL = 5  # skill levels are 1 (can take the call) … 5 (expert)
BAND = 10  # penalty width of one band: more than the levels, so bands never overlap
RULE = "tongdai-skills"  # the one queue rule of queuerules.conf: widening is relative, so it is shared
OPEN_MAX = 100_000  # "every member" as QUEUE_MAX_PENALTY (app_queue has no "unlimited" literal in rules)

StageKind = Literal["sticky", "vip", "language"]


# --- config.yaml: the ``routing:`` section ------------------------------------------------------------


class SkillWidening(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The caller's window takes one more (lower) level of its skill every this many seconds …
    widen_every_seconds: int = Field(3, ge=1, le=600)
    # … and every member of the queue (other skills, no skill) from this wait in the queue on. Short by
    # default: at 95 % occupancy every second an expert is waited for costs the service level
    # (bench/acd_routing_report.py); at lower loads a longer preference is cheap.
    all_after_seconds: int = Field(12, ge=1, le=3600)


class StickyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The agent who answered this customer's last call within ``days`` is offered the call first, for
    # ``seconds`` (0: off); skipped at once when that agent is not ready (paused, busy, wrap-up, out).
    days: int = Field(30, ge=1, le=365)
    seconds: int = Field(0, ge=0, le=60)


class QueueRouting(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The VIP agent group: callers of ``vip_tiers`` wait ``vip_first_seconds`` for one of these agents
    # before the queue's own agents; skipped at once when none of them is logged in and unpaused.
    vip_agents: list[str] = Field(default_factory=list)
    vip_tiers: list[str] = Field(default_factory=lambda: ["vip"])
    vip_first_seconds: int = Field(5, ge=1, le=600)
    # The VIP agents also serve the queue, after every other agent (last band): at high occupancy a
    # desk kept idle for VIPs costs everyone else (bench/acd_routing_report.py). False: VIPs only.
    vip_share_pool: bool = True
    sticky: StickyConfig | None = None  # unset: routing.sticky


class RoutingConfig(BaseModel):
    """config.yaml ``routing:`` (module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    skills: SkillWidening = SkillWidening()
    sticky: StickyConfig = StickyConfig()
    # Seconds a caller whose language is not the IVR's default waits for agents who speak it (0: off).
    language_first_seconds: int = Field(15, ge=0, le=600)
    queues: dict[str, QueueRouting] = Field(default_factory=dict)

    def queue(self, name: str) -> QueueRouting:
        return self.queues.get(name) or QueueRouting()

    def sticky_for(self, queue: str) -> StickyConfig:
        return self.queue(queue).sticky or self.sticky


# --- the plan ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentSkills:
    agent_id: str
    skills: Mapping[str, int] = field(default_factory=dict)
    languages: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class QueueSpec:
    name: str
    skill: str = ""
    members: Mapping[str, int] = field(default_factory=dict)  # configured members → penalty


@dataclass(frozen=True, slots=True)
class Window:
    """A caller's starting penalty window (QUEUE_MIN_PENALTY, QUEUE_MAX_PENALTY) and its queue rule."""

    min_penalty: int
    max_penalty: int
    rule: str = RULE


@dataclass(frozen=True, slots=True)
class Stage:
    queue: str
    seconds: int
    kind: StageKind


@dataclass(frozen=True, slots=True)
class StageQueue:
    """A queue rendered in queues.conf beside its base queue (``joinempty`` etc. depend on ``kind``)."""

    name: str
    base: str
    kind: StageKind
    members: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Route:
    """Where a caller goes: stage queues first (in order), then ``queue`` with ``window``."""

    queue: str
    stages: tuple[Stage, ...] = ()
    window: Window | None = None
    sticky_agent: str = ""

    def stages_var(self) -> str:
        """TONGDAI_STAGES for the dialplan: ``queue:seconds`` joined by '&'."""
        return "&".join(f"{s.queue}:{s.seconds}" for s in self.stages)


@dataclass(frozen=True, slots=True)
class RuleStep:
    """One ``penaltychange`` line: after ``seconds`` in the queue, the new max and min."""

    seconds: int
    max_change: str
    min_change: str = ""

    def line(self) -> str:
        return f"penaltychange => {self.seconds},{self.max_change}" + (
            f",{self.min_change}" if self.min_change else ""
        )


@dataclass(frozen=True, slots=True)
class _Bands:
    skills: tuple[str, ...]  # node skills of the queue, in band order
    queue_skill: str
    penalties: Mapping[str, int]  # agent → penalty in the base queue
    band_of: Mapping[str, int]  # agent → band index
    skilled: bool  # False: no member has any skill of the queue (configured penalties, no window)


class RoutingPlan:
    """Member penalties, stage queues, queue rules and each caller's route, from config (module doc)."""

    def __init__(
        self,
        queues: Sequence[QueueSpec],
        agents: Sequence[AgentSkills],
        requests: Mapping[str, Sequence[str]],
        config: RoutingConfig,
        *,
        default_language: str = "vi",
        languages: Sequence[str] = (),
    ) -> None:
        self.config = config
        self.default_language = default_language
        self._agents = {a.agent_id: a for a in agents}
        self._queues = {q.name: q for q in queues}
        self._bands = {q.name: self._band(q, requests.get(q.name, ())) for q in queues}
        self._stages: dict[str, StageQueue] = {}
        for q in queues:
            for st in self._stage_queues(q, [lang for lang in languages if lang != default_language]):
                self._stages[st.name] = st

    # queries used by the agents' login (acd/agents.py) and the renderer (asterisk_conf)

    def members(self, queue: str) -> dict[str, int]:
        """Agent → penalty in the base ``queue``."""
        return dict(self._bands[queue].penalties)

    def stage_queues(self) -> list[StageQueue]:
        return list(self._stages.values())

    def agent_queues(self, agent_id: str, only: Iterable[str] | None = None) -> dict[str, int]:
        """Queue → penalty for every queue (base and stage) the agent logs in to; ``only``: these base
        queues and their stages."""
        wanted = set(only) if only is not None else None
        out: dict[str, int] = {}
        for name, b in self._bands.items():
            if (wanted is None or name in wanted) and agent_id in b.penalties:
                out[name] = b.penalties[agent_id]
        for st in self._stages.values():
            if (wanted is None or st.base in wanted) and agent_id in st.members:
                out[st.name] = st.members[agent_id]
        return out

    def rule_steps(self) -> list[RuleStep]:
        """The ``tongdai-skills`` rule: one level more per step, then every member."""
        w = self.config.skills
        steps = [
            RuleStep(k * w.widen_every_seconds, "+1")
            for k in range(1, MAX_LEVEL)
            if k * w.widen_every_seconds < w.all_after_seconds
        ]
        steps.append(RuleStep(w.all_after_seconds, str(OPEN_MAX), "0"))
        return steps

    def uses_skills(self, queue: str) -> bool:
        b = self._bands.get(queue)
        return b is not None and b.skilled

    # the caller's route

    def route(
        self,
        queue: str,
        *,
        skill: str = "",
        tier: str = "",
        language: str = "",
        sticky_agent: str = "",
    ) -> Route:
        """Stages and window of a caller of ``tier`` asking for ``skill`` (the IVR node's) in ``queue``;
        ``sticky_agent``: who served the customer last (acd/sticky.py), if anyone recent."""
        stages: list[Stage] = []
        qr = self.config.queue(queue)
        sticky_cfg = self.config.sticky_for(queue)
        used_sticky = ""
        name = _stage(queue, "a" + sticky_agent)
        if sticky_agent and sticky_cfg.seconds and name in self._stages:
            stages.append(Stage(name, sticky_cfg.seconds, "sticky"))
            used_sticky = sticky_agent
        vip = tier in qr.vip_tiers and (name := _stage(queue, "vip")) in self._stages
        if vip:
            stages.append(Stage(name, qr.vip_first_seconds, "vip"))
        if (
            language
            and language != self.default_language
            and self.config.language_first_seconds
            and (name := _stage(queue, language)) in self._stages
        ):
            stages.append(Stage(name, self.config.language_first_seconds, "language"))
        # After the VIP desk a VIP takes any agent of the queue: waiting more for an expert would cost
        # its 15 s target (bench/acd_routing_report.py).
        window = None if vip else self.window(queue, skill)
        return Route(queue, tuple(stages), window, used_sticky)

    def window(self, queue: str, skill: str = "") -> Window | None:
        """The starting window for ``skill`` in ``queue``: the top level of its band, or None (the whole
        queue) when the queue uses no skills or nobody serves that skill's band."""
        b = self._bands.get(queue)
        if b is None or not b.skilled:
            return None
        bands_used = set(b.band_of.values())
        n = len(b.skills)
        if skill and skill in b.skills and b.skills.index(skill) in bands_used:
            i = b.skills.index(skill)
        elif b.queue_skill and n in bands_used:
            i = n
        else:
            return None
        lo = 1 + BAND * i
        return Window(lo, lo)

    # building

    def _band(self, q: QueueSpec, requested: Sequence[str]) -> _Bands:
        node_skills = tuple(dict.fromkeys(s for s in requested if s and s != q.skill))
        n = len(node_skills)
        candidates = dict(q.members)
        if q.skill:
            for a in self._agents.values():
                if q.skill in a.skills:
                    candidates.setdefault(a.agent_id, 0)
        penalties: dict[str, int] = {}
        band_of: dict[str, int] = {}
        for agent_id, member_penalty in candidates.items():
            a = self._agents.get(agent_id, AgentSkills(agent_id))
            best = _best(a, node_skills)
            if best is not None:
                i, level = best
            elif q.skill and q.skill in a.skills:
                i, level = n, a.skills[q.skill]
            else:
                penalties[agent_id] = member_penalty
                continue
            band_of[agent_id] = i
            penalties[agent_id] = 1 + BAND * i + (MAX_LEVEL - level)
        skilled = bool(band_of)
        if skilled:  # members without any skill of the queue come last, after every band
            for agent_id, member_penalty in candidates.items():
                if agent_id not in band_of:
                    penalties[agent_id] = 1 + BAND * (n + 1) + member_penalty
        qr = self.config.queue(q.name)
        if qr.vip_share_pool:  # the VIP desk serves the queue too, after everyone else
            last = 1 + BAND * (n + 2) if skilled else max(penalties.values(), default=0) + 1
            for agent_id in qr.vip_agents:
                penalties.setdefault(agent_id, last)
        return _Bands(node_skills, q.skill, penalties, band_of, skilled)

    def _stage_queues(self, q: QueueSpec, other_languages: Sequence[str]) -> Iterable[StageQueue]:
        base = self._bands[q.name].penalties
        qr = self.config.queue(q.name)
        if self.config.sticky_for(q.name).seconds:
            for agent_id in base:
                yield StageQueue(_stage(q.name, "a" + agent_id), q.name, "sticky", {agent_id: 0})
        if qr.vip_agents:
            yield StageQueue(_stage(q.name, "vip"), q.name, "vip", dict.fromkeys(qr.vip_agents, 0))
        if self.config.language_first_seconds:
            for lang in other_languages:
                speakers = {
                    a: p for a, p in base.items() if lang in self._agents.get(a, AgentSkills(a)).languages
                }
                if speakers:
                    yield StageQueue(_stage(q.name, lang), q.name, "language", speakers)


def _stage(queue: str, suffix: str) -> str:
    return f"{queue}{STAGE_SEP}{suffix}"


def _best(a: AgentSkills, node_skills: Sequence[str]) -> tuple[int, int] | None:
    """(band, level) of the agent's best node skill: highest level, then the first in band order."""
    best: tuple[int, int] | None = None
    for i, s in enumerate(node_skills):
        level = a.skills.get(s)
        if level is not None and (best is None or level > best[1]):
            best = (i, level)
    return best


def check_routing(
    config: RoutingConfig, queues: Iterable[str], agents: Iterable[str], tiers: Iterable[str]
) -> Iterable[str]:
    """Cross-section problems, each ``routing.<key>: what is wrong``."""
    known_q, known_a, known_t = set(queues), set(agents), set(tiers)
    w = config.skills
    if w.widen_every_seconds >= w.all_after_seconds:
        yield "routing.skills.all_after_seconds: must be longer than widen_every_seconds"
    for name, qr in config.queues.items():
        if name not in known_q:
            yield f"routing.queues.{name}: not a configured queue"
        for i, a in enumerate(qr.vip_agents):
            if a not in known_a:
                yield f"routing.queues.{name}.vip_agents.{i}: unknown agent {a!r}"
        for t in qr.vip_tiers:
            if t not in known_t:
                yield f"routing.queues.{name}.vip_tiers: {t!r} is not a tier in acd.tiers"


# --- from the complete settings -------------------------------------------------------------------


class _Member(Protocol):
    @property
    def agent(self) -> str: ...
    @property
    def penalty(self) -> int: ...


class _Queue(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def skill(self) -> str: ...
    @property
    def members(self) -> Sequence[_Member]: ...


class _Agent(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def skills(self) -> Mapping[str, int]: ...
    @property
    def languages(self) -> Sequence[str]: ...


class _Ivr(Protocol):
    @property
    def default_language(self) -> str: ...
    @property
    def languages(self) -> Sequence[str]: ...
    @property
    def nodes(self) -> Mapping[str, object]: ...


class RoutingSettings(Protocol):
    @property
    def routing(self) -> RoutingConfig: ...
    @property
    def queues(self) -> Sequence[_Queue]: ...
    @property
    def agents(self) -> Sequence[_Agent]: ...
    @property
    def ivr(self) -> _Ivr: ...


def node_skills(ivr: _Ivr) -> dict[str, list[str]]:
    """Queue → the skills the IVR's transfer nodes ask for in it, in the tree's order."""
    out: dict[str, list[str]] = {}
    for node in ivr.nodes.values():
        if getattr(node, "type", "") != "transfer":
            continue
        skill = getattr(node, "skill", None)
        queue = str(getattr(node, "queue", ""))
        if skill and skill not in out.setdefault(queue, []):
            out[queue].append(str(skill))
    return out


def plan_from(settings: RoutingSettings) -> RoutingPlan:
    """The routing plan of a deployment (the agents' login, the IVR and the renderer share it)."""
    return RoutingPlan(
        [QueueSpec(q.name, q.skill, {m.agent: m.penalty for m in q.members}) for q in settings.queues],
        [AgentSkills(a.id, dict(a.skills), frozenset(a.languages)) for a in settings.agents],
        node_skills(settings.ivr),
        settings.routing,
        default_language=settings.ivr.default_language,
        languages=list(settings.ivr.languages),
    )
