"""The IVR's menu tree as validated configuration (config.yaml section ``ivr:``).

A tree is a set of named nodes, each a step of the call (``menu``, ``language``, ``identify``,
``self_service``, ``hours``, ``blocklist``, ``callback``, ``play``) or a terminal (``transfer``,
``hangup``), plus a prompt catalogue. Everything that can be wrong is caught at load, each problem
reported at its own dotted path so the config loader can print the line:

* a reference to a node that does not exist (``nodes.main.options.3: points to unknown node ...``);
* a node from which no transfer or hangup can be reached (a loop with no exit), or a loop made only of
  nodes that never ask the caller anything (it would spin without I/O);
* bad DTMF keys, a missing entry or fallback, a prompt missing from the catalogue or lacking a
  language the IVR speaks.

:meth:`IvrConfig.default` is a realistic Vietnamese hotline tree, used by tests and the demo.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from core.phone import caller_national
from ivr.hours import BusinessHours

Lang = Literal["vi", "en"]
NodeId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
# Prompt ids become file names (tongdai/<lang>/<id>.wav): keep them to a safe alphabet.
PromptId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Digit = Annotated[str, StringConstraints(pattern=r"^[0-9*#]$")]
QueueName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,38}$")]
Label = Annotated[str, StringConstraints(min_length=1, max_length=60, pattern=r"^[^\x00-\x1f\x7f]+$")]
SelfServiceItem = Literal["tier", "points", "bill", "debt", "outage"]

Ref = tuple[tuple[str, ...], str]  # (field path inside the node, referenced id)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptText(_Model):
    """One prompt's text per language; a language may be missing if no node plays it there."""

    vi: str | None = Field(None, min_length=1, max_length=2000)
    en: str | None = Field(None, min_length=1, max_length=2000)

    def get(self, lang: str) -> str | None:
        return self.vi if lang == "vi" else self.en if lang == "en" else None


class InputDefaults(_Model):
    """Key-press handling used by every node that does not override it."""

    timeout_ms: int = Field(5000, ge=500, le=60000)  # wait for the first key after the prompt
    inter_digit_ms: int = Field(3000, ge=500, le=30000)  # wait between keys of a multi-digit entry
    retries: int = Field(2, ge=0, le=9)  # menu re-prompts after a wrong key or silence
    max_attempts: int = Field(3, ge=1, le=9)  # tries to key a customer ID that verifies


class _Node(_Model):
    # Shown on the agent's screen pop as the path ("Internet › Báo hỏng"); unlabelled nodes are silent.
    label: Label | None = None
    terminal: ClassVar[bool] = False
    # Nodes that pass control on without asking the caller anything (a loop of only these would spin).
    automatic: ClassVar[bool] = False

    def refs(self) -> list[Ref]:
        return []

    def prompt_refs(self) -> list[tuple[tuple[str, ...], str]]:
        return []


def _opt(field: str, value: str | None) -> list[tuple[tuple[str, ...], str]]:
    return [] if value is None else [((field,), value)]


class MenuNode(_Node):
    type: Literal["menu"]
    prompt: PromptId
    options: dict[Digit, NodeId] = Field(min_length=1)
    invalid_prompt: PromptId = "invalid_key"
    timeout_prompt: PromptId = "no_input"
    retries: int | None = Field(None, ge=0, le=9)
    timeout_ms: int | None = Field(None, ge=500, le=60000)
    # Where the caller goes once retries are spent; None = the tree's fallback (a transfer).
    default: NodeId | None = None

    def refs(self) -> list[Ref]:
        return [(("options", k), v) for k, v in self.options.items()] + _opt("default", self.default)

    def prompt_refs(self) -> list[tuple[tuple[str, ...], str]]:
        return [
            (("prompt",), self.prompt),
            (("invalid_prompt",), self.invalid_prompt),
            (("timeout_prompt",), self.timeout_prompt),
        ]


