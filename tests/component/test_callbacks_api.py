"""The callback worklist API on a real bridge (aiohttp on 127.0.0.1, real SQLite, no Asterisk): order by
tier then age, one claim wins, outcomes and releases, errors (400/401/403/404/409) and the audit log."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from core.models import AuditEntry
from tests.support.desktop import login
from tests.support.settings import free_port, make_settings
from tongdai.app import Bridge

TOKEN = "integration-token-0123456789abcdef"


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Bridge]:
    port = free_port()
    settings = make_settings(
        node={"name": "cb-test", "data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'cb.db'}"},
        web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
        redis={"url": None},
        desktop={"api_tokens": [{"name": "crm", "token": TOKEN, "scopes": ["calls:read", "customers:read"]}]},
    )
    b = Bridge(settings)
    await b.start(connect_ami=False)
    yield b
    await b.stop()


class Agent:
    """One logged-in desktop: cookie session + the page's CSRF token."""

    def __init__(self, b: Bridge, http: aiohttp.ClientSession, csrf: str) -> None:
        self.base, self.http, self.csrf = f"http://127.0.0.1:{b.web_port}", http, csrf

    async def get(self) -> tuple[int, Any]:
        async with self.http.get(f"{self.base}/api/callbacks") as r:
            return r.status, await r.json()

    async def post(self, rid: int | str, verb: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        url = f"{self.base}/api/callbacks/{rid}/{verb}"
        async with self.http.post(url, json=body or {}, headers={"X-CSRF-Token": self.csrf}) as r:
            return r.status, await r.json()


@pytest.fixture
async def agents(desk: Bridge) -> AsyncIterator[dict[str, Agent]]:
    out: dict[str, Agent] = {}
    sessions = []
    for agent in ("1001", "1002", "9000"):
        # unsafe=True: aiohttp's client otherwise ignores cookies set by an IP-address host.
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(http)
        base = f"http://127.0.0.1:{desk.web_port}"
        await login(http, base, agent, f"demo-{agent}")
        async with http.get(f"{base}/") as r:
            m = re.search(r'data-csrf="([^"]+)"', await r.text())
        assert m
        out[agent] = Agent(desk, http, m.group(1))
    yield out
    for http in sessions:
        await http.close()


async def seed(b: Bridge) -> dict[str, int]:
    assert b.callbacks is not None
    p = b.policy.initial_priority
    ids = {}
    for number, tier in (("0911000001", "standard"), ("0911000002", "vip"), ("0911000003", "gold")):
        ids[tier] = await b.callbacks.record(number, None, f"call-{tier}", acd_tier=tier, priority=p(tier))
    return ids


async def audit_rows(b: Bridge) -> list[tuple[str, str, str]]:
    assert b.sessions is not None
    async with b.sessions() as s:
        rows = await s.scalars(select(AuditEntry).where(AuditEntry.subject_type == "callback"))
        return [(r.actor, r.action, r.subject_id) for r in rows]


async def test_agent_works_the_list_in_tier_order(desk: Bridge, agents: dict[str, Agent]) -> None:
    ids = await seed(desk)
    lan, minh = agents["1001"], agents["1002"]
    status, body = await lan.get()
    assert status == 200
    assert [c["acd_tier"] for c in body["callbacks"]] == ["vip", "gold", "standard"]
    assert "no_answer" in body["outcomes"] and "reached" in body["outcomes"]

    status, claimed = await lan.post(ids["vip"], "claim")
    assert status == 200 and claimed["status"] == "claimed" and claimed["claimed_by"] == "1001"
    status, err = await minh.post(ids["vip"], "claim")
    assert status == 409 and err["error"]["code"] == "conflict" and "1001" in err["error"]["message"]
    assert [c["acd_tier"] for c in (await minh.get())[1]["callbacks"]] == ["gold", "standard"]
    mine = (await lan.get())[1]["callbacks"]
    assert [(c["acd_tier"], c["status"]) for c in mine][:2] == [("vip", "claimed"), ("gold", "pending")]

    status, err = await minh.post(ids["vip"], "complete", {"outcome": "reached"})
    assert status == 409
    status, done = await lan.post(ids["vip"], "complete", {"outcome": "reached"})
    assert status == 200 and (done["status"], done["outcome"], done["attempts"]) == ("done", "reached", 1)
    assert all(c["id"] != ids["vip"] for c in (await lan.get())[1]["callbacks"])

    # No answer: back in the list later, not now (the store's retry delay), one attempt counted.
    await lan.post(ids["gold"], "claim")
    status, back = await lan.post(ids["gold"], "complete", {"outcome": "no_answer"})
    assert status == 200 and (back["status"], back["attempts"], back["claimed_by"]) == ("pending", 1, None)
    assert [c["acd_tier"] for c in (await lan.get())[1]["callbacks"]] == ["standard"]

    assert sorted(await audit_rows(desk)) == sorted(
        [
            ("1001", "callback.claim", str(ids["vip"])),
            ("1001", "callback.complete.reached", str(ids["vip"])),
            ("1001", "callback.claim", str(ids["gold"])),
            ("1001", "callback.complete.no_answer", str(ids["gold"])),
        ]
    )


async def test_two_agents_claiming_at_once_one_wins(desk: Bridge, agents: dict[str, Agent]) -> None:
    ids = await seed(desk)
    results = await asyncio.gather(*(agents[a].post(ids["standard"], "claim") for a in ("1001", "1002")))
    assert sorted(s for s, _ in results) == [200, 409]
    winner = next(b["claimed_by"] for s, b in results if s == 200)
    assert [a for a, _, _ in await audit_rows(desk)] == [winner]  # the loser's attempt changed nothing


async def test_release_by_claimer_or_supervisor(desk: Bridge, agents: dict[str, Agent]) -> None:
    ids = await seed(desk)
    lan, minh, boss = agents["1001"], agents["1002"], agents["9000"]
    await lan.post(ids["gold"], "claim")
    status, err = await minh.post(ids["gold"], "release")
    assert status == 409
    status, back = await lan.post(ids["gold"], "release")
    assert status == 200 and back["status"] == "pending" and back["claimed_by"] is None
    # Its place is kept: still between vip and standard.
    assert [c["acd_tier"] for c in (await minh.get())[1]["callbacks"]] == ["vip", "gold", "standard"]
    status, err = await lan.post(ids["gold"], "release")
    assert status == 409 and "not claimed" in err["error"]["message"]

    await minh.post(ids["vip"], "claim")
    status, body = await boss.get()  # a supervisor sees every claim
    assert (body["callbacks"][0]["acd_tier"], body["callbacks"][0]["claimed_by"]) == ("vip", "1002")
    status, back = await boss.post(ids["vip"], "release")
    assert status == 200 and back["status"] == "pending"
    assert ("9000", "callback.release", str(ids["vip"])) in await audit_rows(desk)


async def test_bad_input_and_unknown_ids(desk: Bridge, agents: dict[str, Agent]) -> None:
    ids = await seed(desk)
    lan = agents["1001"]
    status, err = await lan.post(999999, "claim")
    assert status == 404 and "999999" in err["error"]["message"]
    status, err = await lan.post("abc", "claim")
    assert status == 400 and "'abc'" in err["error"]["message"]
    await lan.post(ids["vip"], "claim")
    status, err = await lan.post(ids["vip"], "complete", {"outcome": "maybe"})
    assert status == 400 and "unknown outcome 'maybe'" in err["error"]["message"]
    status, err = await lan.post(ids["vip"], "complete", {})
    assert status == 400 and "give an outcome" in err["error"]["message"]
    async with lan.http.post(
        f"{lan.base}/api/callbacks/{ids['vip']}/complete",
        data=b"{not json",
        headers={"X-CSRF-Token": lan.csrf, "Content-Type": "application/json"},
    ) as r:
        assert r.status == 400 and "not valid JSON" in (await r.json())["error"]["message"]
    # Form posts work too (the desktop's no-JS fallback).
    async with lan.http.post(
        f"{lan.base}/api/callbacks/{ids['vip']}/complete", data={"outcome": "wrong_number", "csrf": lan.csrf}
    ) as r:
        assert r.status == 200 and (await r.json())["outcome"] == "wrong_number"


async def test_auth_csrf_and_integration_tokens(desk: Bridge, agents: dict[str, Agent]) -> None:
    ids = await seed(desk)
    base = agents["1001"].base
    async with aiohttp.ClientSession() as anon:
        async with anon.get(f"{base}/api/callbacks") as r:
            assert r.status == 401
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        async with anon.get(f"{base}/api/callbacks", headers=bearer) as r:
            # No scope covers the worklist: work a person does (deny by default for tokens).
            assert r.status == 403 and (await r.json())["error"]["code"] == "auth.scope_missing"
        async with anon.post(f"{base}/api/callbacks/{ids['vip']}/claim", headers=bearer) as r:
            assert r.status == 403
    lan = agents["1001"]
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        async with lan.http.post(f"{base}/api/callbacks/{ids['vip']}/claim", headers=headers) as r:
            assert r.status == 403
    assert desk.callbacks is not None
    assert (await desk.callbacks.get(ids["vip"])).status == "pending"
    assert await audit_rows(desk) == []


async def test_openapi_describes_the_callback_routes(desk: Bridge, agents: dict[str, Agent]) -> None:
    async with agents["1001"].http.get(f"{agents['1001'].base}/api/openapi.json") as r:
        paths = (await r.json())["paths"]
    assert set(paths) >= {
        "/api/callbacks",
        "/api/callbacks/{id}/claim",
        "/api/callbacks/{id}/complete",
        "/api/callbacks/{id}/release",
    }
    assert paths["/api/callbacks/{id}/complete"]["post"]["requestBody"]["required"] is True
