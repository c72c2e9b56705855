"""The post-call survey as a pure state machine, driven over FastAGI like the IVR (ivr/machine.py).

When the agent hangs up, the caller (not the agent) is moved to the survey (Queue's ``c`` option lets
the caller's channel continue in the dialplan). Each question is one key: ``scale`` 1…``scale_max``,
``yes_no`` 1 = yes, 2 = no. A wrong key replays the question once; no key, or a hang-up, records that
question and every later one as ``no_answer`` — never a score. Which calls are surveyed is decided by
:func:`is_sampled`, a keyed hash of the call id: the same call always gets the same answer, the
share is exact over many calls, and without the deployment's key nobody (an agent included) can tell
or steer which calls will be asked.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal

from core.survey_config import SurveyConfig, SurveyQuestion
from ivr.machine import Collect, Digits, Hangup, IvrStateError, Play, Played, Step, StepResult
from ivr.prompts import prompt_sound

__all__ = ["SurveyAnswer", "SurveyConfig", "SurveyQuestion", "SurveySession", "is_sampled"]


def is_sampled(call_id: str, percent: float, key: bytes) -> bool:
    """Whether this call is surveyed: HMAC-SHA256(key, call id) read as a number in [0, 1)."""
    if percent >= 100:
        return True
    digest = hmac.new(key, call_id.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < percent / 100


@dataclass(frozen=True)
class SurveyAnswer:
    question: str
    value: int | None  # None = no answer
    status: Literal["answered", "no_answer"]


class SurveySession:
    """One caller's survey: ``start()`` gives the first step, ``feed()`` each result."""

    def __init__(self, cfg: SurveyConfig, lang: str) -> None:
        if not cfg.questions:
            raise ValueError("a survey needs at least one question")
        self.cfg, self.lang = cfg, lang
        self.answers: list[SurveyAnswer] = []
        self._retried = False
        self._waiting: type | None = None
        self.finished = False

    def _sound(self, prompt_id: str) -> str:
        return prompt_sound(self.lang, prompt_id)

    def _ask(self, *, intro: bool = False, invalid: bool = False) -> Step:
        q = self.cfg.questions[len(self.answers)]
        sounds = [self._sound(q.prompt)]
        if intro:
            sounds.insert(0, self._sound(self.cfg.intro_prompt))
        if invalid:
            sounds.insert(0, self._sound(self.cfg.invalid_prompt))
        self._waiting = Digits
        return Collect(tuple(sounds), max_digits=1, timeout_ms=self.cfg.timeout_ms)

    def start(self) -> Step:
        return self._ask(intro=True)

    def feed(self, result: StepResult) -> Step:
        if self._waiting is None or not isinstance(result, self._waiting):
            raise IvrStateError(f"survey was not waiting for {type(result).__name__}")
        if isinstance(result, Played):  # the thanks were played
            self.finished, self._waiting = True, None
            return Hangup("survey_done")
        assert isinstance(result, Digits)
        q = self.cfg.questions[len(self.answers)]
        value = _value(q, result.value or "")
        if value is None and result.value and not self._retried:
            self._retried = True
            return self._ask(invalid=True)
        if value is None:  # nothing pressed (or wrong twice): the caller is not taking part
            self.hung_up()
            return Hangup("survey_no_answer")
        self.answers.append(SurveyAnswer(q.id, value, "answered"))
        self._retried = False
        if len(self.answers) < len(self.cfg.questions):
            return self._ask()
        self._waiting = Played
        return Play((self._sound(self.cfg.thanks_prompt),))

    def hung_up(self) -> None:
        """The caller left: every question not answered yet is recorded as no answer."""
        for q in self.cfg.questions[len(self.answers) :]:
            self.answers.append(SurveyAnswer(q.id, None, "no_answer"))
        self.finished, self._waiting = True, None


def _value(q: SurveyQuestion, digits: str) -> int | None:
    if len(digits) != 1 or not digits.isdigit():
        return None
    n = int(digits)
    if q.kind == "yes_no":
        return n if n in (1, 2) else None
    return n if 1 <= n <= q.scale_max else None
