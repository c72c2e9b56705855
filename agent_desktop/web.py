"""The desktop's web app: the string catalogue and the factory that assembles the pages
(agent_desktop/pages.py), the session (sessions.py), the websocket (ws.py) and the JSON API (api.py).

Security: scrypt-hashed passwords, an encrypted session cookie, a CSRF token on every form and
write, the websocket's Origin checked against the configured origins, each socket bound to the
logged-in agent so agent A never receives agent B's pop, JSON errors under /api/ (core/http.py).
"""

from __future__ import annotations

import logging
from datetime import UTC
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy import select

from agent_desktop.actions import BridgeView, DesktopActions
from agent_desktop.api import add_api_routes, add_openapi
from agent_desktop.auth import DesktopAuth
from agent_desktop.hub import PopHub
from agent_desktop.pages import TEXT_KEY, add_forms, add_pages
from agent_desktop.sessions import setup_sessions
from agent_desktop.wallboard import QueuedCall, Wallboard, today_bounds
from agent_desktop.ws import HUB_KEY, SETTINGS_KEY, websocket
from core.audit import Audit, AuditTrail
from core.config import Settings
from core.http import json_errors, setup_api
from core.models import CallRecord
from reports.http import add_report_routes

log = logging.getLogger(__name__)

HERE = Path(__file__).parent

TEXT = {
    "vi": {
        "title": "Bàn làm việc tổng đài viên",
        "login": "Đăng nhập",
        "agent_id": "Mã tổng đài viên",
        "password": "Mật khẩu",
        "bad_login": "Sai mã hoặc mật khẩu.",
        "logout": "Đăng xuất",
        "waiting": "Đang chờ cuộc gọi…",
        "wallboard": "Bảng giám sát",
        "ready": "Sẵn sàng",
        "pause": "Tạm nghỉ",
        "wrapup": "Hoàn tất cuộc gọi",
        "reason": "Lý do",
        "reasons": {
            "break": "Nghỉ giải lao",
            "lunch": "Ăn trưa",
            "training": "Đào tạo",
            "meeting": "Họp",
            "after_call_work": "Xử lý sau cuộc gọi",
            "auto_missed": "Nhỡ cuộc gọi",
        },
        "state_unavailable": "Chưa đổi được trạng thái: máy chủ chưa có dịch vụ trạng thái tổng đài viên.",
        "state_done": "Đã cập nhật trạng thái.",
        "disposition": "Kết quả cuộc gọi",
        "code": "Mã kết quả",
        "note": "Ghi chú",
        "save": "Lưu",
        "transfer": "Chuyển cuộc gọi",
        "blind": "Chuyển ngay",
        "attended": "Chuyển có hỏi ý",
        "queues": "Hàng đợi",
        "agents": "Tổng đài viên",
        "search": "Tìm khách hàng",
        "search_hint": "Tên (không dấu cũng được), số máy hoặc mã KH",
        "search_btn": "Tìm",
        "dial": "Gọi ra",
        "call": "Gọi",
        "today": "Cuộc gọi hôm nay",
        "time": "Giờ",
        "number": "Số gọi",
        "queue": "Hàng đợi",
        "wait": "Chờ",
        "talk": "Nói",
        "events": "Nhật ký",
        "waiting_now": "Đang chờ",
        "longest": "Chờ lâu nhất",
        "answered": "Đã trả lời",
        "abandoned": "Bỏ máy",
        "tiers": "Hạng khách hàng",
        "tier": "Hạng",
        "agent": "Tổng đài viên",
        "state": "Trạng thái",
        "in_state": "Thời gian",
        "chart": "Lưu lượng và mức phục vụ theo nửa giờ (hôm nay)",
        "definitions": "Cách tính",
        "def_sl": "Mức phục vụ (SL) = số cuộc được trả lời trong ngưỡng chờ / "
        "(số cuộc được trả lời + bỏ máy). Ngưỡng: hàng đợi {queue} giây; theo hạng khách hàng: {tiers}.",
        "def_asa": "ASA = thời gian chờ trung bình (từ lúc vào hàng đợi đến khi được trả lời) "
        "của các cuộc được trả lời.",
        "def_aht": "AHT = thời gian đàm thoại trung bình của các cuộc đã kết thúc, "
        "không gồm thời gian hoàn tất sau cuộc gọi.",
        "def_day": "Bỏ máy = người gọi rời hàng đợi trước khi được trả lời. "
        "Mỗi cuộc được tính vào ngày và nửa giờ nó vào hàng đợi (giờ Việt Nam).",
        "seconds": "giây",
    },
    "en": {
        "title": "Agent desktop",
        "login": "Log in",
        "agent_id": "Agent ID",
        "password": "Password",
        "bad_login": "Wrong agent ID or password.",
        "logout": "Log out",
        "waiting": "Waiting for a call…",
        "wallboard": "Wallboard",
        "ready": "Ready",
        "pause": "Pause",
        "wrapup": "Wrap-up",
        "reason": "Reason",
        "reasons": {
            "break": "Break",
            "lunch": "Lunch",
            "training": "Training",
            "meeting": "Meeting",
            "after_call_work": "After-call work",
            "auto_missed": "Missed calls",
        },
        "state_unavailable": "State cannot be changed: this server has no agent state service yet.",
        "state_done": "State updated.",
        "disposition": "Disposition",
        "code": "Code",
        "note": "Note",
        "save": "Save",
        "transfer": "Transfer",
        "blind": "Blind transfer",
        "attended": "Attended transfer",
        "queues": "Queues",
        "agents": "Agents",
        "search": "Customer search",
        "search_hint": "Name (accents optional), number or customer ID",
        "search_btn": "Search",
        "dial": "Call out",
        "call": "Call",
        "today": "Today's calls",
        "time": "Time",
        "number": "Number",
        "queue": "Queue",
        "wait": "Wait",
        "talk": "Talk",
        "events": "Log",
        "waiting_now": "Waiting",
        "longest": "Longest wait",
        "answered": "Answered",
        "abandoned": "Abandoned",
        "tiers": "Customer tiers",
        "tier": "Tier",
        "agent": "Agent",
        "state": "State",
        "in_state": "Time in state",
        "chart": "Traffic and service level by half-hour (today)",
        "definitions": "Definitions",
        "def_sl": "Service level (SL) = calls answered within the target wait / "
        "(calls answered + abandoned). Targets: queues {queue} s; by customer tier: {tiers}.",
        "def_asa": "ASA = mean wait (queue entry to answer) of the answered calls.",
        "def_aht": "AHT = mean talk time of the answered calls that ended; after-call work is not included.",
        "def_day": "Abandoned = the caller left the queue before an answer. Each call counts in the day and "
        "half-hour in which it entered the queue (Vietnam time).",
        "seconds": "s",
    },
}


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "agents_connected": request.app[HUB_KEY].connected_agents()})


