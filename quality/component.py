"""Wiring of quality evaluations: the ``quality`` section (forms, analysts), the evaluations store and
its API on the desktop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from aiohttp import web

from core.component import ComponentSpec, Infra
from core.config import Section
from quality.forms import QualityConfig
from quality.store import EvaluationStore

if TYPE_CHECKING:
    from tongdai.settings import Settings

__all__ = ["SPEC", "QualitySections", "running"]


class QualitySections(Section):
    quality: QualityConfig = QualityConfig()


@asynccontextmanager
async def running(settings: Settings, infra: Infra) -> AsyncIterator[EvaluationStore]:
    from core.http import add_routes
    from quality.http import quality_routes

    store = EvaluationStore(infra.sessions, lambda: settings.quality)

    def mount(app: web.Application) -> None:
        add_routes(app, quality_routes(store, settings.quality, infra.audit))

    infra.mount(mount)
    yield store


SPEC = ComponentSpec("quality", sections=QualitySections)
