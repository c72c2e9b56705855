"""HTTP and websocket edge of web chat.

Customer side, public, for the operator's website (``webchat.allowed_origins`` only):

- ``GET /chat/widget.js``: the widget (one ``<script src=…/chat/widget.js data-topic=…>`` tag).
- ``GET /chat/strings?lang=vi``: the widget's words (the locale files' ``widget`` block).
- ``GET /chat/ws``: the customer's websocket, bound to the one chat it opens (:class:`WebChannel`): no
  frame names a chat, so a socket can reach no other. First frame ``{"type": "hello", "topic", "page",
  "lang", "token" | "phone"}``; then ``message`` {text}, ``typing``, ``read`` {id}. The server sends
  ``welcome``, ``position``, ``agent``, ``message``, ``typing``, ``delivery``, ``callback_offer``,
  ``ended`` and ``error`` {code, message}.
- ``GET /chat/callback/form`` and ``POST /chat/callback``: the callback form (CORS for the origins).

Agent side, on the desktop's JSON API (session + CSRF; also websocket commands): ``/api/chats…``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from pydantic import ConfigDict, Field

from core.audit import Audit
from core.errors import Forbidden, TongdaiError, Unauthorized
from core.http import Access, Args, Call, Route, error_body, status_for
from core.http import add_routes as register
from core.phone import to_e164
from reports.service_level import day_start_utc, parse_period
from webchat import portal_token
from webchat.callback_form import CallbackForm
from webchat.channel import Identity
from webchat.config import WebchatConfig
from webchat.report import chat_service_level
from webchat.service import ChatService, LiveChat
from webchat.store import TranscriptStore

log = logging.getLogger(__name__)

WIDGET = Path(__file__).with_name("static") / "widget.js"
CLOSE_POLICY = 4403  # the socket broke a rule (identity refused, not a hello first)


class IdentityRequired(Unauthorized):
    error_id = "chat.identity_required"


class OriginRefused(Forbidden):
    error_id = "chat.origin"


class TranscriptForbidden(Forbidden):
    error_id = "chat.transcript_forbidden"


class TooFast(TongdaiError):
    error_id = "chat.too_fast"


class WebChannel:
    """Web chat as a channel (webchat/channel.py): each conversation is one customer websocket."""

    name = "web"

    def __init__(self, service: ChatService) -> None:
        self.sockets: dict[str, web.WebSocketResponse] = {}  # conversation → the customer's socket
        self.chat_of: dict[str, str] = {}  # conversation → its chat
        self.service = service

    async def _send(self, conversation: str, frame: dict[str, Any]) -> bool:
        ws = self.sockets.get(conversation)
        if ws is None or ws.closed:
            return False
        try:
            await ws.send_str(json.dumps(frame, ensure_ascii=False))
        except (ConnectionError, RuntimeError):
            return False
        return True

    async def send(self, conversation: str, message_id: str, text: str, at: datetime) -> None:
        frame = {"type": "message", "id": message_id, "from": "agent", "text": text, "at": at.isoformat()}
        if await self._send(conversation, frame):
            chat_id = self.chat_of.get(conversation)
            if chat_id:
                await self.service.delivered(chat_id, message_id, "delivered")

    async def notify(self, conversation: str, event: str, data: dict[str, Any]) -> None:
        await self._send(conversation, {"type": event, **data})
        ws = self.sockets.get(conversation)
        if event == "ended" and ws is not None:  # nothing more to say: the widget shows the end
            with contextlib.suppress(Exception):
                await ws.close(code=1000, message=b"chat ended")

    async def close_all(self) -> None:
        for ws in list(self.sockets.values()):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"server shutdown")


def _origin_ok(cfg: WebchatConfig, request: web.Request) -> str | None:
    origin = request.headers.get("Origin", "")
    return origin if origin in cfg.allowed_origins else None


def _client_ip(request: web.Request) -> str:
    return request.remote or "?"


class CustomerEdge:
    def __init__(
        self,
        cfg: WebchatConfig,
        service: ChatService,
        channel: WebChannel,
        form: CallbackForm,
        *,
        valid_id: Callable[[str], bool],
        strings: Callable[[str], dict[str, Any]],
    ) -> None:
        self.cfg, self.service, self.channel, self.form = cfg, service, channel, form
        self.valid_id, self.strings = valid_id, strings

    def identity(self, hello: dict[str, Any]) -> Identity:
        token = hello.get("token")
        if token:
            secret = self.cfg.portal_secret
            if secret is None:
                raise portal_token.BadPortalToken("this site does not accept portal tokens")
            customer_id = portal_token.verify(
                str(token),
                secret.get_secret_value(),
                valid_id=self.valid_id,
                max_lifetime=self.cfg.token_max_lifetime,
            )
            return Identity(customer_id, None, True)
        phone = hello.get("phone")
        if phone:
            return Identity(None, to_e164(str(phone)), False)
        raise IdentityRequired("say who you are: a portal token or a phone number")

    async def widget(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(WIDGET, headers={"Content-Type": "text/javascript; charset=utf-8"})

    async def words(self, request: web.Request) -> web.StreamResponse:
        lang = request.query.get("lang", "vi")
        return self._cors(request, web.json_response(self.strings(lang if lang in ("vi", "en") else "vi")))

    def _cors(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        origin = _origin_ok(self.cfg, request)
        if origin:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    def _error(self, request: web.Request, err: BaseException) -> web.StreamResponse:
        status = status_for(err)
        headers = {}
        retry = getattr(err, "retry_after", None)
        if status == 429 and isinstance(retry, int | float):
            headers["Retry-After"] = str(max(1, int(retry + 0.999)))
        return self._cors(
            request, web.json_response({"error": error_body(err)}, status=status, headers=headers)
        )

    async def preflight(self, request: web.Request) -> web.StreamResponse:
        if _origin_ok(self.cfg, request) is None:
            return web.Response(status=403)
        r = web.Response(status=204)
        r.headers["Access-Control-Allow-Methods"] = "POST"
        r.headers["Access-Control-Allow-Headers"] = "Content-Type"
        r.headers["Access-Control-Max-Age"] = "600"
        return self._cors(request, r)

    async def callback_form(self, request: web.Request) -> web.StreamResponse:
        # A browser sends no Origin on a same-origin GET (the widget on the node's own page): only a
        # foreign one is refused here; the guard that matters is on the POST.
        if "Origin" in request.headers and _origin_ok(self.cfg, request) is None:
            return self._error(request, OriginRefused("this site may not use the callback form"))
        return self._cors(request, web.json_response(self.form.form(time.time())))

    async def callback_submit(self, request: web.Request) -> web.StreamResponse:
        if _origin_ok(self.cfg, request) is None:
            return self._error(request, OriginRefused("this site may not use the callback form"))
        try:
            try:
                data = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError, web.HTTPException) as err:
                raise ValueError("the body is not a JSON object") from err
            if not isinstance(data, dict):
                raise ValueError("the body is not a JSON object")
            customer_id = None
            if data.get("identity"):
                customer_id = self.identity({"token": data["identity"]}).customer_id
            result = await self.form.submit(
                data, ip=_client_ip(request), customer_id=customer_id, now=time.time(), wall=_now()
            )
        except (TongdaiError, ValueError) as err:
            return self._error(request, err)
        return self._cors(request, web.json_response(result, status=201))

    async def socket(self, request: web.Request) -> web.StreamResponse:
        if _origin_ok(self.cfg, request) is None:
            log.warning("chat socket from foreign origin %r refused", request.headers.get("Origin", ""))
            raise web.HTTPForbidden(text="origin not allowed")
        limit = self.cfg.max_message_bytes
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=limit * 6 + 4096)  # JSON may escape
        await ws.prepare(request)
        conversation = secrets.token_urlsafe(12)
        chat: LiveChat | None = None
        try:
            chat = await self._hello(ws, conversation)
            if chat is not None:
                await self._serve(ws, chat)
        finally:
            self.channel.sockets.pop(conversation, None)
            self.channel.chat_of.pop(conversation, None)
            if chat is not None:
                await self.service.customer_left(chat.id)
        return ws

    async def _refuse(self, ws: web.WebSocketResponse, err: BaseException) -> None:
        with contextlib.suppress(Exception):
            await ws.send_json({"type": "error", **error_body(err)})
            await ws.close(code=CLOSE_POLICY, message=error_body(err)["code"].encode())

    async def _hello(self, ws: web.WebSocketResponse, conversation: str) -> LiveChat | None:
        try:
            msg = await ws.receive(timeout=self.cfg.hello_timeout)
        except TimeoutError:
            await self._refuse(ws, IdentityRequired("no hello in time"))
            return None
        if msg.type != WSMsgType.TEXT:
            return None
        try:
            hello = json.loads(msg.data)
            if not isinstance(hello, dict) or hello.get("type") != "hello":
                raise IdentityRequired("say hello first")
            self.channel.sockets[conversation] = ws
            if hello.get("resume"):
                chat = await self.service.resume(str(hello["resume"]), conversation)
            else:
                chat = await self.service.open(
                    "web",
                    conversation,
                    self.identity(hello),
                    str(hello.get("topic") or ""),
                    page=str(hello.get("page") or ""),
                    lang=str(hello.get("lang") or "vi"),
                )
        except (TongdaiError, ValueError) as err:
            self.channel.sockets.pop(conversation, None)
            await self._refuse(ws, err)
            return None
        self.channel.chat_of[conversation] = chat.id
        messages = [m.to_json() for m in chat.messages]  # empty unless resumed
        welcome = {"chat_id": chat.id, "position": chat.position, "resume": chat.resume, "messages": messages}
        await ws.send_json({"type": "welcome", **welcome, "agent": chat.agent_id is not None})
        for m in chat.messages:  # the agent's messages written while the customer was away: now shown
            if m.sender == "agent" and m.state == "sent":
                await self.service.delivered(chat.id, m.id, "delivered")
        return chat

    async def _serve(self, ws: web.WebSocketResponse, chat: LiveChat) -> None:
        rate = self.cfg.max_messages_per_minute / 60
        tokens, at = float(self.cfg.max_messages_per_minute), time.monotonic()
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            try:
                frame = json.loads(msg.data)
                kind = frame.get("type") if isinstance(frame, dict) else None
                if kind == "message":
                    now = time.monotonic()
                    tokens, at = min(self.cfg.max_messages_per_minute, tokens + (now - at) * rate), now
                    if tokens < 1:
                        raise TooFast("too many messages: wait a moment")
                    tokens -= 1
                    m = self.service.accept(chat.id, frame.get("text"))
                    await ws.send_json({"type": "sent", "ref": frame.get("ref"), "message": m.to_json()})
                    await self.service.forward(chat.id, m)
                elif kind == "typing":
                    await self.service.customer_typing(chat.id)
                elif kind == "read":
                    await self.service.customer_read(chat.id, str(frame.get("id") or ""))
                else:
                    raise ValueError("unknown frame")
            except (TongdaiError, ValueError) as err:
                await ws.send_json({"type": "error", "ref": _ref(msg.data), **error_body(err)})
            if chat.id not in self.service.chats:
                break


def _ref(data: str) -> Any:
    with contextlib.suppress(Exception):
        frame = json.loads(data)
        return frame.get("ref") if isinstance(frame, dict) else None
    return None


def _now() -> datetime:
    return datetime.now(UTC)


def add_customer_routes(app: web.Application, edge: CustomerEdge) -> None:
    app.router.add_get("/chat/widget.js", edge.widget)
    app.router.add_get("/chat/strings", edge.words)
    app.router.add_get("/chat/ws", edge.socket)
    app.router.add_get("/chat/callback/form", edge.callback_form)
    app.router.add_post("/chat/callback", edge.callback_submit)
    app.router.add_route("OPTIONS", "/chat/callback", edge.preflight)

    async def close(app: web.Application) -> None:
        await edge.channel.close_all()

    app.on_shutdown.append(close)


# --- the agent's side --------------------------------------------------------------------------


class ChatRef(Args):
    chat_id: str = Field(min_length=1, max_length=64, pattern=r"^chat-[A-Za-z0-9_-]+$")


class Send(ChatRef):
    text: str = Field(max_length=65_536)


class Read(ChatRef):
    # Not "id": a websocket command's own id travels under that name.
    message_id: str = Field(min_length=1, max_length=80)


class Transfer(ChatRef):
    target: str = Field(min_length=1, max_length=64)


class End(ChatRef):
    disposition: str = Field(min_length=1, max_length=64)


class TranscriptRef(Args):
    chat_id: str = Field(min_length=1, max_length=64, pattern=r"^chat-[A-Za-z0-9_-]+$")


class PeriodArgs(Args):
    model_config = ConfigDict(json_schema_extra=lambda s: s.update(required=["since", "until"]))

    since: str | None = Field(None, description="first day (Asia/Ho_Chi_Minh), inclusive, like 2026-11-01")
    until: str | None = Field(None, description="last day, exclusive")
    queue: str | None = Field(None, pattern=r"^[a-z][a-z0-9_-]{0,38}$", description="one queue only")


class CustomerRef(Args):
    customer_id: str = Field(min_length=1, max_length=32)


_OBJ: dict[str, Any] = {"type": "object"}


def add_agent_routes(  # noqa: C901 (one small handler per route)
    app: web.Application, service: ChatService, store: TranscriptStore, audit: Audit
) -> None:
    async def mine(c: Call[Args]) -> Any:
        return {"chats": [ch.for_agent() for ch in service.mine(c.who.agent_id)]}

    async def send(c: Call[Send]) -> Any:
        return (await service.agent_send(c.who.agent_id, c.args.chat_id, c.args.text)).to_json()

    async def typing(c: Call[ChatRef]) -> Any:
        await service.agent_typing(c.who.agent_id, c.args.chat_id)
        return {}

    async def read(c: Call[Read]) -> Any:
        await service.agent_read(c.who.agent_id, c.args.chat_id, c.args.message_id)
        return {}

    async def transfer(c: Call[Transfer]) -> Any:
        chat = await service.transfer(c.who.agent_id, c.args.chat_id, c.args.target)
        return chat.summary()

    async def end(c: Call[End]) -> Any:
        return await service.end(c.who.agent_id, c.args.chat_id, c.args.disposition)

    def may_read(who_id: str, supervisor: bool, customer_id: str | None, agent_id: str | None) -> bool:
        # Supervisors read any transcript; an agent those they handled, and those of a customer they
        # are chatting with now (their history is what the pop is for).
        if supervisor or agent_id == who_id:
            return True
        return customer_id is not None and any(
            (ch.customer or {}).get("customer_id") == customer_id or ch.identity.customer_id == customer_id
            for ch in service.mine(who_id)
        )

    async def transcript(c: Call[TranscriptRef]) -> Any:
        t = await store.get(c.args.chat_id)
        if not may_read(c.who.agent_id, c.who.supervisor, t.row.customer_id, t.row.agent_id):
            raise TranscriptForbidden("this transcript is not one you may read")
        await audit(c.who.agent_id, "chat.transcript.read", "chat", t.row.chat_id, t.row.customer_id or "")
        return t.to_json()

    async def of_customer(c: Call[CustomerRef]) -> Any:
        cid = c.args.customer_id
        if not may_read(c.who.agent_id, c.who.supervisor, cid, None):
            raise TranscriptForbidden("these transcripts are not ones you may read")
        rows = await store.of_customer(cid)
        await audit(c.who.agent_id, "chat.transcript.list", "customer", cid, f"{len(rows)} chats")
        return {"chats": [t.to_json(messages=False) for t in rows]}

    async def board(c: Call[Args]) -> Any:
        return service.board()

    async def service_level(c: Call[PeriodArgs]) -> Any:
        since, until = parse_period(c.args.since, c.args.until, max_days=366)
        rows = await store.in_period(day_start_utc(since), day_start_utc(until), c.args.queue)
        cfg = service.cfg
        report = chat_service_level(rows, threshold=cfg.sl_threshold_seconds, target=cfg.sl_target)
        return {"since": since.isoformat(), "until": until.isoformat(), **report.to_json()}

    people, tag = Access.PEOPLE, "chat"
    errs = (403, 404, 409)
    register(
        app,
        [
            Route(
                "GET",
                "/api/chats",
                "My live chats, with their messages",
                mine,
                access=people,
                name="chat.list",
                tag=tag,
                result=_OBJ,
            ),
            Route(
                "GET",
                "/api/chats/board",
                "Waiting chats per queue and agents' chat load (supervisors)",
                board,
                access=Access.SUPERVISOR,
                name="chat.board",
                tag=tag,
                result=_OBJ,
            ),
            Route(
                "GET",
                "/api/reports/chat-service-level",
                "Chat service level per Vietnam day, queue and tier for [since, until), apart from calls",
                service_level,
                PeriodArgs,
                access=Access.SUPERVISOR,
                name="reports.chat_service_level",
                tag="reports",
                result={"type": "object", "required": ["total", "days", "definitions"]},
            ),
            Route(
                "GET",
                "/api/chats/transcripts/{chat_id}",
                "An ended chat's transcript (audited)",
                transcript,
                TranscriptRef,
                name="chat.transcript",
                tag=tag,
                errors=(403, 404),
                result=_OBJ,
            ),
            Route(
                "GET",
                "/api/chats/customer/{customer_id}",
                "A customer's past chats (audited)",
                of_customer,
                CustomerRef,
                name="chat.of_customer",
                tag=tag,
                errors=(403,),
                result=_OBJ,
            ),
            Route(
                "POST",
                "/api/chats/{chat_id}/send",
                "Send a message to the customer",
                send,
                Send,
                access=people,
                name="chat.send",
                tag=tag,
                errors=errs,
                result=_OBJ,
            ),
            Route(
                "POST",
                "/api/chats/{chat_id}/typing",
                "Tell the customer I am typing",
                typing,
                ChatRef,
                access=people,
                name="chat.typing",
                tag=tag,
                errors=errs,
                result=_OBJ,
            ),
            Route(
                "POST",
                "/api/chats/{chat_id}/read",
                "The customer's messages up to message_id are read",
                read,
                Read,
                access=people,
                name="chat.read",
                tag=tag,
                errors=errs,
                result=_OBJ,
            ),
            Route(
                "POST",
                "/api/chats/{chat_id}/transfer",
                "Transfer the chat to an agent or a queue (audited)",
                transfer,
                Transfer,
                access=people,
                name="chat.transfer",
                tag=tag,
                errors=errs,
                result=_OBJ,
            ),
            Route(
                "POST",
                "/api/chats/{chat_id}/end",
                "End the chat with a disposition (transcript kept)",
                end,
                End,
                access=people,
                name="chat.end",
                tag=tag,
                errors=errs,
                result=_OBJ,
            ),
        ],
    )