class LanguageNode(_Node):
    type: Literal["language"]
    # Played once per option, in that option's language ("For English, press 2" in English).
    prompt: PromptId = "choose_language"
    options: dict[Digit, Lang] = Field(min_length=1)
    invalid_prompt: PromptId = "invalid_key"
    retries: int | None = Field(None, ge=0, le=9)
    timeout_ms: int | None = Field(None, ge=500, le=60000)
    next: NodeId  # silence keeps the current (default) language and goes on

    def refs(self) -> list[Ref]:
        return [(("next",), self.next)]

    def prompt_refs(self) -> list[tuple[tuple[str, ...], str]]:
        return [(("prompt",), self.prompt), (("invalid_prompt",), self.invalid_prompt)]


class IdentifyNode(_Node):
    """Find the customer by caller number; failing that, ask for a customer ID or contract number."""

    type: Literal["identify"]
    automatic: ClassVar[bool] = True  # passes straight on when the customer is already known
    by_number: bool = True
    prompt: PromptId = "ask_customer_id"
    invalid_prompt: PromptId = "customer_id_invalid"
    timeout_prompt: PromptId = "no_input"
    verified_prompt: PromptId | None = None
    min_digits: int = Field(4, ge=1, le=20)
    max_digits: int = Field(12, ge=1, le=20)
    terminator: Literal["#", "*"] = "#"
    max_attempts: int | None = Field(None, ge=1, le=9)
    timeout_ms: int | None = Field(None, ge=500, le=60000)
    next: NodeId
    failed: NodeId

    @model_validator(mode="after")
    def _lengths(self) -> IdentifyNode:
        if self.min_digits > self.max_digits:
            raise ValueError("min_digits is larger than max_digits")
        return self

    def refs(self) -> list[Ref]:
        return [(("next",), self.next), (("failed",), self.failed)]

    def prompt_refs(self) -> list[tuple[tuple[str, ...], str]]:
        return [
            (("prompt",), self.prompt),
            (("invalid_prompt",), self.invalid_prompt),
            (("timeout_prompt",), self.timeout_prompt),
            *_opt("verified_prompt", self.verified_prompt),
        ]


_DEFAULT_TIERS = {
    "vip": "tier_vip",
    "gold": "tier_gold",
    "large": "tier_large",
    "sme": "tier_sme",
    "standard": "tier_standard",
    "other": "tier_standard",
}


