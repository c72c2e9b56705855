"""Outage notices on a real bridge (aiohttp and FastAGI on 127.0.0.1, real SQLite with the demo
customers, espeak-ng for the audio, no Asterisk): posted and expired through the API by a supervisor
or a token with outages:write, each audited; bad input refused with clear JSON errors; then a
scripted Asterisk calls in and the caller from the area hears the notice before the main menu, a
caller from elsewhere does not, and the one who heard it is counted (the row and /metrics)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from core.models import AuditEntry
from crm_bridge.demo_data import load_demo
from ivr.agi_script import ScriptedCall
from tests.support.api_client import Client, logged_in
from tests.support.settings import base_config, free_port, make_settings
from tongdai.app import Bridge

NOC = "noc-token-0123456789abcdef-outages"
READER = "reader-token-0123456789abcdef-out"
BI = "bi-token-0123456789abcdef-reports"
URL = "/api/outages"


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Bridge]:
    port = free_port()
    ivr = copy.deepcopy(base_config()["ivr"])
    ivr["outage_notices"] = {"sounds_dir": str(tmp_path / "sounds")}
    settings = make_settings(
        node={"name": "outage-test", "data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"},
        web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
        redis={"url": None},
        ivr=ivr,
        desktop={
            "api_tokens": [
                {"name": "noc", "token": NOC, "scopes": ["outages:write"]},
                {"name": "status-page", "token": READER, "scopes": ["outages:read"]},
                {"name": "bi", "token": BI, "scopes": ["reports:read"]},
            ]
        },
    )
    b = Bridge(settings)
    await b.start(connect_ami=False)
    assert b.engine is not None
    await load_demo(b.engine, 0)  # Hà Nội, TP Hồ Chí Minh, Đà Nẵng… (the fixed customers)
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
    anon = aiohttp.ClientSession()
    sessions.append(anon)
    for name, token in (("noc", NOC), ("reader", READER), ("bi", BI)):
        out[name] = Client(base, anon, {"Authorization": f"Bearer {token}"})
    yield out
    for http in sessions:
        await http.close()


def at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def audit_rows(b: Bridge) -> list[tuple[str, str, str]]:
    assert b.sessions is not None
    async with b.sessions() as s:
        rows = await s.scalars(select(AuditEntry).where(AuditEntry.subject_type == "outage"))
        return sorted((r.actor, r.action, r.subject_id) for r in rows)


async def test_supervisor_posts_lists_and_expires_audited(
    desk: Bridge, people: dict[str, Client], tmp_path: Path
) -> None:
    boss = people["9000"]
    status, now = await boss.send(
        "POST",
        URL,
        {
            "area": "ha noi",
            "message_vi": "Cáp quang tại Cầu Giấy bị đứt, dự kiến khắc phục trước 17 giờ.",
            "message_en": "A fibre cable in Cau Giay is cut; service is expected back by 5 pm.",
            "ends_at": at(3),
        },
    )
    assert status == 200, now
    assert (now["area"], now["area_key"], now["state"], now["created_by"]) == (
        "Hà Nội",  # spelt as the customers' addresses hold it
        "ha noi",
        "active",
        "9000",
    )
    assert now["audio"] == ["vi", "en"] and now["heard"] == 0
    for lang in ("vi", "en"):
        wav = tmp_path / "sounds" / "tongdai" / lang / "outage" / f"n{now['id']}.wav"
        assert wav.read_bytes()[:4] == b"RIFF"
    # A Việt Nam time without a zone: 08:00 tomorrow there.
    tomorrow = (datetime.now(UTC) + timedelta(hours=7, days=1)).date()
    status, later = await boss.send(
        "POST",
        URL,
        {
            "area": "TP HỒ CHÍ MINH",
            "message_vi": "Bảo trì mạng.",
            "starts_at": f"{tomorrow}T08:00:00",
            "ends_at": f"{tomorrow}T10:00:00",
        },
    )
    assert status == 200, later
    assert later["state"] == "upcoming" and later["starts_at"].endswith("01:00:00+00:00")
    assert later["audio"] == ["vi"]  # no English text: English callers hear the generic prompt

    assert [n["id"] for n in (await boss.send("GET", URL))[1]["outages"]] == [now["id"]]
    assert [n["id"] for n in (await boss.send("GET", f"{URL}?state=upcoming"))[1]["outages"]] == [later["id"]]
    status, gone = await boss.send("DELETE", f"{URL}/{now['id']}")
    assert status == 200 and (gone["state"], gone["expired_by"]) == ("expired", "9000")
    status, err = await boss.send("POST", f"{URL}/{now['id']}/expire")
    assert status == 409 and err["error"]["code"] == "outage.already_over"
    assert "already expired by 9000" in err["error"]["message"]
    assert (await boss.send("GET", URL))[1]["outages"] == []
    every = (await boss.send("GET", f"{URL}?state=all"))[1]["outages"]
    assert {(n["id"], n["state"]) for n in every} == {(now["id"], "expired"), (later["id"], "upcoming")}
    # Agents may read them (to answer callers), not post.
    assert len((await people["1001"].send("GET", f"{URL}?state=all"))[1]["outages"]) == 2

    assert await audit_rows(desk) == [
        ("9000", "outage.create", str(now["id"])),
        ("9000", "outage.create", str(later["id"])),
        ("9000", "outage.expire", str(now["id"])),
    ]


async def test_bad_input_is_refused_clearly_and_changes_nothing(
    desk: Bridge, people: dict[str, Client]
) -> None:
    boss = people["9000"]
    good = {"area": "Đà Nẵng", "message_vi": "Mất điện trạm BTS.", "ends_at": at(2)}
    for body, code, words in [
        ({**good, "area": "Hà Nam"}, "outage.unknown_area", "no customer's address is in 'Hà Nam'"),
        ({**good, "area": "   "}, "request.invalid", "area: must not be blank"),
        ({**good, "area": "x" * 65}, "request.invalid", "area: String should have at most 64"),
        ({**good, "message_vi": ""}, "request.invalid", "message_vi"),
        ({**good, "message_vi": "a" * 501}, "request.invalid", "message_vi: String should have at most 500"),
        ({**good, "message_en": "bad\x07bell"}, "request.invalid", "message_en"),
        ({k: v for k, v in good.items() if k != "ends_at"}, "request.invalid", "ends_at: Field required"),
        ({**good, "ends_at": "tomorrow"}, "request.invalid", "ends_at"),
        ({**good, "starts_at": at(3)}, "outage.bad_period", "must be after starts_at"),
        ({**good, "ends_at": at(-1)}, "outage.bad_period", "already past"),
        ({**good, "ends_at": at(24 * 40)}, "outage.bad_period", "at most 31 days"),
        ({**good, "ends_at": "2999-01-01T00:00:00Z"}, "request.invalid", "between the years 2000 and 2100"),
    ]:
        status, err = await boss.send("POST", URL, body)
        assert status == 400, (body, err)
        assert err["error"]["code"] == code and words in err["error"]["message"], (body, err)
    status, err = await boss.send("POST", URL, {**good, "area": "Hà Nam"})
    assert "Hà Nội" in err["error"]["message"]  # the known areas are named
    status, err = await boss.send("DELETE", f"{URL}/999")
    assert status == 404 and err["error"]["code"] == "outage.not_found"
    status, err = await boss.send("GET", f"{URL}?state=soon")
    assert status == 400 and "state" in err["error"]["message"]
    status, err = await people["1001"].send("POST", URL, good)
    assert status == 403 and err["error"]["code"] == "access.supervisors_only"
    assert (await boss.send("GET", f"{URL}?state=all"))[1]["outages"] == []
    assert await audit_rows(desk) == []


async def test_tokens_need_the_outages_scope(desk: Bridge, people: dict[str, Client]) -> None:
    body = {"area": "Hà Nội", "message_vi": "Sự cố cáp quang.", "ends_at": at(1)}
    noc, reader, bi = people["noc"], people["reader"], people["bi"]
    status, posted = await noc.send("POST", URL, body)
    assert status == 200 and posted["created_by"] == "api:noc"
    assert [n["id"] for n in (await noc.send("GET", URL))[1]["outages"]] == [posted["id"]]  # write reads
    assert [n["id"] for n in (await reader.send("GET", URL))[1]["outages"]] == [posted["id"]]
    for client, method, path in [
        (reader, "POST", URL),
        (reader, "DELETE", f"{URL}/{posted['id']}"),
        (bi, "POST", URL),
        (bi, "GET", URL),
        (bi, "POST", f"{URL}/{posted['id']}/expire"),
    ]:
        status, err = await client.send(method, path, body)
        assert status == 403 and err["error"]["code"] == "auth.scope_missing", (method, path, err)
    # outages:write writes outage notices only: every other write stays refused.
    status, err = await noc.send("POST", "/api/agent/state", {"state": "ready"})
    assert status == 403 and err["error"]["code"] == "auth.read_only_token"
    status, gone = await noc.send("POST", f"{URL}/{posted['id']}/expire")
    assert status == 200 and gone["expired_by"] == "api:noc"
    assert await audit_rows(desk) == [
        ("api:noc", "outage.create", str(posted["id"])),
        ("api:noc", "outage.expire", str(posted["id"])),
    ]


async def _call(
    desk: Bridge, caller: str, uniqueid: str, keys: str = "1", missing: frozenset[str] = frozenset()
) -> ScriptedCall:
    """Vietnamese (1, which cuts the welcome short), then the main menu heard to its end, and the caller
    hangs up (the scripted caller leaves when no key is left)."""
    assert desk.agi is not None
    return await ScriptedCall(caller=caller, keys=keys, uniqueid=uniqueid, missing=set(missing)).run(
        "127.0.0.1", desk.agi.port, timeout=10
    )


async def test_caller_in_the_area_hears_the_notice_before_the_menu_and_is_counted(
    desk: Bridge, people: dict[str, Client]
) -> None:
    boss = people["9000"]
    body = {"area": "Hà Nội", "message_vi": "Sự cố cáp quang khu vực Hà Nội.", "ends_at": at(1)}
    status, notice = await boss.send("POST", URL, body)
    assert status == 200, notice
    sound = f"tongdai/vi/outage/n{notice['id']}"
    welcome, menu = "tongdai/vi/welcome", "tongdai/vi/main_menu"

    # 0912345678 is KH0000000001, Hà Nội (identified by number before the first prompt).
    hanoi = await _call(desk, "0912345678", "1700000000.11")
    assert hanoi.played == [welcome, sound, menu]
    # 0333333333 is KH0000000003, Đà Nẵng: straight to the menu.
    danang = await _call(desk, "0333333333", "1700000000.12")
    assert danang.played == [welcome, menu]
    # A caller from Hà Nội who keys through: the notice cut short by the key still counts as heard.
    hurried = await _call(desk, "0912345678", "1700000000.13", keys="111")
    assert hurried.played[:2] == [welcome, sound] and menu not in hurried.played
    assert hurried.variables["TONGDAI_CUSTOMER"] == "KH0000000001"

    listed = (await boss.send("GET", URL))[1]["outages"]
    assert [(n["id"], n["heard"]) for n in listed] == [(notice["id"], 2)]
    async with boss.http.get(f"{boss.base}/metrics") as r:
        metrics = await r.text()
    assert 'tongdai_ivr_outage_notices_heard_total{area="ha noi"} 2.0' in metrics

    # Expired: the next caller from Hà Nội goes straight to the menu.
    await boss.send("POST", f"{URL}/{notice['id']}/expire")
    again = await _call(desk, "0912345678", "1700000000.14")
    assert again.played == [welcome, menu]


async def test_a_notice_whose_file_asterisk_lacks_is_read_with_the_generic_one(
    desk: Bridge, people: dict[str, Client]
) -> None:
    # Asterisk on another host, or a sounds directory it does not see: the notice's own file fails.
    body = {"area": "Hà Nội", "message_vi": "Mất điện trạm Cầu Giấy.", "ends_at": at(1)}
    status, notice = await people["9000"].send("POST", URL, body)
    assert status == 200, notice
    sound, generic = f"tongdai/vi/outage/n{notice['id']}", "tongdai/vi/outage_generic"
    welcome, menu = "tongdai/vi/welcome", "tongdai/vi/main_menu"
    call = await _call(desk, "0912345678", "1700000000.21", missing=frozenset({sound}))
    assert call.played == [welcome, generic, menu]
    # Neither file there: nothing was heard, so nothing is counted.
    silent = await _call(desk, "0912345678", "1700000000.22", missing=frozenset({sound, generic}))
    assert silent.played == [welcome, menu]
    listed = (await people["9000"].send("GET", URL))[1]["outages"]
    assert [(n["id"], n["heard"]) for n in listed] == [(notice["id"], 1)]
