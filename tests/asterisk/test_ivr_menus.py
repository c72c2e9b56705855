"""The full Vietnamese IVR tree on the real Asterisk, driven by a simulated caller's DTMF.

Each test places a real call (Local channel, keys sent with SendDTMF, ``w`` = 0.5 s), lets tongdai's
FastAGI route walk the tree, and asserts what landed on the call record (``calls``), on the bus
(``call.ended``, ``ivr.finished``) and, for read-backs, in Asterisk's own log of played sounds.
"""

from __future__ import annotations

import asyncio
import copy
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.ami import AmiClient
from core.bus import BusEvent
from core.db import create_engine
from core.models import CallRecord
from crm_bridge.demo_data import load_demo
from crm_bridge.importer import import_csv
from ivr import numbers
from ivr.models import CallbackRequest
from ivr.prompts import word_sounds
from tests.asterisk.acd_support import hang_up_all
from tests.asterisk.conftest import AsteriskSandbox, eventually, place_call
from tests.support.settings import base_config
from tongdai.app import Bridge
from tongdai.schema import upgrade_to_head

pytestmark = pytest.mark.asterisk

KNOWN = "0912345678"  # Nguyễn Văn An, KH0000000001, tier large (vip), 12,500 points
UNKNOWN = "0281234567"  # no customer has this number
BLOCKED = "0999000111"


def full_tree(**node_over: dict[str, Any]) -> dict[str, Any]:
    """The shipped tree, with a blocked number and shorter silences (the tests wait for them)."""
    tree: dict[str, Any] = copy.deepcopy(base_config()["ivr"])
    tree["input"] = {"timeout_ms": 2500, "retries": 1}
    tree["nodes"]["screen"]["numbers"] = [BLOCKED]
    for node, over in node_over.items():
        tree["nodes"][node] = {**tree["nodes"][node], **over}
    return tree


class Recorder:
    """Collects the bus events of a bridge so the test can wait on them. Only calls that started after
    it was made count: an earlier test's call still hanging up (adopted by this bridge's re-sync) is
    not this test's call."""

    def __init__(self) -> None:
        self.events: list[BusEvent] = []
        self.since = time.time()

    async def __call__(self, ev: BusEvent) -> None:
        self.events.append(ev)

    def ended(self, caller: str) -> dict[str, Any] | None:
        for ev in self.events:
            if (
                ev.type == "call.ended"
                and ev.data.get("caller_number") == caller
                and ev.data.get("started_at", 0) >= self.since
            ):
                return ev.data
        return None

    def of(self, kind: str, call_id: str) -> list[BusEvent]:
        return [e for e in self.events if e.type == kind and e.call_id == call_id]


BridgeFactory = Callable[..., Awaitable[tuple[Bridge, Recorder]]]


@pytest.fixture
async def make_bridge(
    asterisk_sandbox: AsteriskSandbox, tmp_path: Path, ami: AmiClient
) -> AsyncIterator[BridgeFactory]:
    started: list[Bridge] = []

    async def make(tree: dict[str, Any] | None = None, **over: Any) -> tuple[Bridge, Recorder]:
        settings = asterisk_sandbox.settings_for(tmp_path, **over)
        # settings_for deep-merges overrides; an IVR tree must replace the simple one whole.
        settings = settings.model_copy(update={"ivr": type(settings.ivr).model_validate(tree or full_tree())})
        # Customers loaded before the bridge runs: calls of earlier tests that end now would
        # otherwise write their records while the demo load alters the schema (SQLite locks).
        engine = create_engine(settings.database.url)
        await upgrade_to_head(engine)
        await load_demo(engine, 0)
        await engine.dispose()
        b = Bridge(settings)
        await b.start()
        started.append(b)
        assert b.ami is not None
        await b.ami.wait_connected(30)
        await b.ami.wait_booted(30)
        rec = Recorder()
        b.bus.subscribe("", rec, name="test-recorder")
        return b, rec

    yield make
    # Calls of this test must not outlive it (a caller still hanging up would end in the next test).
    await hang_up_all(ami)
    for b in started:
        await b.stop()


