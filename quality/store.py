"""Evaluations in the database: save one for a finished call (its agent and queue from the ``calls``
table), list them (an agent's own, or anyone's), and average them per agent and per queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import unit_of_work
from core.errors import BadRequest, NotFound
from core.models import CallRecord
from quality.forms import Answer, QualityConfig, score
from quality.models import Evaluation


class UnknownForm(BadRequest):
    error_id = "quality.unknown_form"


class CallNotFound(NotFound):
    error_id = "quality.call_not_found"


class NoAgentOnCall(BadRequest):
    error_id = "quality.no_agent"


@dataclass(frozen=True)
class NewEvaluation:
    call_id: str
    form_id: str
    answers: dict[str, Answer]
    comment: str = ""


def evaluation_json(e: Evaluation) -> dict[str, Any]:
    at = e.created_at if e.created_at.tzinfo else e.created_at.replace(tzinfo=UTC)
    return {
        "id": e.id,
        "call_id": e.call_id,
        "agent_id": e.agent_id,
        "queue": e.queue,
        "form_id": e.form_id,
        "form_name": e.form_name,
        "evaluator": e.evaluator,
        "created_at": at.isoformat(),
        "score": e.score,
        "fatal": list(e.fatal),
        "sections": list(e.sections),
        "answers": dict(e.answers),
        "comment": e.comment,
    }


class EvaluationStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: Callable[[], QualityConfig],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions, self._config, self._clock = sessions, config, clock

    async def save(self, new: NewEvaluation, evaluator: str) -> dict[str, Any]:
        form = self._config().form(new.form_id)
        if form is None:
            raise UnknownForm(f"no evaluation form {new.form_id!r} in quality.forms")
        result = score(form, new.answers)  # BadEvaluation names the question
        async with unit_of_work(self._sessions) as s:
            call = await s.get(CallRecord, new.call_id)
            if call is None:
                raise CallNotFound(f"no call {new.call_id!r}")
            if not call.agent_id:
                raise NoAgentOnCall(f"call {new.call_id!r} was answered by no agent: nobody to evaluate")
            row = Evaluation(
                call_id=call.call_id,
                agent_id=call.agent_id,
                queue=call.queue,
                form_id=form.id,
                form_name=form.name,
                evaluator=evaluator,
                created_at=self._clock(),
                score=float(result.percent),
                fatal=list(result.fatal),
                fatal_count=len(result.fatal),
                sections=[
                    {"name": x.name, "weight": x.weight, "earned": x.earned, "possible": x.possible}
                    for x in result.sections
                ],
                answers=dict(new.answers),
                comment=new.comment,
            )
            s.add(row)
            await s.flush()
            return evaluation_json(row)

    async def find(
        self,
        *,
        agent_id: str | None = None,
        call_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        q = select(Evaluation)
        if agent_id is not None:
            q = q.where(Evaluation.agent_id == agent_id)
        if call_id is not None:
            q = q.where(Evaluation.call_id == call_id)
        if since is not None:
            q = q.where(Evaluation.created_at >= since)
        if until is not None:
            q = q.where(Evaluation.created_at < until)
        async with self._sessions() as s:
            newest = q.order_by(Evaluation.created_at.desc(), Evaluation.id.desc())
            rows = await s.scalars(newest.limit(limit))
            return [evaluation_json(e) for e in rows]

    async def averages(self, since: datetime, until: datetime) -> dict[str, list[dict[str, Any]]]:
        """Mean score, count and fatal-error count per agent and per queue, for evaluations made in
        ``[since, until)``."""
        out: dict[str, list[dict[str, Any]]] = {}
        fatal = func.sum(case((Evaluation.fatal_count > 0, 1), else_=0))
        async with self._sessions() as s:
            for name, col in (("agents", Evaluation.agent_id), ("queues", Evaluation.queue)):
                rows = await s.execute(
                    select(col, func.count(), func.avg(Evaluation.score), fatal)
                    .where(Evaluation.created_at >= since, Evaluation.created_at < until)
                    .group_by(col)
                    .order_by(col)
                )
                out[name] = [
                    {"name": k, "evaluations": int(n), "average": round(float(avg), 2), "fatal": int(f or 0)}
                    for k, n, avg, f in rows
                ]
        return out
