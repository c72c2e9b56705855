"""The website's "call me back" form: checked, guarded (webchat/abuse.py), rate-limited, then one
request in the existing callback worklist (ivr/callbacks.py) at the customer's tier, so it is worked in
the same order, by the same agents or dialler, with the same audit.

The window is a day and two times in Việt Nam (``2026-12-07``, ``09:00``–``11:00``); it must lie inside
the callback hours (``callbacks.dialler.hours``: the hours customers are called back at), start no
earlier than now (a window already begun starts now) and at most ``max_days_ahead`` days ahead. The
request waits until the window starts (``not_before``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.audit import Audit
from core.bus import BusEvent
from core.errors import BadRequest
from core.phone import to_e164
from core.vietnam import VN_TZ
from ivr.hours import BusinessHours, is_open
from webchat.abuse import FormGuard, FormRateLimited
from webchat.config import WebchatConfig

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HM = re.compile(r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")  # the end may be midnight


class BadWindow(BadRequest):
    error_id = "callback_form.bad_window"


class UnknownFormTopic(BadRequest):
    error_id = "callback_form.unknown_topic"


class Worklist(Protocol):
    async def record(
        self,
        number: str,
        customer_id: str | None,
        call_id: str,
        *,
        acd_tier: str | None = None,
        priority: int = 0,
        queue: str | None = None,
        not_before: dt.datetime | None = None,
    ) -> int: ...


class Window:
    """A validated window, in UTC."""

    def __init__(self, start: dt.datetime, end: dt.datetime) -> None:
        self.start, self.end = start, end


def parse_window(
    day: str, start: str, end: str, *, hours: BusinessHours, now: dt.datetime, max_days_ahead: int
) -> Window:
    if not (isinstance(day, str) and _DAY.match(day)):
        raise BadWindow("the day must be like 2026-12-07")
    if not (isinstance(start, str) and _HM.match(start) and isinstance(end, str) and _HM.match(end)):
        raise BadWindow("the times must be like 09:00")
    try:
        d = dt.date.fromisoformat(day)
    except ValueError as err:
        raise BadWindow(f"{day!r} is not a date") from err
    if start == "24:00":
        raise BadWindow("the window cannot start at midnight's end")
    s = dt.datetime.combine(d, dt.time.fromisoformat(start), VN_TZ)
    midnight = dt.datetime.combine(d, dt.time(0), VN_TZ) + dt.timedelta(days=1)
    e = midnight if end == "24:00" else dt.datetime.combine(d, dt.time.fromisoformat(end), VN_TZ)
    if e <= s:
        raise BadWindow("the window must end after it starts")
    if e <= now:
        raise BadWindow("the window is already over")
    if s.date() > (now.astimezone(VN_TZ) + dt.timedelta(days=max_days_ahead)).date():
        raise BadWindow(f"the window is more than {max_days_ahead} days ahead")
    s = max(s, now.astimezone(VN_TZ).replace(second=0, microsecond=0))
    # Inside the hours throughout: every quarter hour of it, and its last minute.
    at = s
    while at < e:
        if not is_open(hours, at):
            raise BadWindow("the window is outside the hours we call back")
        at += dt.timedelta(minutes=15)
    if not is_open(hours, e - dt.timedelta(minutes=1)):
        raise BadWindow("the window is outside the hours we call back")
    return Window(s.astimezone(dt.UTC), e.astimezone(dt.UTC))


@dataclass
class _Window:
    """At most ``limit`` events in any ``seconds``, per key (the clock is passed in)."""

    limit: int
    seconds: float
    events: dict[str, deque[float]] = field(default_factory=dict)

    def allow(self, key: str, now: float) -> float:
        q = self.events.setdefault(key, deque())
        while q and q[0] <= now - self.seconds:
            q.popleft()
        if len(q) >= self.limit:
            return q[0] + self.seconds - now
        q.append(now)
        return 0.0


class CallbackForm:
    def __init__(
        self,
        cfg: WebchatConfig,
        hours: BusinessHours,
        guard: FormGuard,
        worklist: Worklist,
        *,
        tier_of_number: Callable[[str | None, str], Awaitable[tuple[str | None, str]]],
        priority_of: Callable[[str], int],
        audit: Audit,
        publish: Callable[[BusEvent], Any] | None = None,
    ) -> None:
        self.cfg, self.hours, self.guard, self.worklist = cfg, hours, guard, worklist
        self._tier_of, self._priority_of, self._audit, self._publish = (
            tier_of_number,
            priority_of,
            audit,
            publish,
        )
        c = cfg.callback
        self._per_number = _Window(c.per_number_per_day, 86_400)
        self._per_ip = _Window(c.per_ip_per_hour, 3_600)

    def form(self, now: float) -> dict[str, Any]:
        topics = [
            {"name": q.name, "vi": q.label_vi or q.name, "en": q.label_en or q.name} for q in self.cfg.queues
        ]
        return {"token": self.guard.issue(now), "bits": self.guard.bits, "topics": topics}

    async def submit(
        self, data: dict[str, Any], *, ip: str, customer_id: str | None, now: float, wall: dt.datetime
    ) -> dict[str, Any]:
        """One request into the worklist; raises BadRequest, FormRefused or FormRateLimited."""
        self.guard.check(str(data.get("token") or ""), str(data.get("work") or ""), now)
        number = to_e164(str(data.get("number") or ""))
        topic = str(data.get("topic") or "")
        if self.cfg.queue(topic) is None:
            raise UnknownFormTopic(f"no topic {topic!r}")
        window = parse_window(
            str(data.get("day") or ""),
            str(data.get("from") or ""),
            str(data.get("to") or ""),
            hours=self.hours,
            now=wall,
            max_days_ahead=self.cfg.callback.max_days_ahead,
        )
        for limiter, key in ((self._per_ip, f"ip:{ip}"), (self._per_number, number)):
            wait = limiter.allow(key, now)
            if wait:
                raise FormRateLimited("too many callback requests: try again later", wait)
        customer, acd_tier = await self._tier_of(customer_id, number)
        call_id = f"web-{self.guard.issue(now).split('.')[1]}"
        rid = await self.worklist.record(
            number,
            customer,
            call_id,
            acd_tier=acd_tier,
            priority=self._priority_of(acd_tier),
            queue=topic,
            not_before=window.start,
        )
        detail = f"{window.start.isoformat()}..{window.end.isoformat()} topic {topic}"
        await self._audit("webchat", "callback.web_request", "callback", str(rid), detail)
        if self._publish is not None:
            self._publish(
                BusEvent("callback.requested", call_id, {"number": number, "customer_id": customer})
            )
        return {"id": rid, "from": window.start.isoformat(), "to": window.end.isoformat()}
