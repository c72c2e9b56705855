"""The desktop's pages on a real bridge: Vietnamese by default and English on request, supervisors
only on the wallboard, and the wallboard states how its service level is computed, with its targets.
Each page carries its language's catalogue for its JS and a policy that forbids inline script; the
error ids the websocket answers with are ones the catalogue translates."""

from __future__ import annotations

import json
import re

import aiohttp

from agent_desktop.i18n import CATALOGUE
from tests.component.test_desktop_security import base, client, desk
from tests.support.desktop import login
from tongdai.app import Bridge

__all__ = ["desk"]  # the fixture, imported


async def page(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url) as r:
        return r.status, await r.text()


async def test_vietnamese_by_default_english_on_request(desk: Bridge) -> None:
    async with client() as http:
        status, html = await page(http, f"{base(desk)}/login")
        assert status == 200 and '<html lang="vi">' in html and "Đăng nhập" in html
        status, html = await page(http, f"{base(desk)}/login?lang=en")
        assert '<html lang="en">' in html and "Log in" in html and "Đăng nhập" not in html
        await login(http, base(desk), "1001", "demo-1001")
        _, vi = await page(http, f"{base(desk)}/")
        assert "Sẵn sàng" in vi and "Kết quả cuộc gọi" in vi and ">Đã giải quyết<" in vi
        assert 'data-lang="vi"' in vi
        _, en = await page(http, f"{base(desk)}/?lang=en")
        assert "Ready" in en and "Disposition" in en and ">Resolved<" in en and "Sẵn sàng" not in en
        assert 'data-lang="en"' in en


async def test_wallboard_is_for_supervisors_and_states_its_definitions(desk: Bridge) -> None:
    async with client() as http:
        await login(http, base(desk), "1001", "demo-1001")
        status, _ = await page(http, f"{base(desk)}/wallboard")
        assert status == 403
    targets = desk.settings.acd.tiers
    assert targets
    async with client() as http:
        await login(http, base(desk), "9000", "demo-9000")
        status, vi = await page(http, f"{base(desk)}/wallboard")
        assert status == 200
        sl = f"hàng đợi {desk.settings.desktop.queue_sl_seconds:g} giây"
        assert "Mức phục vụ (SL) = số cuộc được trả lời trong ngưỡng chờ" in vi and sl in vi
        for t in targets:
            assert f"{t.name} {t.target_seconds:g} giây" in vi
        assert "ASA = " in vi and "AHT = " in vi and "Bỏ máy = " in vi
        _, en = await page(http, f"{base(desk)}/wallboard?lang=en")
        assert "Service level (SL) = calls answered within the target wait" in en
        assert f"queues {desk.settings.desktop.queue_sl_seconds:g} s" in en


def catalogue_block(html: str) -> dict[str, object]:
    m = re.search(r'<script type="application/json" id="i18n">(.*?)</script>', html, re.S)
    assert m, "the page embeds no catalogue"
    data: dict[str, object] = json.loads(m.group(1))  # jinja's tojson escapes <, >, & and ' as \u00XX
    return data


async def test_each_page_embeds_its_languages_catalogue_under_a_no_inline_policy(desk: Bridge) -> None:
    async with client() as http:
        _, login_vi = await page(http, f"{base(desk)}/login")
        assert catalogue_block(login_vi) == json.loads(json.dumps(CATALOGUE["vi"]))
        assert "script-src 'self'" in login_vi and 'hreflang="en"' in login_vi
        await login(http, base(desk), "9000", "demo-9000")
        for path in ("/", "/wallboard", "/campaigns"):
            for lang in ("vi", "en"):
                _, html = await page(http, f"{base(desk)}{path}?lang={lang}")
                assert catalogue_block(html) == json.loads(json.dumps(CATALOGUE[lang])), (path, lang)
                # Scripts only from our origin; no inline code, no inline handlers.
                for tag in re.findall(r"<script\b[^>]*>", html):
                    assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
                assert not re.search(r"\son[a-z]+=", html)
        _, desk_en = await page(http, f"{base(desk)}/?lang=en")
        assert 'aria-label="Transfer to"' in desk_en  # the transfer selector is named
        async with http.get(f"{base(desk)}/static/vendor/lit-html/lit-html.js") as r:
            assert r.status == 200 and "javascript" in r.headers["Content-Type"]


async def test_websocket_errors_carry_ids_the_catalogue_translates(desk: Bridge) -> None:
    commands = [
        {"type": "no.such.command"},
        {"type": "call.get", "call_id": "missing"},
        {"type": "customer.unmask", "customer_id": "KH0000000001", "reason": "x"},
        {"type": "wallboard.snapshot"},
        {"type": "call.dial", "number": "0912345678"},
    ]
    codes = set()
    async with client() as http:
        await login(http, base(desk), "1001", "demo-1001")
        async with http.ws_connect(f"{base(desk)}/ws", origin=base(desk)) as ws:
            for i, cmd in enumerate(commands):
                await ws.send_str(json.dumps({"id": i, **cmd}))
                while True:
                    msg = await ws.receive(timeout=10)
                    assert msg.type == aiohttp.WSMsgType.TEXT, msg
                    frame = json.loads(msg.data)
                    if frame.get("type") == "result" and frame.get("id") == i:
                        break
                assert frame["success"] is False, frame
                codes.add(frame["error"]["code"])
    assert len(codes) >= 3, codes  # several different failures, several ids
    for lang in ("vi", "en"):
        assert codes <= set(CATALOGUE[lang]["errors"]), codes - set(CATALOGUE[lang]["errors"])
