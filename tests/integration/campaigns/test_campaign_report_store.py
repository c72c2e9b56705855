"""The campaign report and its outcome rows on SQLite and PostgreSQL (the same rows as the API test
in tests/component/test_campaign_report_api.py): the figures, the occupancy and the export rows are
the same on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from campaigns.lists import ListEntry
from campaigns.report import CampaignReports, Window
from campaigns.store import CampaignStore, NewCampaign
from core.db import create_engine, session_factory
from tests.component.test_campaign_report_api import T0, M, fill
from tongdai.schema import upgrade_to_head


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[CampaignStore]:
    engine = create_engine(db_url)
    await upgrade_to_head(engine)
    yield CampaignStore(session_factory(engine), clock=lambda: T0)
    await engine.dispose()


async def test_the_figures_and_rows_are_the_same_on_every_database(store: CampaignStore) -> None:
    c = await store.create(NewCampaign(name="Nợ cước", queue="tv", purpose="care"), "9000")
    entries = [ListEntry(f"+8490{n}345678", 10 - n, x, None, (n + 2,)) for n, x in enumerate("ABCDEFG")]
    await store.import_list(c.id, entries, {})
    await fill(store.sessions, store, c.id)
    reports = CampaignReports(store.sessions, clock=lambda: T0 + 180 * M)
    w = Window(T0, T0 + 120 * M)
    r = await reports.report(await store.get(c.id), w, abandon_cap=0.03)
    assert (r["dialled"], r["answered"], r["connected"], r["abandoned"], r["machines"]) == (6, 3, 2, 1, 1)
    assert r["refusals"] == {"dnc_operator": 1} and r["over_cap"] is True
    occ = r["occupancy"]
    assert (occ["talk_seconds"], occ["wrap_seconds"], occ["logged_in_seconds"], occ["rate"]) == (
        180.0, 50.0, 10558.0, 0.0218,
    )  # fmt: skip
    rows = await reports.outcome_rows(c.id, w)
    assert [(row[3], row[9]) for row in rows] == [
        ("A", "reached"), ("B", "reached"), ("C", "reached"), ("D", "busy"), ("D", "no_answer"),
        ("E", "refused"), ("F", "machine"), ("G", ""),
    ]  # fmt: skip
