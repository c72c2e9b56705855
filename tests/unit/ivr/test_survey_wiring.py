"""A queue's ``survey:`` in config.yaml: validated with clear paths (prompts in the catalogue, an
enabled survey asks something), and rendered into the dialplan: only those queues get Queue's ``c``
option and a ``tongdai-survey`` extension that runs the FastAGI ``survey`` route."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from asterisk_conf.render import write_all
from core.errors import ConfigError
from ivr.survey_route import sampling_key
from tests.support.settings import REPO, TEST_QUEUES, make_settings
from tongdai.settings import parse_config

SURVEY: dict[str, Any] = {
    "enabled": True,
    "sample_percent": 20,
    "questions": [
        {"id": "csat", "prompt": "survey_csat"},
        {"id": "solved", "prompt": "survey_solved", "kind": "yes_no"},
    ],
}


def with_queues(*changes: dict[str, Any]) -> str:
    data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    for i, change in enumerate(changes):
        data["queues"][i].update(change)
    return yaml.safe_dump(data, allow_unicode=True)


def test_the_shipped_config_surveys_a_fifth_of_mobile_calls() -> None:
    s = parse_config((REPO / "config.yaml").read_text(encoding="utf-8"))
    mobile = s.queue("mobile").survey
    assert (
        mobile.enabled
        and mobile.sample_percent == 20
        and [q.id for q in mobile.questions] == ["csat", "solved"]
    )
    assert not s.queue("care").survey.enabled


def test_bad_surveys_are_refused_with_their_paths() -> None:
    missing = {**SURVEY, "questions": [{"id": "csat", "prompt": "no_such_prompt"}]}
    with pytest.raises(ConfigError) as info:
        parse_config(with_queues({"survey": missing}))
    assert "queues.0.survey (line" in str(info.value)
    assert "prompt 'no_such_prompt' is not in the prompts catalogue" in str(info.value)
    with pytest.raises(ConfigError) as info:
        parse_config(with_queues({"survey": {"enabled": True}}))
    assert "queues.0.survey" in str(info.value) and "at least one question" in str(info.value)
    with pytest.raises(ConfigError) as info:
        parse_config(with_queues({"survey": {**SURVEY, "sample_percent": 120, "colour": "red"}}))
    assert "sample_percent" in str(info.value) and "colour" in str(info.value)


def test_only_survey_queues_continue_into_the_survey(tmp_path: Path) -> None:
    queues = [{**TEST_QUEUES[0], "survey": SURVEY}, *TEST_QUEUES[1:]]
    write_all(make_settings(queues=queues), tmp_path)
    conf = (tmp_path / "extensions.conf").read_text()
    survey = conf[conf.index("[tongdai-survey]") : conf.index("[tongdai-answered]")]
    assert "exten => mobile,1," in survey and "AGI(${TONGDAI_AGI}/survey)" in survey
    assert "exten => internet," not in survey and "exten => care," not in survey
    assert "Set(TONGDAI_QC=${IF(${DIALPLAN_EXISTS(tongdai-survey,${TONGDAI_QUEUE},1)}?c)})" in conf
    assert "Queue(${TONGDAI_QUEUE},tb(tongdai-predial^s^1)${TONGDAI_QC}," in conf
    # Queue returns CONTINUE when the agent hung up under c: that is an answered call, not an exit.
    assert '"${QUEUESTATUS}" = "CONTINUE"]?answered' in conf
    assert (
        "GotoIf(${DIALPLAN_EXISTS(tongdai-survey,${TONGDAI_QUEUE},1)}?tongdai-survey,${TONGDAI_QUEUE},1)"
        in conf
    )


def test_the_sampling_key_is_secret_derived_and_deployment_specific() -> None:
    a, b = sampling_key("secret-one-0123456789abcdef"), sampling_key("secret-two-0123456789abcdef")
    assert a != b and len(a) == 32 and b"secret" not in a
