"""Quality evaluations through the API on a real bridge (SQLite, no Asterisk): an analyst (supervisor)
scores a call on the shipped form, the score and sections are the form's rules, a fatal error scores
0, the evaluation is audited; an agent sees only their own and cannot evaluate; averages per agent and
queue; bad evaluations are 400s that name the question."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from core.models import AuditEntry
from tests.support.api_client import Client, logged_in
from tests.support.report_day import seeded_day
from tests.support.reports import seed
from tests.support.settings import free_port, make_settings
from tongdai.app import Bridge

GOOD = {
    "greeting": True,
    "identity": True,
    "understood": 4,
    "resolved": "na",
    "card_data": True,
    "summary": False,
}


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Bridge]:
    port = free_port()
    settings = make_settings(
        node={"name": "quality-test", "data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"},
        web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
        redis={"url": None},
        quality={"analysts": ["1003"]},
    )
    b = Bridge(settings)
    await b.start(connect_ami=False)
    assert b.sessions is not None
    await seed(b.sessions, seeded_day())
    yield b
    await b.stop()


@pytest.fixture
async def clients(desk: Bridge) -> AsyncIterator[dict[str, Client]]:
    base = f"http://127.0.0.1:{desk.web_port}"
    out = {a: await logged_in(base, a) for a in ("9000", "1001", "1002", "1003")}
    yield out
    for c in out.values():
        await c.http.close()


async def test_an_analyst_scores_a_call_and_its_agent_sees_it(
    desk: Bridge, clients: dict[str, Client]
) -> None:
    boss, lan, minh, qa = clients["9000"], clients["1001"], clients["1002"], clients["1003"]
    status, forms = await qa.send("GET", "/api/quality/forms")
    assert status == 200 and forms["analyst"] is True and forms["forms"][0]["id"] == "inbound"
    body = {"call_id": "d01", "form_id": "inbound", "answers": GOOD, "comment": "Tốt, thiếu tóm tắt"}
    status, saved = await qa.send("POST", "/api/quality/evaluations", body)
    assert status == 200, saved
    # Mở đầu 2/2 (w20), Giải quyết 4+1 of 5+1 with 'resolved' n/a (w60), Kết thúc 0/1 (w20):
    # (20·1 + 60·5/6 + 20·0) / 100 = 70 %.
    assert (saved["agent_id"], saved["queue"], saved["score"], saved["fatal"]) == ("1001", "mobile", 70.0, [])
    assert [(s["earned"], s["possible"]) for s in saved["sections"]] == [(2, 2), (5, 6), (0, 1)]
    fatal = {**GOOD, "identity": False}
    status, bad = await boss.send(
        "POST", "/api/quality/evaluations", {**body, "call_id": "d02", "answers": fatal}
    )
    assert (
        status == 200 and bad["score"] == 0.0 and bad["fatal"] == ["identity"] and bad["agent_id"] == "1002"
    )

    _, mine = await lan.send("GET", "/api/quality/evaluations")
    assert [(e["call_id"], e["score"], e["comment"]) for e in mine["evaluations"]] == [
        ("d01", 70.0, "Tốt, thiếu tóm tắt")
    ]
    _, asked = await lan.send("GET", "/api/quality/evaluations?agent=1002")  # another's: still their own
    assert [e["call_id"] for e in asked["evaluations"]] == ["d01"]
    _, everyone = await boss.send("GET", "/api/quality/evaluations")
    assert [e["call_id"] for e in everyone["evaluations"]] == ["d02", "d01"]

    status, refused = await minh.send("POST", "/api/quality/evaluations", {**body, "call_id": "d05"})
    assert status == 403 and refused["error"]["code"] == "access.analysts_only"
    status, refused = await minh.send("GET", "/api/quality/averages?since=2026-01-01&until=2027-01-01")
    assert status == 403

    today = datetime.now(UTC).date()  # evaluations are dated when made, whatever the hour
    _, avg = await boss.send(
        "GET", f"/api/quality/averages?since={today - timedelta(days=1)}&until={today + timedelta(days=2)}"
    )
    assert avg["agents"] == [
        {"name": "1001", "evaluations": 1, "average": 70.0, "fatal": 0},
        {"name": "1002", "evaluations": 1, "average": 0.0, "fatal": 1},
    ]
    assert avg["queues"] == [{"name": "mobile", "evaluations": 2, "average": 35.0, "fatal": 1}]

    assert desk.sessions is not None
    async with desk.sessions() as s:
        rows = list(await s.scalars(select(AuditEntry).where(AuditEntry.action == "quality.evaluate")))
    assert sorted((r.actor, r.subject_id) for r in rows) == [("1003", "d01"), ("9000", "d02")]


async def test_bad_evaluations_are_refused_with_the_reason(clients: dict[str, Client]) -> None:
    qa = clients["1003"]
    base = {"call_id": "d01", "form_id": "inbound", "answers": GOOD}
    cases = [
        ({**base, "form_id": "nope"}, 400, "quality.unknown_form", "nope"),
        ({**base, "call_id": "no-such-call"}, 404, "quality.call_not_found", "no-such-call"),
        ({**base, "call_id": "d03"}, 400, "quality.no_agent", "answered by no agent"),  # an abandon
        ({**base, "answers": {**GOOD, "understood": 9}}, 400, "quality.bad_evaluation", "understood"),
        ({**base, "answers": {**GOOD, "greeting": "na"}}, 400, "quality.bad_evaluation", "greeting"),
        ({**base, "answers": {k: v for k, v in GOOD.items() if k != "summary"}}, 400,
         "quality.bad_evaluation", "unanswered: summary"),
    ]  # fmt: skip
    for body, status, code, words in cases:
        got, err = await qa.send("POST", "/api/quality/evaluations", body)
        assert (got, err["error"]["code"]) == (status, code), (body, err)
        assert words in err["error"]["message"]
