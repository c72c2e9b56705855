"""Outbound campaigns through the API on a real bridge (aiohttp on 127.0.0.1, real SQLite with the
demo customers, no Asterisk): a supervisor creates a campaign, imports a list (numbers normalised,
duplicates merged, linked to customers by number), starts, pauses and stops it, reads its counts;
each change audited; an agent, a bad list and rules the law forbids are refused with clear JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from core.models import AuditEntry
from crm_bridge.demo_data import load_demo
from tests.support.api_client import Client, logged_in
from tests.support.settings import free_port, make_settings
from tongdai.app import Bridge

URL = "/api/campaigns"
CARE = {
    "name": "Gia hạn hợp đồng tháng 12",
    "queue": "tv",
    "purpose": "care",
    "script": "Chào anh/chị, hợp đồng của anh/chị sắp hết hạn…",
    "dispositions": ["renewed", "call back", "declined"],
    "window_start": "08:00",
    "window_end": "20:00",
    "retry_minutes": {"no_answer": 30, "busy": 5},
}


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Bridge]:
    port = free_port()
    settings = make_settings(
        node={"name": "campaigns-test", "data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"},
        web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
        redis={"url": None},
    )
    b = Bridge(settings)
    await b.start(connect_ami=False)
    assert b.engine is not None
    await load_demo(b.engine, 0)
    yield b
    await b.stop()


@pytest.fixture
async def people(desk: Bridge) -> AsyncIterator[dict[str, Client]]:
    base = f"http://127.0.0.1:{desk.web_port}"
    out: dict[str, Client] = {}
    sessions = []
    for agent in ("9000", "1001"):
        out[agent] = await logged_in(base, agent)
        sessions.append(out[agent].http)
    yield out
    for http in sessions:
        await http.close()


async def audit_rows(b: Bridge) -> list[tuple[str, str, str, str]]:
    assert b.sessions is not None
    async with b.sessions() as s:
        rows = await s.scalars(
            select(AuditEntry).where(AuditEntry.subject_type == "campaign").order_by(AuditEntry.id)
        )
        return [(r.actor, r.action, r.subject_id, r.detail) for r in rows]


async def test_a_supervisor_creates_imports_controls_and_reads_a_campaign_audited(
    desk: Bridge, people: dict[str, Client]
) -> None:
    boss = people["9000"]
    status, c = await boss.send("POST", URL, CARE)
    assert status == 200, c
    assert (c["state"], c["purpose"], c["mode"], c["min_gap_hours"]) == ("draft", "care", "progressive", 0)
    cid = c["id"]
    csv = "number,priority,name\n0912 345 678,5,An\n0333333333,1,\n+84912345678,7,\n0881234567,,Khách lạ\n"
    status, imported = await boss.send("POST", f"{URL}/{cid}/contacts", {"csv": csv})
    assert status == 200, imported
    # The first and third rows are one number; An and Cường are demo customers, the last is no one's.
    assert imported == {"added": 3, "merged": 1, "linked": 2}
    assert desk.campaigns is not None
    contacts = await desk.campaigns.store.contacts(cid)
    assert [(k.number, k.priority, k.customer_id) for k in contacts] == [
        ("+84912345678", 7, "KH0000000001"),
        ("+84333333333", 1, "KH0000000003"),
        ("+84881234567", 0, None),
    ]
    for action, state in (
        ("start", "running"),
        ("pause", "paused"),
        ("start", "running"),
        ("stop", "stopped"),
    ):
        status, got = await boss.send("POST", f"{URL}/{cid}/{action}")
        assert (status, got["state"]) == (200, state), got
    status, err = await boss.send("POST", f"{URL}/{cid}/start")
    assert (status, err["error"]["code"]) == (409, "campaign.bad_transition")
    status, one = await boss.send("GET", f"{URL}/{cid}")
    assert status == 200 and one["campaign"]["name"] == CARE["name"]
    assert one["stats"]["contacts"] == {"pending": 3} and one["stats"]["dialled"] == 0
    status, listing = await boss.send("GET", URL)
    assert [x["id"] for x in listing["campaigns"]] == [cid]
    assert await audit_rows(desk) == [
        ("9000", "campaign.create", str(cid), f"{CARE['name']} (care)"),
        ("9000", "campaign.import", str(cid), "3 added, 1 merged, 2 linked"),
        ("9000", "campaign.start", str(cid), "draft → running"),
        ("9000", "campaign.pause", str(cid), "running → paused"),
        ("9000", "campaign.start", str(cid), "paused → running"),
        ("9000", "campaign.stop", str(cid), "running → stopped"),
    ]


async def test_bad_input_gets_clear_json_errors_and_changes_nothing(
    desk: Bridge, people: dict[str, Client]
) -> None:
    boss, agent = people["9000"], people["1001"]
    status, err = await agent.send("POST", URL, CARE)
    assert (status, err["error"]["code"]) == (403, "access.supervisors_only")
    status, err = await boss.send("POST", URL, {**CARE, "purpose": "advertising", "window_end": "19:00"})
    assert (status, err["error"]["code"]) == (400, "campaign.invalid")
    assert "08:00 and 17:00" in err["error"]["message"]
    status, err = await boss.send("POST", URL, {**CARE, "queue": "nowhere"})
    assert (status, err["error"]["code"]) == (400, "campaign.unknown_queue")
    status, err = await boss.send("POST", URL, {**CARE, "window_start": "8h"})
    assert (status, err["error"]["code"]) == (400, "request.invalid") and "window_start" in err["error"][
        "message"
    ]
    status, c = await boss.send("POST", URL, CARE)
    assert status == 200
    status, err = await boss.send("POST", URL, CARE)
    assert (status, err["error"]["code"]) == (409, "campaign.exists")
    bad = "number,priority\n0912345678,1\nabc,2\n0333333333,x\n"
    status, err = await boss.send("POST", f"{URL}/{c['id']}/contacts", {"csv": bad})
    assert (status, err["error"]["code"]) == (400, "campaign.list_rejected")
    assert "row 3: number" in err["error"]["message"] and "row 4: priority" in err["error"]["message"]
    assert desk.campaigns is not None and await desk.campaigns.store.contacts(c["id"]) == []
    status, err = await boss.send("POST", f"{URL}/999/contacts", {"csv": "number\n0912345678\n"})
    assert (status, err["error"]["code"]) == (404, "campaign.not_found")
    status, err = await boss.send("GET", f"{URL}/999/stats")
    assert (status, err["error"]["code"]) == (404, "campaign.not_found")
    # Only the one campaign that was created is on record.
    assert [a for _, a, _, _ in await audit_rows(desk)] == ["campaign.create"]
