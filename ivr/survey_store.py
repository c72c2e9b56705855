"""Storage of post-call survey answers (``survey_answers``): one row per question, written once when
the survey ends (answered, no key, or a hang-up), so a survey is never half stored."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import unit_of_work
from core.survey_config import SurveyConfig
from ivr.models import SurveyAnswerRecord
from ivr.survey import SurveyAnswer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SurveyContext:
    """What the survey is stored against, read from the caller's channel when it starts."""

    call_id: str  # Asterisk Linkedid
    queue: str
    agent_id: str
    customer_id: str | None
    language: str


class SurveyStore:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], now: Callable[[], datetime] | None = None
    ) -> None:
        self._sessions = sessions
        self._now = now or (lambda: datetime.now(UTC))

    async def record(self, ctx: SurveyContext, cfg: SurveyConfig, answers: Sequence[SurveyAnswer]) -> int:
        """Store one survey's answers; returns the rows written (0 if this call was stored already)."""
        kinds = {q.id: (q.kind, q.scale_max if q.kind == "scale" else 2) for q in cfg.questions}
        csat = next((q.id for q in cfg.questions if q.kind == "scale"), None)
        at = self._now()
        rows = [
            SurveyAnswerRecord(
                call_id=ctx.call_id,
                question=a.question,
                position=i,
                kind=kinds[a.question][0],
                scale_max=kinds[a.question][1],
                csat=a.question == csat,
                value=a.value if a.status == "answered" else None,
                status=a.status,
                queue=ctx.queue,
                agent_id=ctx.agent_id,
                customer_id=ctx.customer_id or None,
                language=ctx.language,
                asked_at=at,
            )
            for i, a in enumerate(answers)
        ]
        try:
            async with unit_of_work(self._sessions) as s:
                s.add_all(rows)
        except IntegrityError:  # one survey per call: a second one (a retried AGI) keeps the first
            log.warning("survey for call %s already stored; kept the first", ctx.call_id)
            return 0
        return len(rows)

    async def for_call(self, call_id: str) -> list[SurveyAnswerRecord]:
        async with self._sessions() as s:
            q = select(SurveyAnswerRecord).where(SurveyAnswerRecord.call_id == call_id)
            return list(await s.scalars(q.order_by(SurveyAnswerRecord.position)))