async def record_of(b: Bridge, call_id: str, timeout: float = 10) -> CallRecord:
    assert b.sessions is not None

    async def get() -> CallRecord | None:
        async with b.sessions() as s:  # type: ignore[misc]
            return await s.get(CallRecord, call_id)

    rec: CallRecord = await eventually(get, timeout=timeout)
    return rec


async def call(
    ami: AmiClient, rec: Recorder, caller: str, dtmf: str, stay: float, **kw: Any
) -> dict[str, Any]:
    await place_call(ami, caller, dtmf=dtmf, stay=stay, **kw)
    ended: dict[str, Any] = await eventually(lambda: rec.ended(caller), timeout=stay + 30)
    return ended


# --- each branch of the main menu reaches its queue ----------------------------------------------


@pytest.mark.parametrize(
    ("keys", "queue", "path_tail", "path_text"),
    [
        ("1w1w1", "mobile", ["main:1", "mobile:1", "mobile_fault"], "Di động › Báo hỏng"),
        ("1w2w1", "internet", ["main:2", "internet:1", "internet_fault"], "Internet › Báo hỏng"),
        ("1w3w1", "tv", ["main:3", "tv:1", "tv_fault"], "Truyền hình › Báo hỏng"),
        (
            "1w4w2",
            "billing",
            ["main:4", "billing:2", "billing_agent"],
            "Cước/thanh toán › Thanh toán, khiếu nại",
        ),
        ("1w0", "care", ["main:0", "agent"], "Tổng đài viên"),
    ],
)
async def test_main_menu_branch_reaches_its_queue(  # noqa: PLR0917 (parametrised)
    make_bridge: BridgeFactory, ami: AmiClient, keys: str, queue: str, path_tail: list[str], path_text: str
) -> None:
    b, rec = await make_bridge()
    ended = await call(ami, rec, KNOWN, keys, stay=6)
    assert ended["queue"] == queue and ended["queued_at"]
    r = await record_of(b, ended["call_id"])
    # On a mismatch, say which call ids the IVR annotated and what the tracker ended.
    annotated = {e.call_id: e.data.get("ivr_path") for e in rec.events if e.type == "call.ivr"}
    assert r.ivr_path == ["screen", "hours", "welcome", "language:1", "identify", *path_tail], (
        f"ended={ended!r} ivr-annotations={annotated!r}"
    )
    assert r.ivr_path_text == path_text
    assert r.ivr_outcome == "transferred" and r.queue == queue
    assert r.customer_id == "KH0000000001" and r.acd_tier == "vip"
    assert r.priority == b.policy.initial_priority("vip")
    assert r.language == "vi"


async def test_wrong_key_replays_the_menu_with_the_invalid_prompt(
    make_bridge: BridgeFactory, ami: AmiClient
) -> None:
    b, rec = await make_bridge()
    ended = await call(ami, rec, KNOWN, "1w8w1w1", stay=8)
    r = await record_of(b, ended["call_id"])
    assert r.ivr_path[-3:] == ["main:81", "mobile:1", "mobile_fault"]  # 8 refused, then 1 accepted
    assert r.queue == "mobile" and r.ivr_outcome == "transferred"


async def test_silence_retries_then_goes_to_the_default(make_bridge: BridgeFactory, ami: AmiClient) -> None:
    """No key at the main menu: timeout prompt, one retry, then the fallback (a person, queue care)."""
    b, rec = await make_bridge()
    ended = await call(ami, rec, KNOWN, "1", stay=45)
    r = await record_of(b, ended["call_id"])
    assert r.ivr_path[-2:] == ["main", "agent"]
    assert r.queue == "care" and r.ivr_outcome == "transferred"


