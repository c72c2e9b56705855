"""The complete configuration model: core's sections plus every component's, with their checks.

Each feature package declares its section(s) as a mixin in its ``component.py``; ``Settings`` is
their union (``tests/unit/core/test_core_config.py`` checks that it lists exactly the registered
sections and checks, so a new component cannot be forgotten here).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from acd.component import AcdSections
from agent_desktop.component import DesktopSections
from billing.component import BillingSections
from campaigns.component import CampaignsSections
from core import config as core_config
from core.config import AgentConfig, CoreSettings, QueueConfig
from crm_bridge.component import CrmSections
from ivr.component import IvrSections
from quality.component import QualitySections
from recordings.component import RecordingsSections
from reports.component import ReportsSections
from tongdai.components import COMPONENTS
from trunks.component import TrunksSections
from webchat.component import WebchatSections

__all__ = ["AgentConfig", "QueueConfig", "Settings", "load_config", "parse_config"]


class Settings(
    CoreSettings,
    CrmSections,
    AcdSections,
    IvrSections,
    BillingSections,
    RecordingsSections,
    DesktopSections,
    ReportsSections,
    TrunksSections,
    CampaignsSections,
    WebchatSections,
    QualitySections,
):
    """config.yaml, validated: every section of core and of each component."""

    CHECKS = tuple(check for spec in COMPONENTS for check in spec.checks)


def parse_config(text: str, source: str = "config.yaml", env: Mapping[str, str] | None = None) -> Settings:
    """Validate config text; raise ConfigError naming every bad key and its line."""
    return core_config.parse_config(Settings, text, source, env)


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Settings:
    return core_config.load_config(Settings, path, env)
