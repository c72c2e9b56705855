"""One customer-ID rule (crm.customer_id): a customer imported with an ID of any configured format is
found by that ID in the desktop's search, by keypad in the IVR, and through the desktop API."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import Base, create_engine, session_factory
from crm_bridge.config import CrmConfig
from crm_bridge.directory import CustomerDirectory
from crm_bridge.importer import ImportRejected, import_csv
from ivr.lookup import CallerLookup, ivr_directory
from tests.support.desktop import login
from tests.support.settings import SIMPLE_IVR, TEST_QUEUES, free_port, make_settings
from tongdai.app import Bridge

# People keep the demo's KH + 10 digits; businesses are DN + 8 digits.
CRM = {"customer_id": {"keypad": [{"prefix": "KH", "digits": 10}, {"prefix": "DN", "digits": 8}]}}
CUSTOMERS = """customer_id,full_name,kind
DN12345678,Công ty TNHH Minh Phát,organisation
kh0000000042,Phạm Thị Lan,individual
"""
SUBSCRIPTIONS = """customer_id,service,account,number,started_on
DN12345678,fixed,HNI02437001234,024 3700 1234,2021-03-01
KH0000000042,mobile_prepaid,VNP0912000042,0912 000 042,2022-01-10
"""


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(db_url)
    async with eng.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield eng
    await eng.dispose()


async def imported(engine: AsyncEngine) -> CustomerDirectory:
    cfg = CrmConfig.model_validate(CRM)
    sessions = session_factory(engine)
    report = await import_csv(
        sessions,
        customers=io.StringIO(CUSTOMERS),
        subscriptions=io.StringIO(SUBSCRIPTIONS),
        id_format=cfg.customer_id.format(),
    )
    assert report.customer_ids == {"DN12345678", "KH0000000042"}  # stored upper case
    return CustomerDirectory(sessions, cfg.tiers, id_format=cfg.customer_id.format())


async def test_desktop_search_finds_any_configured_id_format(engine: AsyncEngine) -> None:
    d = await imported(engine)
    for text in ("DN12345678", "dn12345678", " DN12345678 "):
        assert [s.customer_id for s in await d.search(text)] == ["DN12345678"], text
    assert [s.customer_id for s in await d.search("KH0000000042")] == ["KH0000000042"]
    assert await d.search("DN99999999") == []  # a well-formed ID nobody has


async def test_ivr_keypad_finds_each_prefix_in_order(engine: AsyncEngine) -> None:
    d = await imported(engine)
    lookup = CallerLookup(ivr_directory(d), 2.0, CrmConfig.model_validate(CRM).customer_id.format())
    business, failed = await lookup.by_keys("12345678")  # DN12345678: KH0012345678 does not exist
    assert not failed and business is not None and business.customer_id == "DN12345678"
    person, _ = await lookup.by_keys("42")  # leading zeros optional: KH0000000042
    assert person is not None and person.customer_id == "KH0000000042"
    nobody, failed = await lookup.by_keys("87654321")
    assert nobody is None and not failed


async def test_ivr_keypad_without_the_prefix_configured_does_not_guess(engine: AsyncEngine) -> None:
    d = await imported(engine)
    lookup = CallerLookup(ivr_directory(d), 2.0)  # default keypad: KH + 10 digits only
    found, failed = await lookup.by_keys("12345678")
    assert found is None and not failed


async def test_importer_refuses_ids_outside_the_configured_pattern(engine: AsyncEngine) -> None:
    cfg = CrmConfig.model_validate({"customer_id": {"pattern": r"KH\d{10}"}})
    with pytest.raises(ImportRejected) as err:
        await import_csv(
            session_factory(engine), customers=io.StringIO(CUSTOMERS), id_format=cfg.customer_id.format()
        )
    assert [(e.row, e.reason) for e in err.value.errors] == [
        (2, "customer_id 'DN12345678' is not like KH0000001234")
    ]


async def test_the_api_finds_the_imported_id(tmp_path: Path) -> None:
    port = free_port()
    settings = make_settings(
        node={"data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"},
        web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
        queues=TEST_QUEUES,
        ivr=SIMPLE_IVR,
        cdr={"csv_path": str(tmp_path / "none.csv")},
        asterisk={"agi": {"port": free_port()}},
        crm=CRM,
    )
    bridge = Bridge(settings)
    await bridge.start(connect_ami=False)
    try:
        assert bridge.sessions is not None
        await import_csv(
            bridge.sessions,
            customers=io.StringIO(CUSTOMERS),
            id_format=settings.crm.customer_id.format(),
        )
        base = f"http://127.0.0.1:{bridge.web_port}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await login(http, base, "1001", "demo-1001")
            async with http.get(f"{base}/api/customers/search", params={"q": "dn12345678"}) as r:
                assert r.status == 200, await r.text()
                found = (await r.json())["results"]
            assert [c["customer_id"] for c in found] == ["DN12345678"]
            # Found by search, not on a call: opened for a stated reason (agent_desktop/access.py).
            why = {"reason": "khách hỏi về hợp đồng doanh nghiệp"}
            async with http.get(f"{base}/api/customers/DN12345678", params=why) as r:
                assert r.status == 200, await r.text()
                assert (await r.json())["name"] == "Công ty TNHH Minh Phát"
    finally:
        await bridge.stop()
