"""The post-call survey: keys become scores, a wrong key is asked again once, silence or a hang-up is
"no answer" (never a score), and sampling is a keyed, exact, repeatable choice."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ivr.machine import Collect, Digits, Hangup, IvrStateError, Play, Played
from ivr.survey import SurveyConfig, SurveySession, is_sampled

CFG = SurveyConfig(
    enabled=True,
    questions=[
        {"id": "csat", "prompt": "survey_csat", "kind": "scale", "scale_max": 5},
        {"id": "solved", "prompt": "survey_solved", "kind": "yes_no"},
    ],
)


def test_a_caller_keys_5_then_1() -> None:
    s = SurveySession(CFG, "vi")
    first = s.start()
    assert isinstance(first, Collect) and first.max_digits == 1
    assert first.prompts == ("tongdai/vi/survey_intro", "tongdai/vi/survey_csat")
    second = s.feed(Digits("5"))
    assert isinstance(second, Collect) and second.prompts == ("tongdai/vi/survey_solved",)
    thanks = s.feed(Digits("1"))
    assert thanks == Play(("tongdai/vi/survey_thanks",))
    assert s.feed(Played()) == Hangup("survey_done")
    assert [(a.question, a.value, a.status) for a in s.answers] == [
        ("csat", 5, "answered"),
        ("solved", 1, "answered"),
    ]
    assert s.finished


def test_a_wrong_key_is_asked_again_once_then_no_answer() -> None:
    s = SurveySession(CFG, "en")
    s.start()
    again = s.feed(Digits("7"))  # out of the 1-5 scale
    assert isinstance(again, Collect) and again.prompts == (
        "tongdai/en/survey_invalid",
        "tongdai/en/survey_csat",
    )
    s.feed(Digits("4"))
    again = s.feed(Digits("3"))  # a yes/no question takes 1 or 2: asked again, once per question
    assert isinstance(again, Collect) and again.prompts[0] == "tongdai/en/survey_invalid"
    assert s.feed(Digits("9")) == Hangup("survey_no_answer")  # wrong twice: not a score
    assert [(a.value, a.status) for a in s.answers] == [(4, "answered"), (None, "no_answer")]


def test_silence_and_hang_up_are_no_answer_never_a_score() -> None:
    s = SurveySession(CFG, "vi")
    s.start()
    assert s.feed(Digits(None)) == Hangup("survey_no_answer")
    assert [(a.value, a.status) for a in s.answers] == [(None, "no_answer"), (None, "no_answer")]
    h = SurveySession(CFG, "vi")
    h.start()
    h.feed(Digits("2"))
    h.hung_up()  # the caller hung up during the second question
    assert [(a.question, a.value, a.status) for a in h.answers] == [
        ("csat", 2, "answered"),
        ("solved", None, "no_answer"),
    ]
    with pytest.raises(IvrStateError):
        h.feed(Digits("1"))


def test_sampling_is_keyed_exact_and_repeatable() -> None:
    key = b"k" * 32
    picked = [is_sampled(f"tdtest-{i}.1", 20, key) for i in range(20_000)]
    assert abs(sum(picked) / len(picked) - 0.20) < 0.01
    assert picked == [is_sampled(f"tdtest-{i}.1", 20, key) for i in range(20_000)]
    other = [is_sampled(f"tdtest-{i}.1", 20, b"x" * 32) for i in range(20_000)]
    assert other != picked  # another deployment's key surveys other calls
    assert all(is_sampled("c", 100, key) for _ in range(3)) and not is_sampled("c", 0, key)


def test_bad_survey_config() -> None:
    with pytest.raises(ValidationError, match="unique"):
        SurveyConfig(questions=[{"id": "a", "prompt": "p"}, {"id": "a", "prompt": "q"}])
    with pytest.raises(ValueError, match="at least one question"):
        SurveySession(SurveyConfig(), "vi")
