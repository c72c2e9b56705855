"""``tongdai demo``: the sandbox Asterisk, the bridge on SQLite, demo customers and a few simulated
callers walking the IVR, so a new user sees a screen pop within a minute of set-up."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from asterisk_conf.component import SANDBOX
from asterisk_conf.render import write_all
from core.bus import BusEvent
from crm_bridge.demo_data import DEMO_CUSTOMERS, load_demo
from crm_bridge.models import Customer
from ivr.prompts import generate_prompts
from tongdai.app import Node
from tongdai.settings import load_config

log = logging.getLogger(__name__)

# Keys each simulated caller presses: 1 = Vietnamese, then the main menu, then the sub-menu.
SCRIPTS = ["1w1w1", "1w2w1", "1w4w2", "1w0", "1w1w2"]


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def national(e164: str) -> str:
    return "0" + e164[3:] if e164.startswith("+84") else e164


async def run_demo(
    config_path: str, *, calls: int = 3, keep_running: bool = True, customers: int = 2000
) -> None:
    settings = load_config(config_path)
    # The sandbox's recordings and CDR file, as seen from outside its chroot.
    root = Path(
        (
            await asyncio.to_thread(
                subprocess.run, [str(SANDBOX), "root"], capture_output=True, text=True, check=True
            )
        ).stdout.strip()
    )
    settings = settings.model_copy(
        update={
            "recordings": settings.recordings.model_copy(update={"dir": root / "var/spool/asterisk/monitor"}),
            "cdr": settings.cdr.model_copy(
                update={"csv_path": root / "var/log/asterisk/cdr-custom/tongdai.csv"}
            ),
        }
    )
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
        hotline, ami_port = settings.hotline.numbers[0], settings.asterisk.ami.port
        say(f"  hotline {hotline} on the sandbox Asterisk; AMI {ami_port}")
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
        if not keep_running:
            for _ in range(calls):
                await asyncio.wait_for(ended.get(), 120)
            return
        say("Ctrl-C to stop.")
        await asyncio.Event().wait()
    finally:
        await bridge.stop()
        if not keep_running:
            await asyncio.to_thread(subprocess.run, [str(SANDBOX), "stop"], check=False)
