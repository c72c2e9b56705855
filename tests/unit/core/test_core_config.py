"""config.yaml validation: one clear error naming the key and its line; secrets from the environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.errors import ConfigError
from tests.support.settings import REPO
from tongdai.settings import load_config, parse_config


def shipped() -> str:
    return (REPO / "config.yaml").read_text(encoding="utf-8")


def test_shipped_config_is_valid() -> None:
    s = parse_config(shipped(), env={})
    assert s.hotline.numbers[0] == "18001090"
    assert s.default_queue in {q.name for q in s.queues}
    assert s.asterisk.ami.secret.get_secret_value()


def test_misspelt_key_is_named_with_its_line() -> None:
    text = shipped().replace("  decision_budget: 1.5", "  decision_budgett: 1.5")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "decision_budgett" in ln)
    with pytest.raises(ConfigError) as err:
        parse_config(text, env={})
    msg = str(err.value)
    assert f"asterisk.agi.decision_budgett (line {line}): unknown key (misspelt?)" in msg


def test_wrong_type_and_bad_reference_are_all_reported() -> None:
    text = (
        shipped()
        .replace("    port: 5038", "    port: not-a-port")
        .replace("default_queue: care", "default_queue: nowhere")
    )
    with pytest.raises(ConfigError) as err:
        parse_config(text, env={})
    msg = str(err.value)
    assert "asterisk.ami.port" in msg
    # Reference errors surface once the types are right.
    fixed = text.replace("    port: not-a-port", "    port: 5038")
    with pytest.raises(ConfigError, match=r"default_queue \(line \d+\): 'nowhere' is not a queue"):
        parse_config(fixed, env={})


def test_ivr_transfer_to_unknown_queue_is_refused() -> None:
    text = shipped().replace(
        "mobile_fault: {type: transfer, queue: mobile,", "mobile_fault: {type: transfer, queue: mobil,"
    )
    with pytest.raises(ConfigError, match="unknown queue 'mobil'"):
        parse_config(text, env={})


def test_secret_from_environment_overrides_file() -> None:
    s = parse_config(
        shipped(), env={"TONGDAI__ASTERISK__AMI__SECRET": "from-env", "TONGDAI__WEB__PORT": "9090"}
    )
    assert s.asterisk.ami.secret.get_secret_value() == "from-env"
    assert s.web.port == 9090
    assert "from-env" not in repr(s)  # secrets never appear in logs or reprs


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_config("hotline: [unclosed", env={})
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_cli_refuses_to_start_on_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tongdai.cli import main

    bad = tmp_path / "config.yaml"
    bad.write_text(shipped().replace("\nweb:\n", "\nwebb:\n"), encoding="utf-8")
    assert main(["-c", str(bad), "check-config"]) == 2
    err = capsys.readouterr().err
    assert "webb" in err and "unknown key" in err


def test_settings_is_core_plus_every_registered_section_and_check() -> None:
    from core.config import CoreSettings
    from tongdai.components import COMPONENTS
    from tongdai.settings import Settings

    sections = {spec.sections for spec in COMPONENTS if spec.sections is not None}
    assert set(Settings.__bases__) == {CoreSettings, *sections}
    assert tuple(c for spec in COMPONENTS for c in spec.checks) == Settings.CHECKS
    # Every section a component declares is a key of config.yaml's model.
    for section in sections:
        assert set(section.model_fields) <= set(Settings.model_fields)
    assert {"ivr", "callbacks", "acd", "tier_map", "crm", "billing", "cdr", "recordings", "desktop"} <= set(
        Settings.model_fields
    )


def test_core_and_component_checks_are_reported_together() -> None:
    text = (
        shipped()
        .replace("default_queue: care", "default_queue: nowhere")
        .replace(
            "mobile_fault: {type: transfer, queue: mobile,", "mobile_fault: {type: transfer, queue: mobil,"
        )
    )
    with pytest.raises(ConfigError) as err:
        parse_config(text, env={})
    msg = str(err.value)
    # Core's own check and the IVR component's, each located at the key it names.
    assert re.search(r"default_queue \(line \d+\): 'nowhere' is not a queue", msg), msg
    assert re.search(r"ivr \(line \d+\): transfers to unknown queue 'mobil'", msg), msg


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("a\nb", "line feed"),
        ("a\rb", "carriage return"),
        ("a\x00b", "NUL byte"),
        ("a;b", "';'"),
        ("a\tb", "U+0009"),
        ("a\u2028b", "U+2028"),
        (" a", "spaces"),
        ("[general]", "'['"),
        ("#include x", "'#'"),
    ],
)
def test_conf_safe_names_what_would_break_asterisks_config(value: str, why: str) -> None:
    from pydantic_core import PydanticCustomError

    from core.config import conf_safe

    with pytest.raises(PydanticCustomError) as err:
        conf_safe(value)
    assert why in str(err.value)
    assert conf_safe("Nguyễn Thị Lan [SIP] #2") == "Nguyễn Thị Lan [SIP] #2"