def make_web_app(
    settings: Settings, hub: PopHub, bridge: BridgeView | None = None, audit: Audit | None = None
) -> web.Application:
    """The desktop app. With ``bridge`` (the running Bridge) it also serves the wallboard, the JSON API
    and websocket commands; without it only login and the screen pop. ``audit`` is the one audit
    trail (default: an :class:`AuditTrail` on the bridge's database)."""
    app = web.Application(middlewares=[json_errors])
    app[SETTINGS_KEY] = settings
    app[HUB_KEY] = hub
    app[TEXT_KEY] = TEXT
    setup_api(app, DesktopAuth(settings.desktop.api_tokens))
    setup_sessions(app, settings)
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True)
    add_pages(app)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/healthz", health)
    app.router.add_static("/static/", HERE / "static")
    add_openapi(app)
    if bridge is not None:
        _add_desk(app, settings, hub, bridge, audit)

    async def close_sockets(app: web.Application) -> None:
        await hub.close_sockets()

    async def finish_pops(app: web.Application) -> None:
        await hub.close()

    app.on_shutdown.append(close_sockets)
    app.on_cleanup.append(finish_pops)
    return app


def _add_desk(
    app: web.Application, settings: Settings, hub: PopHub, bridge: BridgeView, audit: Audit | None
) -> None:
    if audit is None:
        if bridge.sessions is None:
            raise ValueError("the desktop's audit trail needs the bridge's database")
        audit = AuditTrail(bridge.sessions)
    wallboard = Wallboard(
        hub.send_supervisors,
        queues={q.name: q.label or q.name for q in settings.queues},
        agents={a.id: a.name for a in settings.agents},
        queue_sl=settings.desktop.queue_sl_seconds,
        tier_sl={t.name: t.target_seconds for t in settings.acd.tiers},
        coalesce=settings.desktop.wallboard_coalesce,
    )
    wallboard.attach(bridge.bus)
    acts = DesktopActions(bridge, audit)
    add_api_routes(app, acts, wallboard)
    add_forms(app)
    _add_reports(app, settings, bridge)

    async def seed(app: web.Application) -> None:
        await _seed_wallboard(wallboard, bridge)

    async def close(app: web.Application) -> None:
        wallboard.close()

    app.on_startup.append(seed)
    app.on_cleanup.append(close)


def _add_reports(app: web.Application, settings: Settings, bridge: BridgeView) -> None:
    add_report_routes(app, lambda: bridge.sessions, settings.reports)


async def _seed_wallboard(wallboard: Wallboard, bridge: BridgeView) -> None:
    """Today's calls and the agents' states, so a restarted bridge shows the whole day."""
    agents = getattr(bridge, "agents", None)
    if agents is not None:
        for st in await agents.states():
            wallboard.set_agent(st.to_json())
    if bridge.sessions is None:
        return
    start, end = today_bounds()
    async with bridge.sessions() as s:
        rows = await s.scalars(
            select(CallRecord).where(CallRecord.queued_at >= start, CallRecord.queued_at < end)
        )
        wallboard.seed(
            QueuedCall(
                r.call_id,
                r.queue,
                r.acd_tier,
                _ts(r.queued_at),
                _ts(r.answered_at) if r.answered_at else None,
                _ts(r.ended_at) if r.ended_at else _ts(r.queued_at),
                r.agent_id,
            )
            for r in rows
        )


def _ts(v: Any) -> float:
    return float((v if v.tzinfo else v.replace(tzinfo=UTC)).timestamp())
