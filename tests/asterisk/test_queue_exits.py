"""Queue exits on the real Asterisk: no caller is hung up on for waiting too long (acd/exits.py).

A caller past the maximum wait of ``tv`` (no agent logged in there) either overflows to ``care``,
where a simulated agent answers, with the wait counted from ``tv`` and the priority that wait earned,
or hears the callback offer and keys 1, which stores a worklist row that keeps their place.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from acd.exits import ExitsConfig
from core.ami import AmiClient
from core.db import create_engine
from crm_bridge.demo_data import load_demo
from ivr import numbers
from ivr.models import CallbackRequest
from ivr.prompts import word_sounds
from tests.asterisk.acd_support import clear_queue, hang_up_all
from tests.asterisk.conftest import VOICEMAIL_BOX, AsteriskSandbox, eventually, place_call
from tests.asterisk.test_ivr_menus import Recorder, record_of
from tests.support.desktop import login, next_frame
from tests.support.settings import TEST_QUEUES
from tongdai.app import Bridge
from tongdai.schema import upgrade_to_head

pytestmark = pytest.mark.asterisk

STANDARD = "0333333333"  # Lê Văn Cường: ACD tier standard (entry priority 10, 60 s target)
WAIT = 6  # seconds in tv before its exit


def exit_settings(rule: dict[str, Any]) -> dict[str, Any]:
    queues = copy.deepcopy(TEST_QUEUES)
    for q in queues:
        if q["name"] == "tv":
            q["members"] = []  # nobody answers tv: every caller reaches its exit
    return {
        "queues": queues,
        "ivr": {
            "default_language": "vi",
            "languages": ["vi", "en"],
            "entry": "tv",
            "fallback": "tv",
            "nodes": {"tv": {"type": "transfer", "queue": "tv", "label": "Truyền hình"}},
        },
        "queue_exits": {"queues": {"tv": {"exit": {**rule, "after_seconds": WAIT}}}},
        "announcements": {"enabled": False},
    }


Factory = Callable[[dict[str, Any]], Awaitable[tuple[Bridge, Recorder]]]


@pytest.fixture
async def make_bridge(
    asterisk_sandbox: AsteriskSandbox, tmp_path: Path, ami: AmiClient
) -> AsyncIterator[Factory]:
    started: list[Bridge] = []

    async def make(over: dict[str, Any]) -> tuple[Bridge, Recorder]:
        merged = {k: v for k, v in over.items() if k != "queue_exits"}
        settings = asterisk_sandbox.settings_for(tmp_path, **merged)
        # The IVR tree and the exits replace the shipped ones whole (settings_for deep-merges).
        exits = ExitsConfig.model_validate(over["queue_exits"])
        settings = settings.model_copy(
            update={"ivr": type(settings.ivr).model_validate(over["ivr"]), "queue_exits": exits}
        )
        engine = create_engine(settings.database.url)
        await upgrade_to_head(engine)
        await load_demo(engine, 0)
        await engine.dispose()
        await clear_queue(ami, "tv")  # membership outlives earlier tests' bridges
        b = Bridge(settings)
        await b.start()
        started.append(b)
        assert b.ami is not None
        await b.ami.wait_connected(30)
        await b.ami.wait_booted(30)
        await b.agents.ready(30)
        rec = Recorder()
        b.bus.subscribe("", rec, name="test-recorder")
        return b, rec

    yield make
    await hang_up_all(ami)
    for b in started:
        await b.stop()


async def test_caller_past_max_wait_overflows_with_wait_and_priority_kept(
    make_bridge: Factory, ami: AmiClient
) -> None:
    b, rec = await make_bridge(exit_settings({"action": "overflow", "to": "care"}))
    await place_call(ami, STANDARD, stay=WAIT + 12)
    ended: dict[str, Any] = await eventually(lambda: rec.ended(STANDARD), timeout=WAIT + 60)
    queued = [e.data["queue"] for e in rec.of("call.queued", ended["call_id"])]
    assert queued == ["tv", "care"]
    overflowed = rec.of("call.overflowed", ended["call_id"])
    assert [(e.data["from_queue"], e.data["queue"]) for e in overflowed] == [("tv", "care")]
    r = await record_of(b, ended["call_id"], timeout=15)
    # Answered in care by its simulated agent; the wait runs from tv, not from care.
    assert r.queue == "care" and r.agent_id == "1003" and r.answered_at is not None
    assert r.wait_seconds is not None and r.wait_seconds >= WAIT
    assert r.ivr_outcome == "overflow" and "overflow:tv" in r.ivr_path
    assert r.disposition == "answered"
    # care was entered with the priority the wait in tv had earned (standard: 10 + 16 per 60 s).
    prio = overflowed[0].data["priority"]
    assert r.priority == prio
    assert (
        b.policy.effective_priority("standard", WAIT)
        <= prio
        <= b.policy.effective_priority("standard", WAIT + 30)
    )


async def test_caller_takes_the_callback_offer_by_dtmf(make_bridge: Factory, ami: AmiClient) -> None:
    b, rec = await make_bridge(exit_settings({"action": "callback"}))
    # The caller keys 1 repeatedly from just after the exit until well into the offer's two plays.
    await place_call(ami, STANDARD, dtmf="1ww" * 12, dtmf_delay=WAIT + 1, stay=60)
    ended: dict[str, Any] = await eventually(lambda: rec.ended(STANDARD), timeout=WAIT + 90)
    r = await record_of(b, ended["call_id"], timeout=15)
    assert r.disposition == "exit_callback" and "exit:callback" in r.ivr_path
    assert r.answered_at is None
    assert b.sessions is not None
    async with b.sessions() as s:
        rows = list(await s.scalars(select(CallbackRequest)))
    assert [(x.number, x.call_id, x.queue, x.acd_tier, x.status) for x in rows] == [
        (STANDARD, ended["call_id"], "tv", "standard", "pending")
    ]
    # The worklist row keeps the caller's place: the priority their wait had earned, not the entry one.
    assert rows[0].priority >= b.policy.effective_priority("standard", WAIT)


async def test_caller_leaves_a_voicemail_at_the_exit(
    make_bridge: Factory, ami: AmiClient, asterisk_sandbox: AsteriskSandbox
) -> None:
    inbox = asterisk_sandbox.root / f"var/spool/asterisk/voicemail/tongdai/{VOICEMAIL_BOX}/INBOX"
    for old in inbox.glob("msg*"):
        old.unlink()
    b, rec = await make_bridge(exit_settings({"action": "voicemail", "mailbox": VOICEMAIL_BOX}))
    # The caller speaks (the main menu prompt, three times over) from before the beep until it hangs up.
    speech = "&".join(["tongdai/vi/main_menu"] * 3)
    await place_call(
        ami, STANDARD, stay=35, variables={"TONGDAI_PLAY": speech, "TONGDAI_PLAY_DELAY": str(WAIT + 2)}
    )
    ended: dict[str, Any] = await eventually(lambda: rec.ended(STANDARD), timeout=120)
    r = await record_of(b, ended["call_id"], timeout=15)
    assert r.disposition == "exit_voicemail" and "exit:voicemail" in r.ivr_path
    # The recording proves it: Asterisk stored the message (with its metadata naming the caller).
    msgs = await eventually(lambda: sorted(inbox.glob("msg*.wav")), timeout=15)
    assert msgs[0].stat().st_size > 8000  # more than half a second of 8 kHz 16-bit audio
    meta = msgs[0].with_suffix(".txt").read_text(errors="replace")
    assert STANDARD in meta


def page_csrf(html: str) -> str:
    return html.split('data-csrf="', 1)[1].split('"', 1)[0]


UNKNOWN = "0281234567"  # no customer: served as the lowest tier (standard)


def played_sounds(sandbox: AsteriskSandbox, since: int) -> dict[str, list[str]]:
    """Sounds Asterisk played since byte ``since`` of messages.log ("<chan> Playing 'tongdai/…'"), per
    channel: two announcements may play at once and their lines interleave."""
    with sandbox.log_path.open("rb") as f:
        f.seek(since)
        log = f.read().decode(errors="replace")
    out: dict[str, list[str]] = {}
    for line in log.splitlines():
        if "> Playing 'tongdai/" in line:
            chan = line.split("<", 1)[1].split(">", 1)[0]
            out.setdefault(chan, []).append(line.split("Playing '", 1)[1].split(".", 1)[0])
    return out


async def test_waiting_callers_hear_their_position_and_expected_wait(
    make_bridge: Factory, ami: AmiClient, asterisk_sandbox: AsteriskSandbox
) -> None:
    over = exit_settings({"action": "callback"})
    over["queue_exits"]["queues"]["tv"]["exit"]["after_seconds"] = 120  # nobody leaves during the test
    over["announcements"] = {
        "enabled": True,
        "first_after_seconds": 5,
        "interval_seconds": 600,
        "default_aht_seconds": 150,
    }
    b, _ = await make_bridge(over)
    assert b.ivr_component is not None and b.ivr_component.announcer is not None
    announcer = b.ivr_component.announcer

    async def two_agents(queue: str) -> int:  # two agents serving tv, all busy (nobody logged in)
        return 2

    announcer.agents_serving = two_agents
    log_start = asterisk_sandbox.log_path.stat().st_size
    await place_call(ami, STANDARD, stay=40)
    await eventually(lambda: [c for c in b.tracker.calls.values() if c.queue_channel], timeout=20)
    await place_call(ami, UNKNOWN, stay=40)

    def both_heard() -> bool:
        played = played_sounds(asterisk_sandbox, log_start).values()
        return all(any(p == s for p in played) for s in expected)

    # Position 1: 1 × 150 / 2 = 75 s → "about 2 minutes"; position 2: 150 s → 3 minutes.
    expected = [sentence_of(1, 2), sentence_of(2, 3)]
    await eventually(both_heard, timeout=40)
    assert announcer.announced == 2


def sentence_of(position: int, minutes: int) -> list[str]:
    return [
        "tongdai/vi/queue_position",
        *word_sounds(numbers.number(position, "vi")),
        "tongdai/vi/queue_position_end",
        "tongdai/vi/queue_expected_wait",
        *word_sounds(numbers.number(minutes, "vi")),
        "tongdai/vi/queue_minutes",
    ]


async def test_a_called_back_customer_past_max_wait_overflows_not_hung_up(
    make_bridge: Factory, ami: AmiClient
) -> None:
    # The callback dialler's Originate (ivr/callback_ami.py), the customer answering at once.
    b, rec = await make_bridge(exit_settings({"action": "overflow", "to": "care"}))
    await ami.action(
        "Originate",
        {
            "Channel": f"Local/{STANDARD}@tongdai-simcustomer/n",
            "Context": "tongdai-callback",
            "Exten": "s",
            "Priority": "1",
            "CallerID": STANDARD,
            "Async": "true",
            "Variable": [
                "TONGDAI_QUEUE=tv",
                f"TONGDAI_MAXWAIT={WAIT}",
                "TONGDAI_TIER=standard",
                "TONGDAI_PRIO=10",
                f"TONGDAI_CB_NUMBER={STANDARD}",
                "TONGDAI_SIM_TALK=" + str(WAIT + 12),
            ],
        },
    )
    ended: dict[str, Any] = await eventually(lambda: rec.ended(STANDARD), timeout=WAIT + 60)
    queued = [e.data["queue"] for e in rec.of("call.queued", ended["call_id"])]
    assert queued == ["tv", "care"]
    r = await record_of(b, ended["call_id"], timeout=15)
    assert r.queue == "care" and r.agent_id == "1003" and r.answered_at is not None


async def test_a_blind_transfer_past_the_target_queues_max_wait_overflows_not_hung_up(
    make_bridge: Factory, ami: AmiClient
) -> None:
    over = exit_settings({"action": "overflow", "to": "care"})
    nodes = {"care": {"type": "transfer", "queue": "care", "label": "Tổng đài viên"}}
    over["ivr"] = {**over["ivr"], "entry": "care", "fallback": "care", "nodes": nodes}
    b, rec = await make_bridge(over)
    base = f"http://127.0.0.1:{b.web_port}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await login(http, base, "1003", "demo-1003")
        async with http.get(f"{base}/") as page:
            csrf = page_csrf(await page.text())
        async with http.ws_connect(f"{base}/ws", origin=base) as ws:
            await next_frame(ws, "hello")
            await place_call(ami, STANDARD, stay=WAIT + 12)
            pop = await next_frame(ws, "pop")
            await next_frame(ws, "answered")
            # To tv, where nobody answers: its exit (overflow to care) after tv's wait, not a hang-up.
            async with http.post(
                f"{base}/api/calls/{pop['call_id']}/transfer",
                json={"target": "tv", "mode": "blind"},
                headers={"X-CSRF-Token": csrf},
            ) as r:
                assert r.status == 200, await r.text()
            ended: dict[str, Any] = await eventually(lambda: rec.ended(STANDARD), timeout=WAIT + 60)
    queued = [e.data["queue"] for e in rec.of("call.queued", ended["call_id"])]
    assert queued == ["care", "tv", "care"]
    overflowed = rec.of("call.overflowed", ended["call_id"])
    assert [(e.data["from_queue"], e.data["queue"]) for e in overflowed] == [("tv", "care")]
