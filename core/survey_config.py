"""``survey:`` of a queue in config.yaml: the post-call survey's settings (ivr/survey.py runs it).

It lives in core because queues are core's section (:class:`core.config.QueueConfig`); the survey's
rules, prompts and storage are the IVR's. Each question is one key: ``scale`` 1…``scale_max`` or
``yes_no`` (1 = yes, 2 = no). The first ``scale`` question is the CSAT question of the reports.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class SurveyQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    prompt: str  # a prompt id of the IVR catalogue, spoken in the caller's language
    kind: Literal["scale", "yes_no"] = "scale"
    scale_max: int = Field(5, ge=2, le=9)


class SurveyConfig(BaseModel):
    """A queue's post-call survey: on/off, the share of calls asked, the questions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    sample_percent: float = Field(100.0, ge=0, le=100)
    questions: list[SurveyQuestion] = Field(default_factory=list)
    intro_prompt: str = "survey_intro"
    invalid_prompt: str = "survey_invalid"
    thanks_prompt: str = "survey_thanks"
    timeout_ms: int = Field(6000, ge=1000, le=20000)

    @field_validator("questions")
    @classmethod
    def _unique(cls, v: list[SurveyQuestion]) -> list[SurveyQuestion]:
        ids = [q.id for q in v]
        if len(set(ids)) != len(ids):
            raise ValueError("survey question ids must be unique")
        return v

    @model_validator(mode="after")
    def _asks_something(self) -> SurveyConfig:
        if self.enabled and not self.questions:
            raise ValueError("an enabled survey needs at least one question")
        return self

    def prompt_ids(self) -> list[str]:
        return [
            self.intro_prompt,
            self.invalid_prompt,
            self.thanks_prompt,
            *(q.prompt for q in self.questions),
        ]
