"""Evaluation scoring: weighted sections, scales, not-applicable answers, fatal errors, bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from quality.forms import BadEvaluation, EvaluationForm, QualityConfig, score

FORM = EvaluationForm.model_validate(
    {
        "id": "care-call",
        "name": "Đánh giá cuộc gọi chăm sóc",
        "sections": [
            {
                "name": "Mở đầu",
                "weight": 20,
                "questions": [
                    {"id": "greeting", "text": "Chào đúng kịch bản"},
                    {
                        "id": "identity",
                        "text": "Xác minh danh tính trước khi nói về tài khoản",
                        "fatal": True,
                    },
                ],
            },
            {
                "name": "Giải quyết",
                "weight": 60,
                "questions": [
                    {"id": "solution", "text": "Giải pháp đúng", "kind": "scale", "points": 5},
                    {"id": "upsell", "text": "Giới thiệu gói phù hợp", "na_allowed": True},
                ],
            },
            {"name": "Kết thúc", "weight": 20, "questions": [{"id": "closing", "text": "Tóm tắt và chào"}]},
        ],
    }
)
ALL_GOOD = {"greeting": True, "identity": True, "solution": 5, "upsell": True, "closing": True}


def test_perfect_and_weighted_scores() -> None:
    assert score(FORM, ALL_GOOD).percent == Decimal("100.00")
    s = score(FORM, {**ALL_GOOD, "greeting": False, "solution": 3})
    # Mở đầu 1/2 × 20 + Giải quyết 4/6 × 60 + Kết thúc 1/1 × 20 = 10 + 40 + 20
    assert s.percent == Decimal("70.00") and s.fatal == ()
    assert [(x.earned, x.possible) for x in s.sections] == [(1, 2), (4, 6), (1, 1)]
    assert s.sections[1].percent == Decimal("66.67")


def test_not_applicable_leaves_earned_and_possible() -> None:
    s = score(FORM, {**ALL_GOOD, "solution": 4, "upsell": "na"})
    assert (s.sections[1].earned, s.sections[1].possible) == (4, 5)
    assert s.percent == Decimal("88.00")  # 20 + 0.8 × 60 + 20
    with pytest.raises(BadEvaluation, match="not applicable"):
        score(FORM, {**ALL_GOOD, "closing": "na"})


def test_a_fatal_error_zeroes_the_evaluation_and_is_named() -> None:
    s = score(FORM, {**ALL_GOOD, "identity": False})
    assert s.percent == Decimal("0.00") and s.fatal == ("identity",)
    assert s.sections[0].earned == 1  # the rest is still shown to the agent


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({k: v for k, v in ALL_GOOD.items() if k != "closing"}, "unanswered: closing"),
        ({**ALL_GOOD, "bonus": True}, "not questions"),
        ({**ALL_GOOD, "solution": 6}, "0 to 5"),
        ({**ALL_GOOD, "solution": True}, "0 to 5"),
        ({**ALL_GOOD, "greeting": 1}, "yes \\(true\\) or no"),
    ],
)
def test_bad_answers_get_a_clear_error(answers: dict[str, object], message: str) -> None:
    with pytest.raises(BadEvaluation, match=message):
        score(FORM, answers)  # type: ignore[arg-type]


def test_forms_are_validated() -> None:
    with pytest.raises(ValidationError, match="used twice"):
        EvaluationForm.model_validate(
            {
                "id": "f",
                "name": "F",
                "sections": [
                    {
                        "name": "A",
                        "weight": 1,
                        "questions": [{"id": "q", "text": "x"}, {"id": "q", "text": "y"}],
                    }
                ],
            }
        )
    with pytest.raises(ValidationError, match="unique"):
        QualityConfig(forms=[FORM, FORM])
    with pytest.raises(ValidationError):
        EvaluationForm.model_validate({"id": "Bad Id", "name": "F", "sections": []})
