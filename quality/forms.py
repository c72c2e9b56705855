"""Evaluation forms and their scoring. Pure: a form from config, a filled answer set, a score.

A form has sections, each with a weight; a section's questions are ``yes_no`` (yes earns the
question's points) or ``scale`` (0…``points``, earned as given). A question may allow "not
applicable" (``na``): it then leaves both what was earned and what was possible. A section's score is
earned / possible; the evaluation's is the weighted mean of the sections that had anything possible,
as a percentage with two decimals. A **fatal** question answered "no" (or 0 on a scale) — e.g. "read
the full card number back", "no identity check before account details" — sets the whole evaluation to
0 and names the question, whatever the rest earned: that is how contact centres treat a compliance
breach, and why agents see which one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.errors import TongdaiError

Answer = bool | int | Literal["na"]


class BadEvaluation(TongdaiError, ValueError):
    error_id = "quality.bad_evaluation"


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    text: str = Field(min_length=1, max_length=300)
    kind: Literal["yes_no", "scale"] = "yes_no"
    points: int = Field(1, ge=1, le=100)
    fatal: bool = False
    na_allowed: bool = False


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=80)
    weight: int = Field(ge=1, le=100)
    questions: list[Question] = Field(min_length=1)


class EvaluationForm(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    name: str = Field(min_length=1, max_length=120)
    sections: list[Section] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_questions(self) -> EvaluationForm:
        ids = [q.id for s in self.sections for q in s.questions]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"question ids used twice: {', '.join(dupes)}")
        return self

    def questions(self) -> dict[str, Question]:
        return {q.id: q for s in self.sections for q in s.questions}


class QualityConfig(BaseModel):
    """config.yaml ``quality:``: the evaluation forms, by id, and the QA analysts (agent ids) who fill
    them besides supervisors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    forms: list[EvaluationForm] = []
    analysts: list[str] = []

    def form(self, form_id: str) -> EvaluationForm | None:
        return next((f for f in self.forms if f.id == form_id), None)

    @field_validator("forms")
    @classmethod
    def _unique_forms(cls, v: list[EvaluationForm]) -> list[EvaluationForm]:
        ids = [f.id for f in v]
        if len(set(ids)) != len(ids):
            raise ValueError("form ids must be unique")
        return v


@dataclass(frozen=True)
class SectionScore:
    name: str
    weight: int
    earned: int
    possible: int

    @property
    def percent(self) -> Decimal | None:
        return _pct(Decimal(self.earned) / self.possible) if self.possible else None


@dataclass(frozen=True)
class Score:
    percent: Decimal  # 0.00 … 100.00
    sections: tuple[SectionScore, ...]
    fatal: tuple[str, ...]  # ids of fatal questions failed


def _pct(x: Decimal) -> Decimal:
    return (x * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _earned(q: Question, a: Answer) -> int:
    if a == "na":
        if not q.na_allowed:
            raise BadEvaluation(f"{q.id}: 'not applicable' is not allowed for this question")
        return -1
    if q.kind == "yes_no":
        if not isinstance(a, bool):
            raise BadEvaluation(f"{q.id}: answer yes (true) or no (false)")
        return q.points if a else 0
    if isinstance(a, bool) or not isinstance(a, int) or not 0 <= a <= q.points:
        raise BadEvaluation(f"{q.id}: a whole number from 0 to {q.points}")
    return a


def score(form: EvaluationForm, answers: dict[str, Answer]) -> Score:
    """Score a filled form; every question must be answered, and nothing else."""
    known = form.questions()
    if extra := sorted(set(answers) - set(known)):
        raise BadEvaluation(f"not questions of form {form.id!r}: {', '.join(extra)}")
    if missing := [q for q in known if q not in answers]:
        raise BadEvaluation(f"unanswered: {', '.join(missing)}")
    sections, fatal = [], []
    for s in form.sections:
        earned = possible = 0
        for q in s.questions:
            got = _earned(q, answers[q.id])
            if got < 0:
                continue
            earned, possible = earned + got, possible + q.points
            if q.fatal and got == 0:
                fatal.append(q.id)
        sections.append(SectionScore(s.name, s.weight, earned, possible))
    weighted = [(s.weight, Decimal(s.earned) / s.possible) for s in sections if s.possible]
    total_weight = sum(w for w, _ in weighted)
    overall = sum((w * r for w, r in weighted), Decimal(0)) / total_weight if total_weight else Decimal(0)
    return Score(Decimal("0.00") if fatal else _pct(overall), tuple(sections), tuple(fatal))
