"""The IVR as a pure state machine: one call's walk through the menu tree, one step at a time.

No socket, no asyncio, no clock: the driver (``ivr.agi_route``) asks :meth:`IvrSession.start` for the
first :data:`Step`, carries it out over AGI, and feeds the :data:`StepResult` back with
:meth:`IvrSession.feed`, until a :class:`Transfer` or :class:`Hangup`. Everything the call learns on the
way (nodes visited, keys pressed, language, customer) is kept on the session for the screen pop.

Protocol, step → the result the driver feeds back:

* :class:`Play` → :class:`Played` (play every sound in order);
* :class:`Collect` → :class:`Digits` (play the sounds, interruptible by a key, then read up to
  ``max_digits`` keys; ``Digits(None)`` or ``Digits("")`` on timeout);
* :class:`LookupCustomer` → :class:`LookupResult` (``failed=True`` when the CRM could not answer in time;
  the caller is then not asked to key an ID that cannot be checked);
* :class:`RequestCallback` → :class:`Done` (the request is recorded);
* :class:`Transfer`, :class:`Hangup` → nothing: the session is finished.

Sounds are names under Asterisk's sounds directory without extension: ``tongdai/vi/main_menu`` for a
prompt, ``tongdai/vi/num/hai`` for a number word (see :mod:`ivr.prompts`).

Caller ID is untrusted data from the network: the number is normalised (anything that is not a phone
number counts as anonymous) and the name is kept only as data; neither ever becomes a sound name.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, replace
from typing import Any, Literal

from core.errors import TongdaiError
from core.phone import caller_national
from ivr import numbers
from ivr.config import (
    BlocklistNode,
    CallbackNode,
    HangupNode,
    HoursNode,
    IdentifyNode,
    IvrConfig,
    LanguageNode,
    MenuNode,
    PlayNode,
    SelfServiceNode,
    TransferNode,
)
from ivr.hours import is_open
from ivr.outages import Notice, notices_for, sounds_for
from ivr.prompts import prompt_sound, word_sounds

log = logging.getLogger(__name__)

Outcome = Literal["transferred", "self_served", "hung_up", "blocked", "closed", "callback"]
_DTMF = re.compile(r"^[0-9*#]*$")


class IvrStateError(TongdaiError):
    """The driver fed a result the session was not waiting for (a bug in the driver)."""

    error_id = "ivr.state"


def debt_due_date(bill_month: dt.date, due_day: int) -> dt.date:
    """The day the bill of ``bill_month`` falls due: ``due_day`` of the following month."""
    year, month = (
        (bill_month.year + 1, 1) if bill_month.month == 12 else (bill_month.year, bill_month.month + 1)
    )
    return dt.date(year, month, due_day)


# --- what the driver tells us ---------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerFacts:
    """What the CRM knows about the caller; filled by the driver from crm_bridge lookups."""

    customer_id: str
    name: str | None = None
    tier: str | None = None
    points: int | None = None
    last_bill_vnd: int | None = None
    last_bill_month: dt.date | None = None  # any day of the billed month
    # Overdue debt carried on the latest bill (crm monthly_revenue.overdue_debt_vnd), summed over lines.
    debt_vnd: int | None = None
    area: str | None = None
    language: str | None = None  # the customer's preferred language, used unless they choose one


@dataclass(frozen=True)
class CallInfo:
    caller: str | None  # raw caller ID number, as Asterisk gives it
    caller_name: str | None  # raw caller ID name: data only
    dialled: str
    now: dt.datetime  # timezone-aware
    customer: CustomerFacts | None = None  # set when the driver already identified the caller
    # The live outage notices (ivr/outages.py); those in force for the customer's area are read to the
    # caller before the first menu once identified, and in the self-service "outage" item.
    outages: tuple[Notice, ...] = ()


# --- steps (machine → driver) -------------------------------------------------------------------


@dataclass(frozen=True)
class Play:
    prompts: tuple[str, ...]


@dataclass(frozen=True)
class Collect:
    prompts: tuple[str, ...]
    max_digits: int
    timeout_ms: int
    terminator: str | None = None
    inter_digit_ms: int = 3000


@dataclass(frozen=True)
class LookupCustomer:
    by: Literal["number", "customer_id"]
    value: str


@dataclass(frozen=True)
class RequestCallback:
    number: str
    queue: str | None = None  # the callback node's queue; None = the deployment's default queue


@dataclass(frozen=True)
class Transfer:
    queue: str
    skill: str | None = None


@dataclass(frozen=True)
class Hangup:
    reason: str


Step = Play | Collect | LookupCustomer | RequestCallback | Transfer | Hangup

# --- results (driver → machine) -----------------------------------------------------------------


@dataclass(frozen=True)
class Digits:
    value: str | None  # None (or "") = nothing pressed before the timeout


@dataclass(frozen=True)
class Played:
    pass


@dataclass(frozen=True)
class LookupResult:
    customer: CustomerFacts | None
    failed: bool = False  # the CRM did not answer (timeout, error): not the same as "not found"


@dataclass(frozen=True)
class Done:
    pass


StepResult = Digits | Played | LookupResult | Done

_EXPECTS: dict[type, type] = {
    Play: Played,
    Collect: Digits,
    LookupCustomer: LookupResult,
    RequestCallback: Done,
}


@dataclass(frozen=True)
class PathEntry:
    node_id: str
    label: str | None
    digits: tuple[str, ...] = ()  # every entry keyed at this visit, wrong ones included


@dataclass(frozen=True)
class _Goto:
    node_id: str


@dataclass
class _Visit:
    """Per-visit state of the current node."""

    node_id: str
    phase: str = ""
    attempts: int = 0


class IvrSession:
    """One call walking the tree. Not thread-safe; one per call."""

    def __init__(self, cfg: IvrConfig, call: CallInfo) -> None:
        self.cfg = cfg
        self.call = call
        self.caller: str | None = caller_national(call.caller)
        self.anonymous = self.caller is None
        self.language: str = cfg.default_language
        self.language_chosen = False
        self.customer: CustomerFacts | None = None
        self.path: list[PathEntry] = []
        self.outcome: Outcome | None = None
        self.blocked = False
        self.closed = False
        self.callback_requested = False
        self.self_served: list[str] = []  # items read back (tier, points, bill, outage)
        # Outage notices read to the caller: sound → the notice ids it speaks (the driver counts a
        # notice as heard once its sound was played), and whether the before-menu check was done.
        self.outage_sounds: dict[str, list[int]] = {}
        self.outage_fallback = ""  # the generic notice, read where a notice's own file is missing
        self._outages_checked = False
        self.transfer: Transfer | None = None
        self._must_identify_node: str | None = None  # blocklist "ask_id": where a failed ID goes
        self._pending: list[str] = []  # sounds to play before the next step
        self._deferred: Step | None = None  # step to return once the pending sounds are Played
        self._awaiting: type | None = None
        self._visit: _Visit | None = None
        self._hops = 0
        self._started = False
        self._done = False
        if call.customer is not None:
            self._set_customer(call.customer)

    # --- public API --------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """True once a Transfer or Hangup was handed out, or the caller hung up."""
        return self._done

    def start(self) -> Step:
        if self._started:
            raise IvrStateError("session already started")
        self._started = True
        return self._run(_Goto(self.cfg.entry))

    def feed(self, result: StepResult) -> Step:
        if self.finished:
            raise IvrStateError(f"call already finished ({self.outcome})")
        if self._awaiting is None or not isinstance(result, self._awaiting):
            want = self._awaiting.__name__ if self._awaiting else "nothing"
            raise IvrStateError(f"expected {want}, got {type(result).__name__}")
        self._awaiting = None
        if self._deferred is not None:
            step, self._deferred = self._deferred, None
            return self._emit(step)
        visit = self._visit
        assert visit is not None
        node = self.cfg.nodes[visit.node_id]
        handler = getattr(self, f"_on_{node.type}")
        return self._run(handler(node, visit, result))

    def on_hangup(self) -> None:
        """The caller hung up: keep the path; the outcome becomes self_served after a read-back, else
        hung_up, unless already decided.

        A decision stands (blocked, closed, callback, self_served) even if the caller hangs up during
        the goodbye prompt; a transfer does not, when the caller leaves before it happened.
        """
        if not self._done and isinstance(self._deferred, Transfer):
            self.outcome = None
            self.transfer = None
        if self.outcome is None:
            # Hanging up after a read-back is how a self-served caller leaves: the call was contained.
            self.outcome = "self_served" if self.self_served else "hung_up"
        self._done = True
        self._awaiting = None
        self._deferred = None

    def path_text(self, sep: str = " › ", *, full: bool = False) -> str:
        """Labelled nodes as breadcrumbs for the screen pop, e.g. ``"Internet › Báo hỏng"``.

        Returning to a node already in the trail (a "back" key, the menu after a read-back) cuts the
        trail there, so the text says where the caller ended up; ``full=True`` lists every labelled
        visit instead (consecutive repeats merged).
        """
        trail: list[tuple[str, str]] = []
        for entry in self.path:
            if full:
                if entry.label and (not trail or trail[-1][0] != entry.node_id):
                    trail.append((entry.node_id, entry.label))
                continue
            ids = [n for n, _ in trail]
            if entry.node_id in ids:
                del trail[ids.index(entry.node_id) + 1 :]
            elif self._is_top(entry.node_id):
                trail = []  # back at the entry or an unlabelled (main) menu: start over
            if entry.label and (not trail or trail[-1][0] != entry.node_id):
                trail.append((entry.node_id, entry.label))
        return sep.join(label for _, label in trail)

    def keys(self) -> str:
        """Every key pressed in the call, in order (``,`` between entries)."""
        return ",".join(d for e in self.path for d in e.digits)

    def summary(self) -> dict[str, Any]:
        """Everything learned, as plain data for the call record and the screen pop."""
        return {
            "path": [{"node": e.node_id, "label": e.label, "digits": list(e.digits)} for e in self.path],
            "path_text": self.path_text(),
            "keys": self.keys(),
            "language": self.language,
            "customer_id": self.customer.customer_id if self.customer else None,
            "caller": self.caller,
            "anonymous": self.anonymous,
            "outcome": self.outcome,
            "queue": self.transfer.queue if self.transfer else None,
            "skill": self.transfer.skill if self.transfer else None,
            "self_served": list(self.self_served),
            "callback_requested": self.callback_requested,
        }

    # --- engine ------------------------------------------------------------------------------

    def _is_top(self, node_id: str) -> bool:
        node = self.cfg.nodes[node_id]
        return node_id == self.cfg.entry or (isinstance(node, MenuNode) and node.label is None)

    def _say(self, *prompt_ids: str, lang: str | None = None) -> None:
        self._pending += [prompt_sound(lang or self.language, p) for p in prompt_ids]

    def _sounds(self, *prompt_ids: str) -> tuple[str, ...]:
        return tuple(prompt_sound(self.language, p) for p in prompt_ids)

    def _emit(self, step: Step) -> Step:
        """Prepend pending sounds to the step; before a transfer or hangup, play them first.

        A lookup or callback request is invisible to the caller, so pending sounds wait for the
        next Play or Collect rather than costing a round trip of their own.
        """
        if self._pending and isinstance(step, Play | Collect):
            step = replace(step, prompts=(*self._pending, *step.prompts))
            self._pending = []
        elif self._pending and isinstance(step, Transfer | Hangup):
            self._deferred = step
            step = Play(tuple(self._pending))
            self._pending = []
        if isinstance(step, Transfer | Hangup):
            self._done = True
            log.info("ivr finished: outcome=%s path=%s", self.outcome, self.path_text())
        else:
            self._awaiting = _EXPECTS[type(step)]
        return step

    def _hangup_outcome(self) -> Outcome:
        if self.blocked:
            return "blocked"
        if self.callback_requested:
            return "callback"
        if self.closed:
            return "closed"
        if self.self_served:
            return "self_served"
        return "hung_up"

    def _run(self, nxt: Step | _Goto) -> Step:
        while isinstance(nxt, _Goto):
            self._hops += 1
            node_id = nxt.node_id
            if self._hops > self.cfg.max_hops:
                # A caller bouncing between menus (or a tree bug) must still reach a person.
                log.warning("ivr: %d nodes visited, sending the caller to the fallback", self._hops)
                node_id = self.cfg.fallback
            node = self.cfg.nodes[node_id]
            self.path.append(PathEntry(node_id, node.label))
            self._visit = _Visit(node_id)
            nxt = getattr(self, f"_enter_{node.type}")(node, self._visit)
        return self._emit(nxt)

    def _record(self, value: str) -> None:
        last = self.path[-1]
        self.path[-1] = replace(last, digits=(*last.digits, value))

    def _keyed(self, result: StepResult) -> str | None:
        """The keys in a Digits result, recorded on the path; None for a timeout; '?' for garbage."""
        assert isinstance(result, Digits)
        value = result.value
        if not value:
            return None
        if not _DTMF.match(value) or len(value) > 32:
            value = "?"  # not DTMF: never echo it anywhere, just count a wrong key
        self._record(value)
        return value

    def _timeout(self, node: MenuNode | LanguageNode | IdentifyNode | CallbackNode) -> int:
        return node.timeout_ms or self.cfg.input.timeout_ms

    def _set_customer(self, customer: CustomerFacts) -> None:
        self.customer = customer
        if not self.language_chosen and customer.language in self.cfg.languages:
            self.language = customer.language

    # --- menu --------------------------------------------------------------------------------

    def _menu_collect(self, node: MenuNode, *before: str) -> Collect:
        return Collect(
            self._sounds(*before, node.prompt),
            max_digits=1,
            timeout_ms=self._timeout(node),
            inter_digit_ms=self.cfg.input.inter_digit_ms,
        )

    def _enter_menu(self, node: MenuNode, visit: _Visit) -> Step | _Goto:
        if self.customer is not None and not self._outages_checked and self.cfg.outage_notices.before_menu:
            self._outages_checked = True  # once per call, at the first menu after identification
            self._pending += self._outage_notices(self.customer)
        return self._menu_collect(node)

    def _on_menu(self, node: MenuNode, visit: _Visit, result: StepResult) -> Step | _Goto:
        key = self._keyed(result)
        if key is not None and key in node.options:
            return _Goto(node.options[key])
        visit.attempts += 1
        retries = node.retries if node.retries is not None else self.cfg.input.retries
        if visit.attempts > retries:
            return _Goto(node.default or self.cfg.fallback)
        return self._menu_collect(node, node.timeout_prompt if key is None else node.invalid_prompt)

    # --- language ----------------------------------------------------------------------------

    def _language_collect(self, node: LanguageNode, *before: str) -> Collect:
        sounds = self._sounds(*before) + tuple(
            prompt_sound(lang, node.prompt) for lang in node.options.values()
        )
        return Collect(sounds, max_digits=1, timeout_ms=self._timeout(node))

    def _enter_language(self, node: LanguageNode, visit: _Visit) -> Step | _Goto:
        return self._language_collect(node)

    def _on_language(self, node: LanguageNode, visit: _Visit, result: StepResult) -> Step | _Goto:
        key = self._keyed(result)
        if key is None:
            return _Goto(node.next)  # silence: keep the current language
        if key in node.options:
            self.language = node.options[key]
            self.language_chosen = True
            return _Goto(node.next)
        visit.attempts += 1
        retries = node.retries if node.retries is not None else self.cfg.input.retries
        if visit.attempts > retries:
            return _Goto(node.next)
        return self._language_collect(node, node.invalid_prompt)

    # --- identify ----------------------------------------------------------------------------

    def _ask_id(self, node: IdentifyNode, *before: str) -> Collect:
        return Collect(
            self._sounds(*before, node.prompt),
            max_digits=node.max_digits,
            timeout_ms=self._timeout(node),
            terminator=node.terminator,
            inter_digit_ms=self.cfg.input.inter_digit_ms,
        )

    def _enter_identify(self, node: IdentifyNode, visit: _Visit) -> Step | _Goto:
        if self.customer is not None:
            return _Goto(node.next)
        if node.by_number and self.caller is not None:
            visit.phase = "by_number"
            return LookupCustomer("number", self.caller)
        visit.phase = "ask"
        return self._ask_id(node)

    def _identified(self, node: IdentifyNode, customer: CustomerFacts) -> _Goto:
        self._set_customer(customer)
        self._must_identify_node = None
        if node.verified_prompt:
            self._say(node.verified_prompt)
        return _Goto(node.next)

    def _id_failed(self, node: IdentifyNode, visit: _Visit, *before: str) -> Step | _Goto:
        visit.attempts += 1
        max_attempts = node.max_attempts or self.cfg.input.max_attempts
        if visit.attempts >= max_attempts:
            self._say(*before)
            if self._must_identify_node is not None:  # anonymous caller under "ask_id" policy
                self.blocked = True
                return _Goto(self._must_identify_node)
            return _Goto(node.failed)
        visit.phase = "ask"
        return self._ask_id(node, *before)

    def _on_identify(self, node: IdentifyNode, visit: _Visit, result: StepResult) -> Step | _Goto:
        if visit.phase == "by_number":
            assert isinstance(result, LookupResult)
            if result.customer is not None:
                return self._identified(node, result.customer)
            if result.failed:
                return _Goto(node.next)  # CRM down: do not make the caller key an ID we cannot check
            visit.phase = "ask"
            return self._ask_id(node)
        if visit.phase == "ask":
            key = self._keyed(result)
            if key is None:
                return self._id_failed(node, visit, node.timeout_prompt)
            value = key.rstrip(node.terminator)
            if not value.isdigit() or not node.min_digits <= len(value) <= node.max_digits:
                return self._id_failed(node, visit, node.invalid_prompt)
            visit.phase = "by_id"
            return LookupCustomer("customer_id", value)
        # by_id
        assert isinstance(result, LookupResult)
        if result.customer is not None:
            return self._identified(node, result.customer)
        if result.failed:
            if self._must_identify_node is not None:
                # Cannot verify an anonymous caller: let a person decide rather than refuse them.
                return _Goto(self.cfg.fallback)
            return _Goto(node.next)
        return self._id_failed(node, visit, node.invalid_prompt)

    # --- self-service ------------------------------------------------------------------------

    def _readback(self, node: SelfServiceNode) -> tuple[str, ...]:
        c = self.customer
        if c is None:
            return self._sounds(node.no_customer_prompt)
        lang: numbers.Lang = "en" if self.language == "en" else "vi"
        out: list[str] = []
        for item in node.what:
            if item == "tier":
                if c.tier is None:
                    out += self._sounds(node.no_data_prompt)
                    continue
                tier = node.tier_prompts.get(c.tier.lower(), node.tier_prompts["other"])
                out += self._sounds(node.tier_intro, tier)
            elif item == "points":
                if c.points is None or c.points < 0:
                    out += self._sounds(node.points_intro, node.no_data_prompt)
                    continue
                out += self._sounds(node.points_intro) + word_sounds(numbers.points(c.points, lang))
            elif item == "bill":
                if c.last_bill_vnd is None or c.last_bill_vnd < 0:
                    out += self._sounds(node.no_data_prompt)
                    continue
                out += self._sounds(node.bill_intro)
                if c.last_bill_month is not None:
                    out += word_sounds(numbers.month_year(c.last_bill_month, lang))
                out += self._sounds(node.bill_is) + word_sounds(numbers.amount_vnd(c.last_bill_vnd, lang))
            elif item == "debt":
                out += self._debt(node, c, lang)
            else:  # outage: the posted notices in force, else the configured map's prompt
                posted = self._outage_notices(c)
                notice = self.cfg.outages.get(c.area) if c.area else None
                out += posted or self._sounds(notice or node.outage_none)
            self.self_served.append(item)
        return tuple(out)

    def _debt(self, node: SelfServiceNode, c: CustomerFacts, lang: numbers.Lang) -> list[str]:
        if c.debt_vnd is None or c.debt_vnd < 0:
            return list(self._sounds(node.no_data_prompt))
        if c.debt_vnd == 0:
            return list(self._sounds(node.no_debt))
        out = [*self._sounds(node.debt_intro), *word_sounds(numbers.amount_vnd(c.debt_vnd, lang))]
        if c.last_bill_month is not None:
            due = debt_due_date(c.last_bill_month, node.debt_due_day)
            out += [*self._sounds(node.debt_due), *word_sounds(numbers.date(due, lang))]
        return out

    def _outage_notices(self, c: CustomerFacts) -> list[str]:
        """The sounds of the notices in force for ``c``'s area now, noted for the driver's count."""
        notices = notices_for(self.call.outages, c.area, self.call.now)
        if not notices:
            return []
        fallback = prompt_sound(self.language, self.cfg.outage_notices.fallback_prompt)
        self.outage_fallback = fallback
        sounds = sounds_for(notices, self.language, fallback)
        for sound, ids in sounds.items():
            self.outage_sounds[sound] = sorted({*self.outage_sounds.get(sound, []), *ids})
        return list(sounds)

    def _enter_self_service(self, node: SelfServiceNode, visit: _Visit) -> Step | _Goto:
        return Play(self._readback(node))

    def _on_self_service(self, node: SelfServiceNode, visit: _Visit, result: StepResult) -> Step | _Goto:
        return _Goto(node.next)

    # --- automatic nodes ---------------------------------------------------------------------

    def _enter_hours(self, node: HoursNode, visit: _Visit) -> Step | _Goto:
        if is_open(node.hours, self.call.now):
            return _Goto(node.open)
        self.closed = True
        return _Goto(node.closed)

    def _enter_blocklist(self, node: BlocklistNode, visit: _Visit) -> Step | _Goto:
        if self.caller is None:
            if node.anonymous == "reject":
                self.blocked = True
                return _Goto(node.blocked)
            if node.anonymous == "ask_id":
                self._must_identify_node = node.blocked
            return _Goto(node.next)
        if node.matches(self.caller):
            self.blocked = True
            return _Goto(node.blocked)
        return _Goto(node.next)

    # --- callback ----------------------------------------------------------------------------

    def _enter_callback(self, node: CallbackNode, visit: _Visit) -> Step | _Goto:
        if self.caller is None:
            self._say(node.no_number_prompt)
            return _Goto(node.declined or node.next)
        return Collect(self._sounds(node.prompt), max_digits=1, timeout_ms=self._timeout(node))

    def _on_callback(self, node: CallbackNode, visit: _Visit, result: StepResult) -> Step | _Goto:
        if isinstance(result, Done):
            self.callback_requested = True
            self._say(node.confirm_prompt)
            return _Goto(node.next)
        key = self._keyed(result)
        if key == node.accept_digit and self.caller is not None:
            return RequestCallback(self.caller, node.queue)
        return _Goto(node.declined or node.next)

    # --- play and terminals ------------------------------------------------------------------

    def _enter_play(self, node: PlayNode, visit: _Visit) -> Step | _Goto:
        # Queued rather than played alone: it rides on the next step, so a caller who knows the menu
        # can key through the welcome, and the driver makes one AGI round trip fewer.
        self._say(node.prompt)
        return _Goto(node.next)

    def _enter_transfer(self, node: TransferNode, visit: _Visit) -> Step | _Goto:
        if node.prompt:
            self._say(node.prompt)
        self.transfer = Transfer(node.queue, node.skill)
        self.outcome = "transferred"
        return self.transfer

    def _enter_hangup(self, node: HangupNode, visit: _Visit) -> Step | _Goto:
        if node.prompt:
            self._say(node.prompt)
        self.outcome = self._hangup_outcome()
        return Hangup(self.outcome)