class SelfServiceNode(_Node):
    """Read the identified customer's facts back: tier, loyalty points, last bill, overdue debt and its
    due date, outage in their area."""

    type: Literal["self_service"]
    what: tuple[SelfServiceItem, ...] = Field(min_length=1)
    next: NodeId
    # CRM tier → prompt naming it; "other" is used for a tier not listed.
    tier_prompts: dict[str, PromptId] = Field(default_factory=lambda: dict(_DEFAULT_TIERS))
    tier_intro: PromptId = "ss_tier_intro"
    points_intro: PromptId = "ss_points_intro"
    bill_intro: PromptId = "ss_bill_intro"
    bill_is: PromptId = "ss_bill_is"
    debt_intro: PromptId = "ss_debt_intro"
    debt_due: PromptId = "ss_debt_due"
    no_debt: PromptId = "ss_no_debt"
    # The bill of month M falls due on this day of month M + 1; the debt read back is to be paid by the
    # due date of the latest bill. 20 is a common default, not every operator's contract: set your own.
    debt_due_day: int = Field(default=20, ge=1, le=28)
    outage_none: PromptId = "outage_none"
    no_data_prompt: PromptId = "ss_no_data"
    no_customer_prompt: PromptId = "ss_no_customer"

    @field_validator("what", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return (v,) if isinstance(v, str) else v

    @model_validator(mode="after")
    def _fallback_tier(self) -> SelfServiceNode:
        if "tier" in self.what and "other" not in self.tier_prompts:
            raise ValueError("tier_prompts needs an 'other' entry for tiers it does not list")
        return self

    def refs(self) -> list[Ref]:
        return [(("next",), self.next)]

    def prompt_refs(self) -> list[tuple[tuple[str, ...], str]]:
        out: list[tuple[tuple[str, ...], str]] = [
            (("no_customer_prompt",), self.no_customer_prompt),
            (("no_data_prompt",), self.no_data_prompt),
        ]
        if "tier" in self.what:
            out.append((("tier_intro",), self.tier_intro))
            out += [(("tier_prompts", k), v) for k, v in self.tier_prompts.items()]
        if "points" in self.what:
            out.append((("points_intro",), self.points_intro))
        if "bill" in self.what:
            out += [(("bill_intro",), self.bill_intro), (("bill_is",), self.bill_is)]
        if "debt" in self.what:
            out += [(("debt_intro",), self.debt_intro), (("debt_due",), self.debt_due)]
            out.append((("no_debt",), self.no_debt))
        if "outage" in self.what:
            out.append((("outage_none",), self.outage_none))
        return out


class HoursNode(_Node):
    type: Literal["hours"]
    automatic: ClassVar[bool] = True
    hours: BusinessHours = Field(default_factory=BusinessHours)
    open: NodeId
    closed: NodeId

    def refs(self) -> list[Ref]:
        return [(("open",), self.open), (("closed",), self.closed)]


class BlocklistNode(_Node):
    """Refuse blacklisted numbers; decide what to do with callers who withhold their number.

    ``anonymous``: ``allow`` lets them on; ``reject`` sends them to ``blocked``; ``ask_id`` lets them on
    but makes the next identify node ask for a customer ID, and a caller who cannot give a valid one
    is sent to ``blocked`` instead of that node's ``failed``.
    """

    type: Literal["blocklist"]
    automatic: ClassVar[bool] = True
    # Exact numbers, or prefixes ending in "*" ("1900*"); stored in national form (+84… → 0…).
    numbers: list[str] = []
    anonymous: Literal["allow", "reject", "ask_id"] = "allow"
    blocked: NodeId
    next: NodeId

    @field_validator("numbers")
    @classmethod
    def _numbers(cls, v: list[str]) -> list[str]:
        out: list[str] = []
        for raw in v:
            prefix = raw.endswith("*")
            core = raw[:-1] if prefix else raw
            number = caller_national(core)
            if number is None:
                raise ValueError(
                    f"{raw!r} is not a phone number (3-15 digits, optional +, optional * suffix)"
                )
            out.append(number + ("*" if prefix else ""))
        return out

    def matches(self, number: str) -> bool:
        for entry in self.numbers:
            if (entry.endswith("*") and number.startswith(entry[:-1])) or entry == number:
                return True
        return False

    def refs(self) -> list[Ref]:
        return [(("blocked",), self.blocked), (("next",), self.next)]


class CallbackNode(_Node):
    type: Literal["callback"]
    prompt: PromptId = "callback_offer"
    accept_digit: Digit = "1"
    confirm_prompt: PromptId = "callback_confirmed"
    no_number_prompt: PromptId = "callback_no_number"
    timeout_ms: int | None = Field(None, ge=500, le=60000)
    next: NodeId
    declined: NodeId | None = None  # any other key, silence or no number; None = next
    # The queue the customer is called back into (a transfer has not chosen one yet when the caller
    # asks); None = the deployment's default_queue.
    queue: QueueName | None = None

    def refs(self) -> list[Ref]:
        return [(("next",), self.next), *_opt("declined", self.declined)]

    def prompt_refs(self) -> list[tuple[tuple[str, ...], str]]:
        return [
            (("prompt",), self.prompt),
            (("confirm_prompt",), self.confirm_prompt),
            (("no_number_prompt",), self.no_number_prompt),
        ]


class PlayNode(_Node):
    type: Literal["play"]
    prompt: PromptId
    next: NodeId

    def refs(self) -> list[Ref]:
        return [(("next",), self.next)]

    def prompt_refs(self) -> list[tuple[tuple[str, ...], str]]:
        return [(("prompt",), self.prompt)]


class TransferNode(_Node):
    type: Literal["transfer"]
    terminal: ClassVar[bool] = True
    queue: QueueName
    skill: QueueName | None = None
    prompt: PromptId | None = None

    def prompt_refs(self) -> list[tuple[tuple[str, ...], str]]:
        return _opt("prompt", self.prompt)


class HangupNode(_Node):
    type: Literal["hangup"]
    terminal: ClassVar[bool] = True
    prompt: PromptId | None = None

    def prompt_refs(self) -> list[tuple[tuple[str, ...], str]]:
        return _opt("prompt", self.prompt)


Node = Annotated[
    MenuNode
    | LanguageNode
    | IdentifyNode
    | SelfServiceNode
    | HoursNode
    | BlocklistNode
    | CallbackNode
    | PlayNode
    | TransferNode
    | HangupNode,
    Field(discriminator="type"),
]

NODE_TYPES: dict[str, type[_Node]] = {
    "menu": MenuNode,
    "language": LanguageNode,
    "identify": IdentifyNode,
    "self_service": SelfServiceNode,
    "hours": HoursNode,
    "blocklist": BlocklistNode,
    "callback": CallbackNode,
    "play": PlayNode,
    "transfer": TransferNode,
    "hangup": HangupNode,
}


@cache
def default_prompts() -> dict[str, dict[str, str]]:
    """The built-in catalogue (ivr/prompts_default.yaml) as plain data."""
    return _package_yaml("prompts_default.yaml")


def _both_languages() -> list[Lang]:
    return ["vi", "en"]


def _err(loc: tuple[str, ...], msg: str) -> InitErrorDetails:
    # The message is final text, not a template: braces in it must not be read as placeholders.
    safe = msg.replace("{", "(").replace("}", ")")
    return InitErrorDetails(type=PydanticCustomError("ivr_invalid", safe), loc=loc, input=None)


class OutageNotices(_Model):
    """Outage notices posted through the API (ivr/outages.py): how the IVR reads them."""

    # Read the notices in force for the identified caller's area before the first menu, once a call.
    before_menu: bool = True
    # Said instead of a notice that has no audio in the caller's language (no English text, or the
    # file not made yet), once however many notices lack it.
    fallback_prompt: PromptId = "outage_generic"
    # How often each node re-reads the live notices (a post or expiry on any node also refreshes
    # every node at once, through the bus).
    refresh_seconds: float = Field(30, ge=1, le=3600)
    # Where each notice's audio is made (tongdai/<lang>/outage/n<id>.wav): the sounds directory Asterisk
    # plays from. None = <node.data_dir>/sounds, where `tongdai prompts build` writes the prompts.
    sounds_dir: Path | None = None


class IvrConfig(_Model):
    """The whole IVR: languages, prompts, key-press defaults, and the node tree from ``entry``."""

    languages: list[Lang] = Field(default_factory=_both_languages, min_length=1)
    default_language: Lang = "vi"
    # Merged over the built-in catalogue: an entry here adds a prompt or replaces one whole.
    prompts: dict[PromptId, PromptText] = Field(default_factory=dict, validate_default=True)
    input: InputDefaults = Field(default_factory=InputDefaults)
    entry: NodeId
    # The safe default: where a caller goes when a menu's retries are spent without its own default,
    # or when the call wandered through too many nodes. Must be a transfer.
    fallback: NodeId
    # Area (as the CRM names it) → prompt announcing an outage there; read by self_service "outage".
    # A standing map kept from before the API; posted notices (``outage_notices``) are read first.
    outages: dict[str, PromptId] = Field(default_factory=dict)
    outage_notices: OutageNotices = Field(default_factory=OutageNotices)
    max_hops: int = Field(100, ge=10, le=10000)
    nodes: dict[NodeId, Node] = Field(min_length=1)

    @field_validator("prompts", mode="before")
    @classmethod
    def _merge_catalogue(cls, v: Any) -> Any:
        if v is None:
            v = {}
        if not isinstance(v, dict):
            return v  # let pydantic report the type error
        return {**default_prompts(), **v}

    @field_validator("nodes", mode="before")
    @classmethod
    def _nodes_by_type(cls, v: Any) -> Any:
        # Validate each node against its own type here so an error's path is nodes.<id>.<field>,
        # without the union tag pydantic would insert (nodes.<id>.menu.<field>).
        if not isinstance(v, dict):
            return v
        out: dict[Any, Any] = {}
        errors: list[InitErrorDetails] = []
        for node_id, item in v.items():
            kind = item.get("type") if isinstance(item, dict) else getattr(item, "type", None)
            model = NODE_TYPES.get(kind) if isinstance(kind, str) else None
            if model is None:
                known = ", ".join(NODE_TYPES)
                errors.append(_err((str(node_id), "type"), f"unknown node type {kind!r} (one of: {known})"))
                continue
            try:
                out[node_id] = model.model_validate(item)
            except ValidationError as err:
                for e in err.errors():
                    loc = (str(node_id), *(str(p) for p in e["loc"]))
                    msg = e["msg"].replace("{", "(").replace("}", ")")
                    errors.append(
                        InitErrorDetails(type=PydanticCustomError(e["type"], msg), loc=loc, input=e["input"])
                    )
        if errors:
            raise ValidationError.from_exception_data("nodes", errors)
        return out

    @model_validator(mode="after")
    def _tree(self) -> IvrConfig:
        errors = self._problems()
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    # --- validation -------------------------------------------------------------------------

    def _edges(self, node_id: str) -> list[str]:
        node = self.nodes[node_id]
        out = [target for _, target in node.refs()]
        if isinstance(node, MenuNode) and node.default is None:
            out.append(self.fallback)
        return [t for t in out if t in self.nodes]

    def _problems(self) -> list[InitErrorDetails]:
        errors: list[InitErrorDetails] = []
        if self.default_language not in self.languages:
            errors.append(_err(("default_language",), f"{self.default_language!r} is not in languages"))
        if self.entry not in self.nodes:
            errors.append(_err(("entry",), f"points to unknown node {self.entry!r}"))
        fallback = self.nodes.get(self.fallback)
        if fallback is None:
            errors.append(_err(("fallback",), f"points to unknown node {self.fallback!r}"))
        elif not isinstance(fallback, TransferNode):
            errors.append(
                _err(("fallback",), f"node {self.fallback!r} must be a transfer (the safe default)")
            )

        dangling = False
        for node_id, node in self.nodes.items():
            for path, target in node.refs():
                if target not in self.nodes:
                    dangling = True
                    errors.append(_err(("nodes", node_id, *path), f"points to unknown node {target!r}"))
            for path, prompt_id in node.prompt_refs():
                errors += self._prompt_problems(("nodes", node_id, *path), prompt_id)
            if isinstance(node, LanguageNode):
                for digit, lang in node.options.items():
                    if lang not in self.languages:
                        errors.append(
                            _err(("nodes", node_id, "options", digit), f"{lang!r} is not in languages")
                        )
        for area, prompt_id in self.outages.items():
            errors += self._prompt_problems(("outages", area), prompt_id)
        errors += self._prompt_problems(
            ("outage_notices", "fallback_prompt"), self.outage_notices.fallback_prompt
        )

        if not dangling:  # a node pointing nowhere would also be reported as having no exit
            errors += self._loop_problems()
        return errors

    def _prompt_problems(self, loc: tuple[str, ...], prompt_id: str) -> list[InitErrorDetails]:
        text = self.prompts.get(prompt_id)
        if text is None:
            return [_err(loc, f"prompt {prompt_id!r} is not in the prompts catalogue")]
        missing = [lang for lang in self.languages if text.get(lang) is None]
        if missing:
            return [_err(loc, f"prompt {prompt_id!r} has no text for {', '.join(missing)}")]
        return []

    def _loop_problems(self) -> list[InitErrorDetails]:
        errors: list[InitErrorDetails] = []
        # Nodes from which a terminal can be reached: walk the edges backwards from every terminal.
        incoming: dict[str, set[str]] = {n: set() for n in self.nodes}
        for n in self.nodes:
            for t in self._edges(n):
                incoming[t].add(n)
        exits = {n for n, node in self.nodes.items() if node.terminal}
        todo = list(exits)
        while todo:
            for src in incoming[todo.pop()]:
                if src not in exits:
                    exits.add(src)
                    todo.append(src)
        stuck = sorted(n for n in self.nodes if n not in exits)
        if stuck:
            errors.append(
                _err(
                    ("nodes",),
                    f"a loop with no exit: {', '.join(stuck)} can never reach a transfer or hangup",
                )
            )
        # A cycle made only of automatic nodes would run forever without asking the caller anything.
        for cycle in self._automatic_cycles():
            errors.append(
                _err(("nodes", cycle[0]), f"loop without any caller input: {' → '.join([*cycle, cycle[0]])}")
            )
        return errors

    def _automatic_cycles(self) -> list[list[str]]:
        auto = {n for n, node in self.nodes.items() if node.automatic}
        state: dict[str, int] = {}  # 1 = on the stack, 2 = done
        cycles: list[list[str]] = []

        def visit(n: str, stack: list[str]) -> None:
            state[n] = 1
            stack.append(n)
            for t in self._edges(n):
                if t not in auto:
                    continue
                if state.get(t) == 1:
                    cycles.append(stack[stack.index(t) :])
                elif t not in state:
                    visit(t, stack)
            stack.pop()
            state[n] = 2

        for n in sorted(auto):
            if n not in state:
                visit(n, [])
        return cycles

    # --- queries ------------------------------------------------------------------------------

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def transfer_queues(self) -> set[str]:
        """Every queue a transfer node names (the deployment checks they exist)."""
        return {n.queue for n in self.nodes.values() if isinstance(n, TransferNode)}

    def callback_queues(self) -> dict[str, str]:
        """Node id → queue, for every callback node that names one (the deployment checks they exist)."""
        return {i: n.queue for i, n in self.nodes.items() if isinstance(n, CallbackNode) and n.queue}

    def prompt_texts(self) -> Iterator[tuple[str, str, str]]:
        """(lang, prompt_id, text) for every catalogue text in a language the IVR speaks."""
        for prompt_id, text in sorted(self.prompts.items()):
            for lang in self.languages:
                t = text.get(lang)
                if t is not None:
                    yield lang, prompt_id, t

    @classmethod
    def default(cls, *, agent_queue: str = "general") -> IvrConfig:
        """A realistic Vietnamese hotline: screen → hours → language → identify → main menu → queues.

        Main menu: 1 di động (mobile), 2 internet, 3 truyền hình (tv), 4 cước/thanh toán (billing),
        9 self-service, 0 agent (``agent_queue``). Queues used: mobile, internet, tv, billing and
        ``agent_queue``; faults and sales carry a skill.
        """
        return cls.model_validate(default_tree(agent_queue=agent_queue))


def default_tree(*, agent_queue: str = "general") -> dict[str, Any]:
    """The :meth:`IvrConfig.default` tree as plain data (what the config.yaml section would hold).

    It is data, shipped in the package as ``ivr/tree_default.yaml``; ``agent_queue`` replaces the
    queue of its ``agent`` node. Each call returns a fresh copy the caller may change.
    """
    tree = copy.deepcopy(_default_tree_file())
    tree["nodes"]["agent"]["queue"] = agent_queue
    return tree


@cache
def _default_tree_file() -> dict[str, Any]:
    return _package_yaml("tree_default.yaml")


def _package_yaml(name: str) -> dict[str, Any]:
    data = yaml.safe_load(resources.files("ivr").joinpath(name).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise TypeError(f"ivr/{name} must hold a mapping")
    return data
