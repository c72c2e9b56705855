"""HTTP edge of quality evaluations: the forms, an evaluation saved by a QA analyst (supervisors and
``quality.analysts``; audited), the evaluations (an agent sees only their own), and the averages per
agent and queue that the report page shows."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import ConfigDict, Field, WithJsonSchema

from core.audit import Audit
from core.errors import Forbidden
from core.http import Access, Args, Call, Route
from core.identity import Who
from quality.forms import Answer, QualityConfig
from quality.store import EvaluationStore, NewEvaluation
from reports.service_level import BadPeriod, day_start_utc, parse_period

_DATE = {"type": "string", "format": "date"}
Since = Annotated[str | None, WithJsonSchema({**_DATE, "examples": ["2026-11-01"]})]
Until = Annotated[str | None, WithJsonSchema({**_DATE, "examples": ["2026-11-02"]})]


class AnalystsOnly(Forbidden):
    error_id = "access.analysts_only"


class EvaluateArgs(Args):
    call_id: str = Field(min_length=1, max_length=64, description="the call (its Linkedid)")
    form_id: str = Field(min_length=1, max_length=40, description="a form of quality.forms")
    answers: dict[Annotated[str, Field(max_length=40)], Answer] = Field(
        max_length=200, description="question id -> true/false, a number, or 'na'"
    )
    comment: str = Field("", max_length=4000)


class ListArgs(Args):
    agent: str | None = Field(None, max_length=16, description="one agent (an agent always sees their own)")
    call_id: str | None = Field(None, max_length=64)
    since: Since = Field(None, description="made on this day (Asia/Ho_Chi_Minh) or after")
    until: Until = Field(None, description="made before this day")
    limit: int = Field(200, ge=1, le=1000)


def _both_required(schema: dict[str, Any]) -> None:
    schema["required"] = ["since", "until"]


class PeriodArgs(Args):
    model_config = ConfigDict(json_schema_extra=_both_required)

    since: Since = Field(None, description="first day (Asia/Ho_Chi_Minh), inclusive")
    until: Until = Field(None, description="last day, exclusive")


def _day(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadPeriod(f"{name}={text!r} is not a date like 2026-11-01") from None


def quality_routes(store: EvaluationStore, config: QualityConfig, audit: Audit) -> list[Route]:
    def analyst(who: Who) -> bool:
        return who.supervisor or who.agent_id in config.analysts

    def analysts_only(who: Who) -> None:
        if not analyst(who):
            raise AnalystsOnly("QA analysts and supervisors only")

    async def forms(c: Call[Args]) -> Any:
        return {"forms": [f.model_dump() for f in config.forms], "analyst": analyst(c.who)}

    async def evaluate(c: Call[EvaluateArgs]) -> Any:
        analysts_only(c.who)
        a = c.args
        new = NewEvaluation(a.call_id, a.form_id, dict(a.answers), a.comment)
        saved = await store.save(new, c.who.agent_id)
        detail = f"{saved['form_id']} {saved['score']:.2f}% agent {saved['agent_id']}"
        await audit(c.who.agent_id, "quality.evaluate", "call", a.call_id, detail)
        return saved

    async def evaluations(c: Call[ListArgs]) -> Any:
        a = c.args
        agent = a.agent if analyst(c.who) else c.who.agent_id  # an agent: their own, whatever they ask
        since = day_start_utc(_day("since", a.since)) if a.since else None
        until = day_start_utc(_day("until", a.until)) if a.until else None
        rows = await store.find(agent_id=agent, call_id=a.call_id, since=since, until=until, limit=a.limit)
        return {"evaluations": rows}

    async def averages(c: Call[PeriodArgs]) -> Any:
        analysts_only(c.who)
        d0, d1 = parse_period(c.args.since, c.args.until, max_days=3660)
        return await store.averages(day_start_utc(d0), day_start_utc(d1))

    tag, people = "quality", Access.PEOPLE
    return [
        Route("GET", "/api/quality/forms", "The evaluation forms of quality.forms", forms,
              access=people, result={"type": "object", "required": ["forms"]}, tag=tag),
        Route("POST", "/api/quality/evaluations",
              "Save a QA evaluation of a call (QA analysts and supervisors; scored; audited)", evaluate,
              EvaluateArgs, access=people, errors=(404,), result={"type": "object", "required": ["score"]},
              tag=tag),
        Route("GET", "/api/quality/evaluations",
              "Evaluations, newest first; an agent sees only their own", evaluations, ListArgs,
              access=people, result={"type": "object", "required": ["evaluations"]}, tag=tag),
        Route("GET", "/api/quality/averages",
              "Mean evaluation score per agent and per queue over [since, until)", averages, PeriodArgs,
              access=people, result={"type": "object", "required": ["agents", "queues"]}, tag=tag),
    ]  # fmt: skip
