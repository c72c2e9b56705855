"""A campaign's report and outcome export through the API on a real bridge (aiohttp on 127.0.0.1, real
SQLite): the rows the dialler, the call records and the agent state log write are put in the
database, then the report's figures (dialled, answered, connected, abandoned against the cap,
machines, refusals by rule, agent occupancy) are checked to the digit, and the CSV and XLSX exports
hold one row per attempt (and per contact never tried), every text cell neutralised."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.models import AgentStateLog
from campaigns.schedule import Next
from campaigns.store import CampaignStore, CampaignView, ContactView
from core.models import AuditEntry, CallRecord
from tests.component.test_campaign_preview_api import ready
from tests.component.test_campaigns_api import URL, Client, desk, people  # noqa: F401
from tongdai.app import Bridge

T0 = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)  # 09:00 in Việt Nam
M = dt.timedelta(minutes=1)
S = dt.timedelta(seconds=1)


async def dial(
    store: CampaignStore, c: CampaignView, k: ContactView, outcome: str, at: dt.datetime, **kw: Any
) -> None:
    await store.record_dial(
        k, c, outcome, connected=kw.get("connected", False), call_id=kw.get("call_id", ""),
        nxt=Next("done"), at=at, agent_id=kw.get("agent", ""),
    )  # fmt: skip


def period(agent: str, status: str, start: dt.datetime, end: dt.datetime) -> AgentStateLog:
    return AgentStateLog(
        agent=agent, status=status, reason="", started=start, ended=end, seconds=(end - start).total_seconds()
    )


def call(call_id: str, agent: str, talk: float, ended: dt.datetime) -> CallRecord:
    return CallRecord(
        call_id=call_id, caller_number="0912345678", queue="tv", agent_id=agent,
        started_at=ended - dt.timedelta(seconds=talk + 5), answered_at=ended - dt.timedelta(seconds=talk),
        ended_at=ended, talk_seconds=talk,
    )  # fmt: skip


async def fill(sessions: async_sessionmaker[AsyncSession], store: CampaignStore, cid: int) -> None:
    c = await store.get(cid)
    k = {x.name: x for x in await store.contacts(cid)}
    await dial(store, c, k["A"], "no_answer", T0 - 60 * M)  # before the window: not counted
    await dial(store, c, k["A"], "reached", T0 + 5 * M, connected=True, call_id="cmp-a", agent="1001")
    await dial(store, c, k["B"], "reached", T0 + 15 * M, connected=True, call_id="cmp-b", agent="1002")
    await dial(store, c, k["C"], "reached", T0 + 16 * M, call_id="cmp-c")  # abandoned: no agent took it
    await dial(store, c, k["D"], "busy", T0 + 17 * M)
    await dial(store, c, k["D"], "no_answer", T0 + 40 * M)
    await dial(store, c, k["F"], "machine", T0 + 41 * M)
    await store.record_refusal(k["E"], c, "dnc_operator", Next("refused"), T0 + 18 * M)
    async with sessions() as s, s.begin():
        s.add_all([
            call("cmp-a", "1001", 120, T0 + 10 * M),
            call("cmp-b", "1002", 60, T0 + 20 * M),
            # 1001: 3600 s logged in within the window, 120 s talk + 30 s wrap-up of its campaign call.
            period("1001", "ready", T0, T0 + 8 * M),
            period("1001", "on_call", T0 + 8 * M, T0 + 10 * M),
            period("1001", "wrap_up", T0 + 10 * M, T0 + 10 * M + 30 * S),
            period("1001", "ready", T0 + 10 * M + 30 * S, T0 + 60 * M),
            period("1001", "logged_out", T0 + 60 * M, T0 + 120 * M),
            # 1002: paused from before the window (900 s inside it), out 4 min, then on until after it.
            period("1002", "paused", T0 - 30 * M, T0 + 15 * M),
            period("1002", "logged_out", T0 + 15 * M, T0 + 19 * M),
            period("1002", "on_call", T0 + 19 * M, T0 + 20 * M),
            period("1002", "wrap_up", T0 + 20 * M + 2 * S, T0 + 20 * M + 22 * S),
            period("1002", "ready", T0 + 20 * M + 22 * S, T0 + 150 * M),
            # Another agent's wrap-up: not the campaign's.
            period("1003", "wrap_up", T0 + 10 * M, T0 + 11 * M),
        ])  # fmt: skip


async def get(client: Client, path: str, **params: str) -> tuple[int, str, bytes]:
    async with client.http.get(f"{client.base}{path}", params=params, headers=client.headers) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.read()


async def test_the_report_counts_the_real_rows_and_the_exports_hold_every_attempt(
    desk: Bridge,  # noqa: F811
    people: dict[str, Client],  # noqa: F811
) -> None:
    boss, agent = people["9000"], people["1001"]
    body = {
        "name": "Nợ cước",
        "queue": "tv",
        "purpose": "care",
        "dispositions": ["paid"],
        "window_end": "20:00",
    }
    status, c = await boss.send("POST", URL, body)
    assert status == 200, c
    cid = c["id"]
    rows = (
        "\n".join(f"09{n}2345678,{10 - n},{x}" for n, x in enumerate("ABCDEF"))
        + "\n0888888888,0,=HYPERLINK(1)"
    )
    status, _ = await boss.send("POST", f"{URL}/{cid}/contacts", {"csv": "number,priority,name\n" + rows})
    assert status == 200
    assert desk.campaigns is not None and desk.sessions is not None
    await fill(desk.sessions, desk.campaigns.store, cid)
    window = {"since": T0.isoformat(), "until": (T0 + 120 * M).isoformat()}

    status, _, raw = await get(boss, f"{URL}/{cid}/report", **window)
    assert status == 200, raw
    r = json.loads(raw)
    keys = ("dialled", "answered", "connected", "abandoned", "abandon_rate", "machines")
    assert {k: r[k] for k in keys} == {
        "dialled": 6, "answered": 3, "connected": 2, "abandoned": 1, "abandon_rate": 0.3333, "machines": 1,
    }  # fmt: skip
    assert (r["abandon_cap"], r["over_cap"]) == (0.03, True)
    assert r["outcomes"] == {"reached": 3, "busy": 1, "no_answer": 1, "machine": 1}
    assert r["refusals"] == {"dnc_operator": 1}
    occ = r["occupancy"]
    assert occ["agents"] == {
        "1001": {"talk_seconds": 120.0, "wrap_seconds": 30.0, "logged_in_seconds": 3600.0, "rate": 0.0417},
        "1002": {"talk_seconds": 60.0, "wrap_seconds": 20.0, "logged_in_seconds": 6958.0, "rate": 0.0115},
    }
    assert (occ["talk_seconds"], occ["wrap_seconds"], occ["logged_in_seconds"], occ["rate"]) == (
        180.0, 50.0, 10558.0, 0.0218,
    )  # fmt: skip
    # Without a window: from the campaign's creation (now) on, none of these rows (they are in the past).
    status, _, raw = await get(boss, f"{URL}/{cid}/report")
    assert status == 200 and json.loads(raw)["dialled"] == 0
    status, _, raw = await get(boss, f"{URL}/{cid}/report", since=window["until"], until=window["since"])
    assert (status, json.loads(raw)["error"]["code"]) == (400, "request.invalid")

    status, media, raw = await get(boss, f"{URL}/{cid}/outcomes.csv", **window)
    assert (status, media) == (200, "text/csv; charset=utf-8"), raw
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [(x["name"], x["outcome"], x["reason"], x["connected"], x["agent_id"]) for x in table] == [
        ("A", "reached", "", "yes", "1001"),
        ("B", "reached", "", "yes", "1002"),
        ("C", "reached", "", "no", ""),
        ("D", "busy", "", "no", ""),
        ("D", "no_answer", "", "no", ""),
        ("E", "refused", "dnc_operator", "no", ""),
        ("F", "machine", "", "no", ""),
        ("'=HYPERLINK(1)", "", "", "", ""),  # never dialled; its name neutralised
    ]
    assert table[0]["number"] == "'+84902345678" and table[0]["talk_seconds"] == "120.0"
    assert table[0]["at"] == "2026-12-01T09:05:00+07:00"

    status, media, raw = await get(boss, f"{URL}/{cid}/outcomes.xlsx", **window)
    assert status == 200 and media.startswith("application/vnd.openxmlformats"), raw[:200]
    wb = load_workbook(io.BytesIO(raw))
    sheet = list(wb["outcomes"].values)
    assert len(sheet) == 9 and sheet[1][1] == "+84902345678" and sheet[1][16] == 120
    assert sheet[8][3] == "'=HYPERLINK(1)"
    figures = dict(list(wb["figures"].values)[1:])
    assert (figures["dialled"], figures["abandon_rate"], figures["refused:dnc_operator"]) == (6, 0.3333, 1)

    # Supervisors only; each export audited.
    status, _, raw = await get(agent, f"{URL}/{cid}/report")
    assert status == 403
    status, _, _ = await get(agent, f"{URL}/{cid}/outcomes.csv")
    assert status == 403
    async with desk.sessions() as s:
        exports = [
            (a.actor, a.detail.split(",")[0])
            for a in await s.scalars(select(AuditEntry).where(AuditEntry.action == "campaign.export"))
        ]
    assert exports == [("9000", "csv"), ("9000", "xlsx")]


async def test_a_live_report_counts_the_agents_current_periods_up_to_now(
    desk: Bridge,  # noqa: F811
    people: dict[str, Client],  # noqa: F811
) -> None:
    boss = people["9000"]
    status, c = await boss.send("POST", URL, {"name": "Trực tiếp", "queue": "tv", "purpose": "care"})
    assert status == 200, c
    cid = c["id"]
    status, _ = await boss.send("POST", f"{URL}/{cid}/contacts", {"csv": "number\n0912345678\n"})
    assert status == 200
    assert desk.campaigns is not None and desk.sessions is not None
    store = desk.campaigns.store
    now = dt.datetime.now(dt.UTC)
    campaign, [k] = await store.get(cid), await store.contacts(cid)
    await dial(store, campaign, k, "reached", now - 4 * M, connected=True, call_id="cmp-live", agent="1001")
    async with desk.sessions() as s, s.begin():
        s.add_all([
            call("cmp-live", "1001", 60, now - 2 * M),
            period("1001", "ready", now - 10 * M, now - 3 * M),
            period("1001", "on_call", now - 3 * M, now - 2 * M),
            period("1001", "wrap_up", now - 2 * M, now - 2 * M + 10 * S),
        ])  # fmt: skip
    # 1001 is ready (app_queue's event, now): a period still running, not yet in the log; the
    # report is asked 50 s later by its clock.
    await ready(desk, "1001")
    real = store.clock
    store.clock = lambda: real() + 50 * S
    status, _, raw = await get(boss, f"{URL}/{cid}/report", since=(now - 60 * M).isoformat())
    assert status == 200, raw
    occ = json.loads(raw)["occupancy"]["agents"]["1001"]
    assert (occ["talk_seconds"], occ["wrap_seconds"]) == (60.0, 10.0)
    # 490 s from the log, and the current ready period's 50 s (and the moments of the request).
    assert 540 <= occ["logged_in_seconds"] <= 560, occ
