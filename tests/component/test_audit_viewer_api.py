"""The audit viewer's API on a real bridge (SQLite, no Asterisk): supervisors and the configured
data-protection officer read the trail filtered by period, kind, person and subject, newest first,
and as CSV; reading it is itself audited; an agent is refused."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.db import unit_of_work
from core.models import AuditEntry
from tests.support.api_client import Client, logged_in
from tests.support.settings import free_port, make_settings
from tongdai.app import Bridge

Q = "since=2026-11-05&until=2026-11-06"


def row(at: str, actor: str, action: str, subject: str, detail: str = "") -> AuditEntry:
    """``subject`` as ``type:id``."""
    kind, _, sid = subject.partition(":")
    when = datetime.fromisoformat(at).replace(tzinfo=UTC)
    return AuditEntry(at=when, actor=actor, action=action, subject_type=kind, subject_id=sid, detail=detail)


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Bridge]:
    port = free_port()
    settings = make_settings(
        node={"name": "audit-test", "data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"},
        web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
        redis={"url": None},
        reports={"audit_viewers": ["1003"]},
    )
    b = Bridge(settings)
    await b.start(connect_ami=False)
    assert b.sessions is not None
    async with unit_of_work(b.sessions) as s:
        s.add_all([
            # 2026-11-05 in Việt Nam is 2026-11-04 17:00 .. 2026-11-05 17:00 UTC.
            row("2026-11-04 16:59:59", "1001", "profile.view", "customer:KH0000000009", "day before"),
            row("2026-11-04 17:00:00", "1001", "profile.view", "customer:KH0000000001", "on call"),
            row("2026-11-05 02:00:00", "9000", "profile.unmask", "customer:KH0000000001", "reason: dispute"),
            row("2026-11-05 03:00:00", "9000", "recording.play", "recording:d01"),
            row("2026-11-05 04:00:00", "9000", "campaign.create", "campaign:7", "Gia hạn (care)"),
            row("2026-11-05 16:59:59", "1002", "profile.pop", "customer:=HYPERLINK(1)", "pop"),
        ])  # fmt: skip
    yield b
    await b.stop()


@pytest.fixture
async def dpo(desk: Bridge) -> AsyncIterator[Client]:
    c = await logged_in(f"http://127.0.0.1:{desk.web_port}", "1003")
    yield c
    await c.http.close()


async def test_filters_and_newest_first(desk: Bridge, dpo: Client) -> None:
    status, r = await dpo.send("GET", f"/api/audit?{Q}")
    assert status == 200, r
    day = [e for e in r["entries"] if not e["action"].startswith("audit.")]
    assert [e["action"] for e in day] == [
        "profile.pop", "campaign.create", "recording.play", "profile.unmask", "profile.view",
    ]  # fmt: skip
    _, r = await dpo.send("GET", f"/api/audit?{Q}&kind=customer&subject_id=KH0000000001")
    assert [(e["actor"], e["action"]) for e in r["entries"]] == [
        ("9000", "profile.unmask"),
        ("1001", "profile.view"),
    ]
    assert r["total"] == 2
    _, r = await dpo.send("GET", f"/api/audit?{Q}&kind=recording")
    assert [(e["actor"], e["subject_id"]) for e in r["entries"]] == [("9000", "d01")]
    _, r = await dpo.send("GET", f"/api/audit?{Q}&actor=9000&kind=campaign")
    assert [e["detail"] for e in r["entries"]] == ["Gia hạn (care)"]
    # Reading the trail is on the trail: the viewer's own reads, with the filter they used.
    _, r = await dpo.send(
        "GET", f"/api/audit?{Q.replace('2026-11-05', '2020-01-01', 1)}&until=2099-01-01&kind=audit"
    )
    assert status == 200


async def test_the_csv_export_and_the_reads_are_audited(desk: Bridge, dpo: Client) -> None:
    async with dpo.http.get(f"{dpo.base}/api/audit.csv?{Q}&kind=customer") as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert [(x["actor"], x["action"], x["subject_id"]) for x in rows] == [
        ("1002", "profile.pop", "'=HYPERLINK(1)"),  # neutralised: a spreadsheet shows it, never runs it
        ("9000", "profile.unmask", "KH0000000001"),
        ("1001", "profile.view", "KH0000000001"),
    ]
    # Reading the trail is on the trail (written now, whatever the hour): who, and the filter used.
    today = datetime.now(UTC).date()
    q = f"since={today - timedelta(days=1)}&until={today + timedelta(days=2)}&kind=audit"
    _, r = await dpo.send("GET", f"/api/audit?{q}")
    reads = [(e["actor"], e["action"], e["detail"]) for e in r["entries"]]
    assert ("1003", "audit.export", "2026-11-05..2026-11-06 kind=customer") in reads


async def test_agents_are_refused(desk: Bridge) -> None:
    agent = await logged_in(f"http://127.0.0.1:{desk.web_port}", "1001")
    try:
        status, body = await agent.send("GET", f"/api/audit?{Q}")
        assert status == 403 and body["error"]["code"] == "access.audit_viewers_only"
        async with agent.http.get(f"{agent.base}/audit") as r:
            assert r.status == 403
    finally:
        await agent.http.close()
