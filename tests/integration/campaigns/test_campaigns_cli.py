"""``tongdai campaigns import`` and ``tongdai campaigns dnc`` through tongdai.cli.main on a real SQLite
database with the demo customers: a list lands whole (linked to customers) or not at all; a
do-not-call file replaces its list whole, or is refused whole."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from campaigns.models import DoNotCallNumber
from campaigns.store import CampaignStore, NewCampaign
from core.db import create_engine, session_factory
from core.models import AuditEntry
from crm_bridge.demo_data import load_demo
from tests.support.settings import base_config, deep_merge
from tongdai.cli import main
from tongdai.schema import upgrade_to_head


@pytest.fixture
def setup(tmp_path: Path) -> tuple[str, str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def fill() -> None:
        engine = create_engine(url)
        await upgrade_to_head(engine)
        await load_demo(engine, 0)
        await CampaignStore(session_factory(engine)).create(
            NewCampaign(name="Hậu mãi", queue="tv", purpose="care"), "9000"
        )
        await engine.dispose()

    asyncio.run(fill())
    path = tmp_path / "config.yaml"
    data = deep_merge(base_config(), {"database": {"url": url}, "node": {"data_dir": str(tmp_path / "var")}})
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path), url


def contacts(url: str) -> list[tuple[str, str | None]]:
    async def read() -> list[tuple[str, str | None]]:
        engine = create_engine(url)
        try:
            return [
                (c.number, c.customer_id) for c in await CampaignStore(session_factory(engine)).contacts(1)
            ]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def dnc(url: str) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as s:
                rows = await s.scalars(select(DoNotCallNumber).order_by(DoNotCallNumber.number))
                return [(r.number, r.source) for r in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def audit(url: str) -> list[tuple[str, str, str, str]]:
    async def read() -> list[tuple[str, str, str, str]]:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as s:
                rows = await s.scalars(select(AuditEntry).order_by(AuditEntry.id))
                return [(r.actor, r.action, r.subject_id, r.detail) for r in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_a_list_is_imported_whole_or_not_at_all(
    setup: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, url = setup
    bad = tmp_path / "bad.csv"
    bad.write_text("number,priority\n0912345678,2\n09123,1\n", encoding="utf-8")
    assert main(["-c", config, "campaigns", "import", "1", str(bad)]) == 2
    assert "row 3: number" in capsys.readouterr().err
    assert contacts(url) == []
    good = tmp_path / "good.csv"
    good.write_text("\ufeffnumber,priority\n0912345678,2\n0881234567,1\n", encoding="utf-8")
    assert main(["-c", config, "campaigns", "import", "1", str(good)]) == 0
    assert "2 added, 0 merged, 1 linked" in capsys.readouterr().out
    assert contacts(url) == [("+84912345678", "KH0000000001"), ("+84881234567", None)]
    assert audit(url) == [("cli", "campaign.import", "1", "2 added, 0 merged, 1 linked (from good.csv)")]
    assert main(["-c", config, "campaigns", "import", "7", str(good)]) == 2
    assert "no campaign 7" in capsys.readouterr().err


def test_a_do_not_call_file_replaces_its_list(
    setup: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, url = setup
    first = tmp_path / "national.csv"
    first.write_text("number\n0912345678\n+84 333 333 333\n0912345678\n", encoding="utf-8")
    assert main(["-c", config, "campaigns", "dnc", "national", str(first)]) == 0
    assert main(["-c", config, "campaigns", "dnc", "operator", str(first)]) == 0
    again = tmp_path / "national-2.csv"
    again.write_text("0881234567\n", encoding="utf-8")
    assert main(["-c", config, "campaigns", "dnc", "national", str(again)]) == 0
    assert dnc(url) == [
        ("+84333333333", "operator"),
        ("+84881234567", "national"),
        ("+84912345678", "operator"),
    ]
    broken = tmp_path / "broken.csv"
    broken.write_text("0881234567\nnot a number\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["-c", config, "campaigns", "dnc", "national", str(broken)]) == 2
    assert "line 2" in capsys.readouterr().err
    assert ("+84881234567", "national") in dnc(url)  # the refused file changed nothing
    assert [(a, s, d) for _, a, s, d in audit(url)] == [
        ("dnc.replace", "national", "2 numbers (from national.csv)"),
        ("dnc.replace", "operator", "2 numbers (from national.csv)"),
        ("dnc.replace", "national", "1 numbers (from national-2.csv)"),
    ]
