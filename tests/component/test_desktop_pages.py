"""The desktop's pages on a real bridge: Vietnamese by default and English on request, supervisors
only on the wallboard, and the wallboard states how its service level is computed, with its targets."""

from __future__ import annotations

import aiohttp

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
