"""The complete schema and its migrations: importing this module registers every package's tables on
``Base``; the Alembic scripts ship inside this package (found with importlib.resources, so an
installed wheel migrates as a checkout does)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

import acd.models
import agent_desktop.models
import billing.models
import campaigns.models
import core.models
import crm_bridge.models
import ivr.models
import quality.models
import recordings.models
import webchat.models
from core import migrate
from core.db import Base

metadata = Base.metadata
MODEL_MODULES = (
    core.models,
    billing.models,
    crm_bridge.models,
    recordings.models,
    ivr.models,
    acd.models,
    agent_desktop.models,
    campaigns.models,
    webchat.models,
    quality.models,
)
# A real directory both in a checkout and in an installed wheel (setuptools installs unzipped).
MIGRATIONS = Path(str(files("tongdai") / "migrations"))


async def upgrade_to_head(engine: AsyncEngine) -> None:
    await migrate.upgrade_to_head(engine, MIGRATIONS)