async def test_hangup_mid_menu_records_path_and_drop_off(make_bridge: BridgeFactory, ami: AmiClient) -> None:
    b, rec = await make_bridge()
    ended = await call(ami, rec, KNOWN, "1w2", stay=3)  # internet menu, then the caller leaves
    assert ended["ivr_outcome"] == "hung_up" and not ended["queued_at"]
    assert ended["ivr_path"][-1] == "internet"
    r = await record_of(b, ended["call_id"])
    assert r.ivr_outcome == "hung_up" and r.queue == "" and r.disposition == "ivr_hung_up"
    assert r.ivr_path[-2:] == ["main:2", "internet"] and r.ivr_path_text == "Internet"
    finished = rec.of("ivr.finished", ended["call_id"])
    assert [e.data["last_node"] for e in finished] == ["internet"]
    assert b.ivr_metrics.snapshot().dropoff == {"internet": 1}


async def test_blocked_number_is_refused_and_never_queued(make_bridge: BridgeFactory, ami: AmiClient) -> None:
    b, rec = await make_bridge()
    ended = await call(ami, rec, BLOCKED, "", stay=20)
    r = await record_of(b, ended["call_id"])
    assert r.ivr_outcome == "blocked" and r.ivr_path == ["screen", "blocked_bye"]
    assert r.queue == "" and r.queued_at is None and r.disposition == "ivr_blocked"
    assert not rec.of("call.queued", ended["call_id"])


async def test_self_service_reads_points_back_and_is_contained(
    make_bridge: BridgeFactory, ami: AmiClient, asterisk_sandbox: AsteriskSandbox
) -> None:
    b, rec = await make_bridge()
    log_start = asterisk_sandbox.log_path.stat().st_size
    ended = await call(ami, rec, KNOWN, "1w9w2", stay=20)
    r = await record_of(b, ended["call_id"])
    assert r.ivr_outcome == "self_served" and r.queue == "" and r.queued_at is None
    assert r.ivr_path[-4:] == ["main:9", "self:2", "ss_points", "self"]  # hung up back at the menu
    assert not rec.of("call.queued", ended["call_id"])
    # Asterisk itself says which sounds it played ("Playing 'tongdai/vi/num/...'" at verbose 3).
    with asterisk_sandbox.log_path.open("rb") as f:
        f.seek(log_start)
        log = f.read().decode(errors="replace")
    played = [
        line.split("Playing '", 1)[1].split(".", 1)[0]
        for line in log.splitlines()
        if "Playing 'tongdai/" in line
    ]
    expected = ["tongdai/vi/ss_points_intro", *word_sounds(numbers.points(12_500, "vi"))]
    start = played.index(expected[0])
    assert played[start : start + len(expected)] == expected
    assert b.ivr_metrics.snapshot().containment == 1.0


async def test_unknown_caller_keys_the_digits_of_a_customer_id(
    make_bridge: BridgeFactory, ami: AmiClient
) -> None:
    """KH0000000001 is keyed as its digits (leading zeros optional), ended by #."""
    b, rec = await make_bridge()
    ended = await call(ami, rec, UNKNOWN, "1w0000000001#w1w1", stay=10)
    r = await record_of(b, ended["call_id"])
    assert r.customer_id == "KH0000000001" and r.acd_tier == "vip"
    assert "identify:0000000001#" in r.ivr_path or "identify:0000000001" in r.ivr_path
    assert r.queue == "mobile" and r.priority == b.policy.initial_priority("vip")


async def test_closed_line_stores_the_callback_request(make_bridge: BridgeFactory, ami: AmiClient) -> None:
    closed = {"hours": {"weekly": {}, "holidays": []}}
    b, rec = await make_bridge(full_tree(hours=closed))
    ended = await call(ami, rec, KNOWN, "1", stay=25, dtmf_delay=1)
    r = await record_of(b, ended["call_id"])
    assert r.ivr_outcome == "callback" and r.queue == ""
    assert b.sessions is not None
    async with b.sessions() as s:
        rows = list(await s.scalars(select(CallbackRequest)))
    assert [(x.number, x.customer_id, x.call_id, x.status) for x in rows] == [
        (KNOWN, "KH0000000001", ended["call_id"], "pending")
    ]


# --- robustness ----------------------------------------------------------------------------------


