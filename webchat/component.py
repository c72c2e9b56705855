"""Wiring of web chat: the ``webchat`` section and its check (every chat topic is a queue), the chat
service on the ACD's policy and agent states, the desktop's pop hub (handed in as :class:`Desk`, the
package never imports the desktop), the customer's routes, the callback form into the IVR's worklist,
and the agents' ``/api/chats…`` routes. Nothing runs unless ``webchat.enabled``."""

from __future__ import annotations

import hashlib
import hmac
import html
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from acd.component import AcdComponent
from core.component import ComponentSpec, Infra
from core.config import QueueConfig, Section
from crm_bridge.component import CrmComponent
from crm_bridge.directory import CustomerDirectory
from ivr.component import IvrComponent
from webchat import portal_token
from webchat.abuse import FormGuard
from webchat.callback_form import CallbackForm
from webchat.config import WebchatConfig
from webchat.service import AgentFact, ChatService, Desk
from webchat.store import TranscriptStore

if TYPE_CHECKING:
    from tongdai.settings import Settings

__all__ = ["SPEC", "WebchatComponent", "WebchatSections", "running"]


class WebchatSections(Section):
    webchat: WebchatConfig = WebchatConfig()


class _ChatQueues(Protocol):
    @property
    def webchat(self) -> WebchatConfig: ...
    @property
    def queues(self) -> list[QueueConfig]: ...


def check_chat_queues(s: _ChatQueues) -> Iterable[str]:
    """Every chat topic is a configured queue: its members are who take its chats."""
    queues = {q.name for q in s.queues}
    for i, q in enumerate(s.webchat.queues):
        if q.name not in queues:
            yield f"webchat.queues.{i}.name: {q.name!r} is not a queue in queues"
    if s.webchat.enabled and not s.webchat.queues:
        yield "webchat.queues: web chat is enabled but has no topic"


class DirectoryProfiles:
    """The profile the pop shows, and the customer's history, from the CRM directory."""

    def __init__(self, directory: CustomerDirectory) -> None:
        self.directory = directory

    async def profile(self, customer_id: str | None, phone: str | None) -> dict[str, Any] | None:
        if customer_id:
            p = await self.directory.by_customer_id(customer_id)
        elif phone:
            p = await self.directory.by_e164(phone)
        else:
            p = None
        return p.to_json() if p is not None else None

    async def note_chat(
        self, customer_id: str, chat_id: str, agent_id: str | None, summary: str, disposition: str | None
    ) -> None:
        await self.directory.add_interaction(
            customer_id, "chat", summary, agent_id=agent_id, call_id=chat_id, disposition=disposition
        )


@dataclass
class WebchatComponent:
    service: ChatService
    store: TranscriptStore
    form: CallbackForm


@asynccontextmanager
async def running(
    settings: Settings,
    infra: Infra,
    crm: CrmComponent,
    acd: AcdComponent,
    ivr: IvrComponent,
    *,
    desk: Desk,
    strings: Callable[[str], dict[str, Any]],
) -> AsyncIterator[WebchatComponent | None]:
    cfg = settings.webchat
    if not cfg.enabled:
        yield None
        return
    from webchat.http import CustomerEdge, WebChannel, add_agent_routes, add_customer_routes

    lowest = acd.policy.tiers[-1].name

    def tier_of(crm_tier: str | None) -> str:
        return settings.tier_map.get(crm_tier, lowest) if crm_tier else lowest

    async def agents() -> list[AgentFact]:
        return [AgentFact(a.agent_id, a.status, tuple(a.queues)) for a in await acd.agents.states()]

    profiles = DirectoryProfiles(crm.directory)
    store = TranscriptStore(infra.sessions)
    service = ChatService(
        cfg, acd.policy, agents=agents, desk=desk, profiles=profiles, store=store, audit=infra.audit,
        tier_of=tier_of,
    )  # fmt: skip
    channel = WebChannel(service)
    service.add_channel(channel)

    async def tier_of_number(customer_id: str | None, number: str) -> tuple[str | None, str]:
        p = await (
            crm.directory.by_customer_id(customer_id) if customer_id else crm.directory.by_e164(number)
        )
        return (p.customer_id, tier_of(p.tier)) if p is not None else (None, lowest)

    c = cfg.callback
    key = hmac.new(settings.web.session_secret.get_secret_value().encode(), b"webchat-form", hashlib.sha256)
    guard = FormGuard(key.digest(), c.pow_bits, c.min_fill_seconds, c.token_ttl_seconds)
    form = CallbackForm(
        cfg,
        settings.callbacks.dialler.hours,
        guard,
        ivr.callbacks,
        tier_of_number=tier_of_number,
        priority_of=acd.policy.initial_priority,
        audit=infra.audit,
        publish=infra.bus.publish,
    )
    id_format = settings.crm.customer_id.format()
    edge = CustomerEdge(cfg, service, channel, form, valid_id=id_format.is_valid, strings=strings)

    def mount(app: web.Application) -> None:
        add_customer_routes(app, edge)
        add_agent_routes(app, service, store, infra.audit)
        if settings.demo:  # `tongdai demo`: a shop page of this node's own origin, for a look by hand
            app.router.add_get("/chat/demo", _demo_shop(cfg, id_format.is_valid))

    infra.mount(mount)
    if infra.retention is not None:
        infra.retention.register("chat_transcripts", cfg.retention, store.purge_before)
    service.start()
    try:
        yield WebchatComponent(service, store, form)
    finally:
        await service.stop()


def _demo_shop(
    cfg: WebchatConfig, valid_id: Callable[[str], bool]
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """``/chat/demo``: the widget on a page (``?customer=KH…``: as that customer logged in to the
    portal, whose token this demo signs)."""

    async def page(request: web.Request) -> web.StreamResponse:
        customer = request.query.get("customer", "")
        token = ""
        if customer and valid_id(customer) and cfg.portal_secret is not None:
            token = portal_token.sign(customer, cfg.portal_secret.get_secret_value())
        topic = cfg.queues[0].name if cfg.queues else ""
        attrs = f' data-topic="{html.escape(topic)}" data-lang="vi"'
        if token:
            attrs += f' data-token="{html.escape(token)}"'
        body = (
            '<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Cửa hàng (demo)</title>'
            '<link rel="stylesheet" href="/static/desktop.css"></head><body><main class="desk">'
            "<h1>Cửa hàng demo</h1><p>Trang của nhà mạng, có nút trò chuyện và gọi lại ở góc phải.</p>"
            f'</main><script src="/chat/widget.js"{attrs}></script></body></html>'
        )
        return web.Response(text=body, content_type="text/html")

    return page


SPEC = ComponentSpec("webchat", sections=WebchatSections, checks=(check_chat_queues,))
