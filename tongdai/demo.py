"""``tongdai demo``: the sandbox Asterisk, the bridge on SQLite, demo customers and a few simulated
callers walking the IVR, so a new user sees a screen pop within a minute of set-up."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, select

from asterisk_conf.component import SANDBOX
from asterisk_conf.render import write_all
from core.bus import BusEvent
from crm_bridge.demo_data import DEMO_CUSTOMERS, load_demo
from crm_bridge.models import Customer
from ivr.prompts import generate_prompts
from tongdai.app import Node
from tongdai.settings import Settings, load_config

log = logging.getLogger(__name__)

# Keys each simulated caller presses: 1 = Vietnamese, then the main menu, then the sub-menu.
SCRIPTS = ["1w1w1", "1w2w1", "1w4w2", "1w0", "1w1w2"]


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def national(e164: str) -> str:
    return "0" + e164[3:] if e164.startswith("+84") else e164


SIP_CALLER = SANDBOX.parent.parent / "scripts" / "sip_caller.sh"


async def _sip_carrier_call(settings: Settings, caller_e164: str) -> bool:
    """One real SIP call among the demo's: SIPp as the demo carrier (127.0.0.2) calls the hotline's DID
    with G.711 audio and RFC 4733 keys. Runs in the background; False when SIPp or the script (a
    checkout's scripts/) is not here."""
    if not SIP_CALLER.is_file() or shutil.which("sipp") is None:
        say("(no SIPp here: the demo's SIP carrier call is skipped)")
        return False
    did = "+84" + settings.hotline.numbers[0]
    target = f"127.0.0.1:{settings.asterisk.sip.port}"
    say(f"SIP call: the demo carrier calls {did} from {caller_e164} (SIPp, RFC 4733 keys 1 then 2)")
    log_path = settings.node.data_dir / "sip-caller.log"  # SIPp is chatty: its output goes here
    with log_path.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            str(SIP_CALLER), caller_e164, did, target, stdout=out, stderr=out
        )
    _BACKGROUND.add(asyncio.get_running_loop().create_task(proc.wait()))
    return True


_BACKGROUND: set[asyncio.Task[int]] = set()


async def _on_sandbox(settings: Settings) -> Settings:
    """The sandbox's recordings and CDR file, as seen from outside its chroot."""
    root = Path(
        (
            await asyncio.to_thread(
                subprocess.run, [str(SANDBOX), "root"], capture_output=True, text=True, check=True
            )
        ).stdout.strip()
    )
    return settings.model_copy(
        update={
            "recordings": settings.recordings.model_copy(update={"dir": root / "var/spool/asterisk/monitor"}),
            "cdr": settings.cdr.model_copy(
                update={"csv_path": root / "var/log/asterisk/cdr-custom/tongdai.csv"}
            ),
        }
    )


DEMO_PORTAL_SECRET = "demo-portal-secret-for-the-chat-widget-only"


def _with_webchat(settings: Settings) -> Settings:
    """Web chat on, for the desktop's own origin too, so /chat/demo shows the widget (docs/webchat.md)."""
    wc = settings.webchat
    if not wc.queues:
        return settings
    port = settings.web.port
    own = [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
    update: dict[str, Any] = {"enabled": True, "allowed_origins": [*wc.allowed_origins, *own]}
    if wc.portal_secret is None:
        update["portal_secret"] = SecretStr(DEMO_PORTAL_SECRET)
    return settings.model_copy(update={"webchat": wc.model_copy(update=update)})


def _say_channels(settings: Settings, url: str) -> None:
    hotline, ami_port = settings.hotline.numbers[0], settings.asterisk.ami.port
    say(f"  hotline {hotline} on the sandbox Asterisk; AMI {ami_port}")
    if settings.webchat.enabled:
        say(f"  web chat on a demo shop page: {url}chat/demo (the customer types a phone number),")
        say(f"  {url}chat/demo?customer=KH0000000002 (a gold customer logged in to the portal)")


async def run_demo(
    config_path: str, *, calls: int = 3, keep_running: bool = True, customers: int = 2000
) -> None:
    # `tongdai demo` is demo mode: the shipped secrets are accepted, on loopback only (startup_checks).
    settings = _with_webchat((await _on_sandbox(load_config(config_path))).model_copy(update={"demo": True}))
    data = settings.node.data_dir
    conf, sounds = data / "asterisk-conf", data / "sounds"
    write_all(settings, conf)
    generate_prompts(settings.ivr, sounds)
    await asyncio.to_thread(subprocess.run, [str(SANDBOX), "restart", str(conf), str(sounds)], check=True)

    bridge = Node(settings)
    await bridge.start()
    try:
        assert bridge.ami is not None and bridge.engine is not None and bridge.sessions is not None
        await bridge.ami.wait_connected(60)
        await bridge.ami.wait_booted(60)
        async with bridge.sessions() as s:
            have = await s.scalar(select(func.count()).select_from(Customer))
        if not have:
            n = await load_demo(bridge.engine, customers)
            say(f"loaded {n} demo customers")

        ended: asyncio.Queue[BusEvent] = asyncio.Queue()

        async def show(ev: BusEvent) -> None:
            d = ev.data
            if ev.type == "call.ringing":
                say(
                    f"  ☎  {d.get('caller_number')} → queue {d.get('queue')} ({d.get('acd_tier') or '?'}),"
                    f" ringing agent {d.get('ringing_agent')}: screen pop sent"
                    f" [{d.get('ivr_path_text')}]"
                )
            elif ev.type == "call.ended":
                who = d.get("customer_id") or "unidentified"
                say(f"  ✔  {d.get('caller_number')} ended: {d.get('disposition')}, customer {who}")
                await ended.put(ev)

        bridge.bus.subscribe("call.", show, name="demo-printer")
        url = f"http://{settings.web.host}:{bridge.web_port}/"
        say("")
        say(f"tongdai is running. Agent desktop: {url}")
        say("  log in as 1001 / demo-1001 (agent), 9000 / demo-9000 (supervisor)")
        _say_channels(settings, url)
        say("")
        for i in range(calls):
            c = DEMO_CUSTOMERS[i % len(DEMO_CUSTOMERS)]
            keys = SCRIPTS[i % len(SCRIPTS)]
            say(
                f"simulated call {i + 1}: {c.name} from {national(c.number)} presses {keys.replace('w', ' ')}"
            )
            await bridge.ami.action(
                "Originate",
                {
                    "Channel": f"Local/{settings.hotline.numbers[0]}@tongdai-hotline",
                    "Context": "tongdai-callsim",
                    "Exten": "s",
                    "Priority": "1",
                    "CallerID": national(c.number),
                    "Variable": [f"TONGDAI_DTMF={keys}", "TONGDAI_STAY=20", "TONGDAI_DTMF_DELAY=4"],
                    "Async": "true",
                },
            )
            await asyncio.sleep(2)
        sip_calls = 1 if await _sip_carrier_call(settings, DEMO_CUSTOMERS[0].number) else 0
        if not keep_running:
            for _ in range(calls + sip_calls):
                async with asyncio.timeout(120):
                    await ended.get()
            return
        say("Ctrl-C to stop.")
        await asyncio.Event().wait()
    finally:
        await bridge.stop()
        if not keep_running:
            await asyncio.to_thread(subprocess.run, [str(SANDBOX), "stop"], check=False)