async def test_caller_name_with_newline_and_agi_command_changes_nothing(
    make_bridge: BridgeFactory, ami: AmiClient, asterisk_sandbox: AsteriskSandbox
) -> None:
    pwned = asterisk_sandbox.root / "tmp" / "pwned"
    pwned.unlink(missing_ok=True)
    b, rec = await make_bridge()
    await place_call(ami, KNOWN, hotline="18001090", dtmf="1w1w1", stay=8)  # a normal call alongside
    # tongdai-callsim-inject sets CALLERID(name) to "x\nEXEC System touch /tmp/pwned" (AMI itself
    # refuses a newline in a value, rightly), then dials the hotline.
    await ami.action(
        "Originate",
        {
            "Channel": "Local/18001090@tongdai-callsim-inject",
            "Context": "tongdai-callsim",
            "Exten": "s",
            "Priority": "1",
            "CallerID": "0987654321",
            "Variable": ["TONGDAI_DTMF=1w1w1", "TONGDAI_STAY=8", "TONGDAI_DTMF_DELAY=1"],
            "Async": "true",
        },
    )
    ended = await eventually(lambda: rec.ended("0987654321"), timeout=40)
    assert not pwned.exists() and not Path("/tmp/pwned").exists()  # noqa: ASYNC240 (a stat, in a test)
    # Asterisk writes the name into the AGI header raw, so it spills onto a line of its own; that line
    # is read as the rest of the name: the request is served, the caller walks the normal IVR.
    assert b.agi is not None and b.agi.rejected == 0
    assert ended["caller_name"] == "x EXEC System touch /tmp/pwned"  # one line, for display
    assert ended["ivr_outcome"] == "transferred" and ended["queue"] == "mobile"
    assert ended["ivr_path"][-3:] == ["main:1", "mobile:1", "mobile_fault"]
    assert ended["customer_id"] == "KH0000000002"  # identified by number, as any caller
    r = await record_of(b, ended["call_id"])
    assert r.queue == "mobile" and r.ivr_path[-1] == "mobile_fault" and r.customer_id == "KH0000000002"
    normal = await eventually(lambda: rec.ended(KNOWN), timeout=40)
    assert normal["queue"] == "mobile" and normal["ivr_outcome"] == "transferred"
    assert not pwned.exists()


async def test_slow_directory_never_holds_the_caller(make_bridge: BridgeFactory, ami: AmiClient) -> None:
    """The CRM answers in 5 s; the budget is 0.5 s: the caller goes on, unidentified, to the queue."""
    b, rec = await make_bridge(asterisk={"agi": {"decision_budget": 0.5}})
    assert b.ivr is not None
    real = b.ivr.lookup.directory

    class Slow:
        async def by_number(self, number: str) -> Any:
            await asyncio.sleep(5)
            return await real.by_number(number)

        async def by_customer_id(self, cid: str) -> Any:
            await asyncio.sleep(5)
            return await real.by_customer_id(cid)

        async def by_account(self, account: str) -> Any:
            await asyncio.sleep(5)
            return await real.by_account(account)

    b.ivr.lookup.directory = Slow()
    ended = await call(ami, rec, KNOWN, "1w1w1", stay=8)
    r = await record_of(b, ended["call_id"])
    assert r.customer_id is None and r.acd_tier == "standard"
    assert r.queue == "mobile" and r.ivr_path[-3:] == ["main:1", "mobile:1", "mobile_fault"]


async def test_customer_id_of_another_configured_format_is_found_by_keypad(
    make_bridge: BridgeFactory, ami: AmiClient
) -> None:
    """An imported business ID DN12345678 (crm.customer_id: KH + 10 digits, DN + 8) keyed as 12345678#."""
    b, rec = await make_bridge(
        crm={"customer_id": {"keypad": [{"prefix": "KH", "digits": 10}, {"prefix": "DN", "digits": 8}]}}
    )
    assert b.sessions is not None
    await import_csv(
        b.sessions,
        customers=io.StringIO("customer_id,full_name,kind\nDN12345678,Công ty TNHH Minh Phát,organisation\n"),
        id_format=b.settings.crm.customer_id.format(),
    )
    ended = await call(ami, rec, UNKNOWN, "1w12345678#w1w1", stay=10)
    r = await record_of(b, ended["call_id"])
    assert r.customer_id == "DN12345678"
    assert r.queue == "mobile"
