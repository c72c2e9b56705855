"""Personal data only where the call needs it, against a real node (real HTTP and websockets, the
real call tracker fed AMI events, SQLite): profiles in hand or for a stated reason, the full ID
number only for the customer on the agent's current call, rate limits, bulk-access alerts that
supervisors see, a disposition only for the call's own customer, and integration tokens held to
their scopes (no recording audio unless granted)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from agent_desktop.config import AccessConfig
from core.ami import AmiEvent
from core.models import AuditEntry
from tests.component.test_desktop_security import feed_call
from tests.security.conftest import BI_TOKEN, CRM_TOKEN, base, browser, csrf_of, with_settings
from tests.support.desktop import login, next_frame
from tongdai.app import Bridge

ON_CALL, OTHER, THIRD = "KH0000000001", "KH0000000002", "KH0000000003"
WHY = "khách gọi hộ người thân, xác minh"


@pytest.fixture
async def node(start_node: Callable[..., Any]) -> Bridge:
    n: Bridge = await start_node()
    return n


def access(node: Bridge, **rules: Any) -> None:
    assert node.desk is not None
    desktop = node.desk.services.settings.desktop
    with_settings(node, desktop=desktop.model_copy(update={"access": AccessConfig(**rules)}))


async def audit_rows(node: Bridge, action: str) -> list[AuditEntry]:
    assert node.sessions is not None
    async with node.sessions() as s:
        return list(
            await s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        )


async def get(http: aiohttp.ClientSession, url: str, **params: str) -> tuple[int, Any]:
    async with http.get(url, params=params) as r:
        return r.status, await r.json()


async def hang_up(node: Bridge, call_id: str) -> None:
    await node.tracker.handle(AmiEvent("Hangup", {"Linkedid": call_id, "Uniqueid": f"{call_id}.caller"}))
    await node.bus.drain()


async def test_a_profile_opens_in_hand_or_for_a_stated_reason(node: Bridge) -> None:
    url = base(node)
    async with browser() as http:
        await login(http, url, "1001", "demo-1001")
        await feed_call(node, "pd-1", "1001", customer_id=ON_CALL, answer=False, hangup=False)  # ringing
        status, _ = await get(http, f"{url}/api/customers/{ON_CALL}")
        assert status == 200
        status, body = await get(http, f"{url}/api/customers/{OTHER}")
        assert status == 403 and body["error"]["code"] == "access.reason_required"
        assert OTHER in body["error"]["message"]
        status, _ = await get(http, f"{url}/api/customers/{OTHER}", reason="x")
        assert status == 403  # a reason that says nothing is no reason
        status, body = await get(http, f"{url}/api/customers/{OTHER}", reason=WHY)
        assert status == 200 and body["customer_id"] == OTHER
        # Another agent's call is not this agent's hand.
        await feed_call(node, "pd-2", "1002", customer_id=THIRD, hangup=False)
        status, _ = await get(http, f"{url}/api/customers/{THIRD}")
        assert status == 403
    views = [(e.actor, e.subject_id, e.detail) for e in await audit_rows(node, "profile.view")]
    assert views == [("1001", ON_CALL, "on call"), ("1001", OTHER, f"reason: {WHY}")]


async def test_a_recent_call_stays_in_hand_for_the_configured_window(node: Bridge) -> None:
    assert node.desk is not None
    clock = node.desk.access
    now = [clock.clock()]
    clock.clock = lambda: now[0]
    url = base(node)
    async with browser() as http:
        await login(http, url, "1001", "demo-1001")
        async with http.ws_connect(f"{url}/ws", origin=url) as ws:
            await next_frame(ws, "hello")
            await feed_call(node, "pd-3", "1001", customer_id=ON_CALL, hangup=False)
            await next_frame(ws, "pop")
        await hang_up(node, "pd-3")
        now[0] += 29 * 60  # within recent_call_minutes (30): notes after the call
        assert (await get(http, f"{url}/api/customers/{ON_CALL}"))[0] == 200
        now[0] += 2 * 60
        status, body = await get(http, f"{url}/api/customers/{ON_CALL}")
        assert status == 403 and body["error"]["code"] == "access.reason_required"
        # A node that never popped the call (another node's desktop) finds it in the calls table.
        access(node, recent_call_minutes=60)
        clock._holds.clear()
        assert (await get(http, f"{url}/api/customers/{ON_CALL}"))[0] == 200


async def test_the_full_id_number_only_for_the_customer_on_the_current_call(node: Bridge) -> None:
    url = base(node)
    async with browser() as agent, browser() as sup:
        await login(agent, url, "1001", "demo-1001")
        await login(sup, url, "9000", "demo-9000")
        await feed_call(node, "pd-4", "1001", customer_id=ON_CALL, hangup=False)
        token = {"X-CSRF-Token": await csrf_of(agent, node)}

        async def unmask(http: aiohttp.ClientSession, cid: str, hdr: dict[str, str]) -> tuple[int, Any]:
            async with http.post(f"{url}/api/customers/{cid}/unmask", json={"reason": WHY}, headers=hdr) as r:
                return r.status, await r.json()

        status, body = await unmask(agent, ON_CALL, token)
        assert status == 200 and body["id_number"].isdigit()
        # Searched and opened for a reason: viewable, but its ID number stays masked for an agent.
        assert (await get(agent, f"{url}/api/customers/{OTHER}", reason=WHY))[0] == 200
        status, body = await unmask(agent, OTHER, token)
        assert status == 403 and body["error"]["code"] == "access.not_on_call"
        # A supervisor: any customer, a reason still required and audited.
        status, body = await unmask(sup, OTHER, {"X-CSRF-Token": await csrf_of(sup, node)})
        assert status == 200 and body["id_number"].isdigit()
        # Once the call ended, not even its own customer's (the window is for notes, not for numbers).
        await hang_up(node, "pd-4")
        status, body = await unmask(agent, ON_CALL, token)
        assert status == 403 and body["error"]["code"] == "access.not_on_call"
    rows = [(e.actor, e.subject_id, e.detail) for e in await audit_rows(node, "profile.unmask")]
    assert rows == [("1001", ON_CALL, WHY), ("9000", OTHER, WHY)]


async def test_lookups_and_unmasks_are_rate_limited_per_person(node: Bridge) -> None:
    access(node, lookups_per_minute=3, unmasks_per_minute=1)
    url = base(node)
    async with browser() as one, browser() as two:
        await login(one, url, "1001", "demo-1001")
        await login(two, url, "1002", "demo-1002")
        for _ in range(3):
            assert (await get(one, f"{url}/api/customers/search", q="nguyen"))[0] == 200
        async with one.get(f"{url}/api/customers/search", params={"q": "nguyen"}) as r:
            assert r.status == 429 and (await r.json())["error"]["code"] == "access.rate_limited"
            assert int(r.headers["Retry-After"]) >= 1
        status, _ = await get(one, f"{url}/api/customers/{OTHER}", reason=WHY)
        assert status == 429  # searches and profile views count together
        assert (await get(two, f"{url}/api/customers/search", q="nguyen"))[0] == 200  # per person
        # Over the websocket: the same error id, the socket stays up.
        async with one.ws_connect(f"{url}/ws", origin=url) as ws:
            await next_frame(ws, "hello")
            await ws.send_str(json.dumps({"id": 1, "type": "customer.search", "q": "an"}))
            reply = await next_frame(ws, "result")
            assert not reply["success"] and reply["error"]["code"] == "access.rate_limited"
        await feed_call(node, "pd-5", "1002", customer_id=ON_CALL, hangup=False)
        token = {"X-CSRF-Token": await csrf_of(two, node)}
        for expect in (200, 429):
            async with two.post(
                f"{url}/api/customers/{ON_CALL}/unmask", json={"reason": WHY}, headers=token
            ) as r:
                assert r.status == expect


async def test_bulk_access_writes_an_alert_that_supervisors_see(node: Bridge) -> None:
    access(node, bulk_customers=2, bulk_window_minutes=60)
    url = base(node)
    async with browser() as agent, browser() as sup:
        await login(agent, url, "1001", "demo-1001")
        await login(sup, url, "9000", "demo-9000")
        async with sup.ws_connect(f"{url}/ws", origin=url) as ws:
            await next_frame(ws, "hello")
            for cid in (ON_CALL, OTHER, ON_CALL, THIRD):  # three distinct customers: one over
                assert (await get(agent, f"{url}/api/customers/{cid}", reason=WHY))[0] == 200
            alert = await next_frame(ws, "access.alert")
            assert alert["agent_id"] == "1001" and alert["customers"] == 3
            # Once per window, not once per view.
            assert (await get(agent, f"{url}/api/customers/KH0000000004", reason=WHY))[0] == 200
        status, body = await get(sup, f"{url}/api/access/alerts")
        assert status == 200
        assert [(a["agent_id"], a["detail"]) for a in body["alerts"]] == [
            ("1001", "3 distinct customers in 60 min")
        ]
        assert (await get(agent, f"{url}/api/access/alerts"))[0] == 403
    rows = await audit_rows(node, "access.bulk_alert")
    assert [(r.actor, r.subject_type, r.subject_id) for r in rows] == [("1001", "agent", "1001")]


async def test_a_disposition_goes_only_to_the_calls_own_customer(node: Bridge) -> None:
    url = base(node)
    async with browser() as http:
        await login(http, url, "1001", "demo-1001")
        await feed_call(node, "pd-6", "1001", customer_id=ON_CALL, hangup=False)
        token = {"X-CSRF-Token": await csrf_of(http, node)}
        body = {"call_id": "pd-6", "code": "resolved", "note": "n", "customer_id": OTHER}
        async with http.post(f"{url}/api/dispositions", json=body, headers=token) as r:
            err = (await r.json())["error"]
            assert (
                r.status == 400 and err["code"] == "desktop.customer_mismatch" and ON_CALL in err["message"]
            )
        async with http.post(
            f"{url}/api/dispositions", json={**body, "customer_id": ON_CALL}, headers=token
        ) as r:
            assert r.status == 200
        # An unidentified caller is linked only to a customer the agent opened (search, with a reason).
        await feed_call(node, "pd-7", "1001", customer_id="", hangup=False)
        unknown = {"call_id": "pd-7", "code": "resolved", "note": "n", "customer_id": THIRD}
        async with http.post(f"{url}/api/dispositions", json=unknown, headers=token) as r:
            assert r.status == 400 and (await r.json())["error"]["code"] == "desktop.customer_mismatch"
        assert (await get(http, f"{url}/api/customers/{THIRD}", reason=WHY))[0] == 200
        async with http.post(f"{url}/api/dispositions", json=unknown, headers=token) as r:
            assert r.status == 200, await r.text()


async def test_integration_tokens_read_only_within_their_scopes(node: Bridge) -> None:
    url = base(node)

    async def as_token(token: str, path: str) -> tuple[int, str]:
        async with (
            aiohttp.ClientSession() as api,
            api.get(f"{url}{path}", headers={"Authorization": f"Bearer {token}"}) as r,
        ):
            body = await r.json()
            return r.status, body["error"]["code"] if isinstance(body, dict) and "error" in body else ""

    # crm: customers:read, calls:read
    assert await as_token(CRM_TOKEN, f"/api/customers/{OTHER}") == (200, "")
    assert (await as_token(CRM_TOKEN, "/api/calls/today"))[0] == 200
    for path in ("/api/recordings", "/api/queues/stats", "/api/reports/service-level", "/api/access/alerts"):
        assert await as_token(CRM_TOKEN, path) == (403, "auth.scope_missing"), path
    # bi: recordings:read, stats:read — recording metadata, but never the audio, and no customers.
    assert (await as_token(BI_TOKEN, "/api/recordings"))[0] == 200
    assert (await as_token(BI_TOKEN, "/api/queues/stats"))[0] == 200
    assert await as_token(BI_TOKEN, "/api/recordings/pd-1/audio") == (403, "auth.scope_missing")
    assert await as_token(BI_TOKEN, f"/api/customers/{OTHER}") == (403, "auth.scope_missing")
    assert await as_token(BI_TOKEN, "/api/customers/search?q=an") == (403, "auth.scope_missing")
    # A path no scope names is refused to every token (deny by default).
    assert await as_token(BI_TOKEN, "/api/callbacks") == (403, "auth.scope_missing")
    views = [(e.actor, e.subject_id) for e in await audit_rows(node, "profile.view")]
    assert views == [("api:crm", OTHER)]


async def test_audio_needs_its_own_scope(start_node: Callable[..., Any]) -> None:
    audio_token = "audio-token-0123456789abcdef0123"
    tokens = [{"name": "qa", "token": audio_token, "scopes": ["recordings:read", "recordings:audio"]}]
    node: Bridge = await start_node(desktop={"api_tokens": tokens})
    async with (
        aiohttp.ClientSession() as api,
        api.get(
            f"{base(node)}/api/recordings/pd-1/audio", headers={"Authorization": f"Bearer {audio_token}"}
        ) as r,
    ):
        # Past the scope check: the recording service answers (there is no such recording).
        assert r.status == 404


def test_a_token_without_scopes_is_a_config_error(tmp_path: Any) -> None:
    from pydantic import ValidationError

    from tests.security.conftest import node_settings

    bad = [{"name": "old", "token": "t" * 30}]
    with pytest.raises(ValidationError, match="scopes"):
        node_settings(tmp_path, desktop={"api_tokens": bad})
    with pytest.raises(ValidationError, match="scopes"):
        node_settings(tmp_path, desktop={"api_tokens": [{**bad[0], "scopes": ["customers:write"]}]})
