"""End-to-end SIP load: SIPp carrier calls → IVR with RFC 4733 DTMF → queue → SIPp agent phones.

Everything real, on loopback: the sandbox's Asterisk (``TONGDAI_SANDBOX``, default /var/tmp/tdast),
the bridge in its own process (``tongdai serve`` on SQLite with the demo customers), the agents'
desktop websockets in a third process, SIPp for the carrier (calls from 127.0.0.2 to the DID
+8418001090, keys 1 and 2, ~1 s of talk: tests/sip/scenarios/bench_caller.xml) and for the agents'
desk phones (one SIPp registers every agent, answers after 0.2 s and echoes RTP).

Figures, per rate (10, 20, 50 new calls/s for ``--seconds``, default 60):
- calls attempted / completed (answered by an agent, hung up cleanly) / failed (SIPp's count);
- pop latency p50/p99/max: Asterisk's own AgentCalled ``Timestamp`` (``timestampevents = yes``)
  to the pop frame's arrival at the agent's websocket (same host clock);
- FastAGI decision p99: on Asterisk's clock, AGIExecEnd of one AGI command → AGIExecStart of the
  next on the same channel (the bridge's think time between commands, prompts excluded);
- AMI event lag p50/p99: event ``Timestamp`` → arrival at a second AMI reader in this process;
- CPU per call (ms) of Asterisk and of the bridge, from /proc (utime + stime) over the phase.

    .venv/bin/python bench/bench_sip_load.py                      # 10, 20, 50 calls/s × 60 s
    .venv/bin/python bench/bench_sip_load.py --rates 10 --seconds 20
Needs root (the sandbox chroot) and sipp. Prints its figures; it is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import logging
import os
import secrets
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asterisk_conf.render import write_all
from core.ami import AmiClient, AmiEvent
from ivr.prompts import generate_prompts
from tests.support.settings import REPO, base_config, free_port, make_settings
from tests.support.sip import CARRIER_IP, DID, PHONE_IP, SCENARIOS, free_udp_port, sip_trunks

SANDBOX = REPO / "asterisk_conf" / "sandbox.sh"
BENCH_USER, BENCH_SECRET = "bench", "bench-ami-" + secrets.token_hex(8)
QUEUE = "benchq"
IVR: dict[str, Any] = {
    "default_language": "vi",
    "languages": ["vi", "en"],
    "entry": "main",
    "fallback": "agent",
    "input": {"timeout_ms": 4000, "retries": 1},
    "nodes": {
        "main": {"type": "menu", "prompt": "main_menu", "options": {"1": "sub", "2": "agent"}},
        "sub": {"type": "menu", "prompt": "mobile_menu", "options": {"2": "to_q", "1": "agent"}},
        "to_q": {"type": "transfer", "queue": QUEUE, "label": "Bench"},
        "agent": {"type": "transfer", "queue": QUEUE, "label": "Bench"},
    },
}
EVENTS = ("FullyBooted", "AgentCalled", "AgentConnect", "AGIExecStart", "AGIExecEnd", "QueueCallerAbandon")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def overrides(
    tmp: Path,
    agents: list[str],
    *,
    web_port: int,
    agi_port: int,
    ami_port: int,
    sip_port: int,
    max_channels: int = 5000,
) -> dict[str, Any]:
    demo_hash = base_config()["agents"][0]["password_hash"]
    trunks = sip_trunks()
    # The carrier trunk's channel limit (GROUP_COUNT) must not be what the bench measures.
    trunks["carriers"][0]["max_channels"] = max_channels
    return {
        "node": {"name": "bench-sip", "data_dir": str(tmp / "var")},
        "asterisk": {
            "system_name": "tdbench",
            "ami": {"secret": "bench-bridge-secret-x", "port": ami_port},
            "agi": {"port": agi_port},
            "sip": {"port": sip_port},
        },
        "database": {"url": f"sqlite+aiosqlite:///{tmp / 'bench.db'}"},
        "web": {"port": web_port, "allowed_origins": [f"http://127.0.0.1:{web_port}"]},
        "queues": [
            *base_config()["queues"],
            {
                "name": QUEUE,
                "label": "Bench",
                "wrapup": 0,
                "ring_timeout": 15,
                "members": [{"agent": a} for a in agents],
            },
        ],
        "agents": [
            *base_config()["agents"],
            *(
                {
                    "id": a,
                    "name": f"Agent {a}",
                    "phone": "pjsip",
                    # Letters only: a random digit run could contain the agent id (refused as weak).
                    "sip_secret": "bench-" + "".join(secrets.choice(string.ascii_letters) for _ in range(16)),
                    "auto_login": True,
                    "password_hash": demo_hash,
                }
                for a in agents
            ),
        ],
        "ivr": IVR,
        "trunks": trunks,
        "recordings": {"dir": str(sandbox_root() / "var/spool/asterisk/monitor")},
        "cdr": {"csv_path": str(sandbox_root() / "var/log/asterisk/cdr-custom/tongdai.csv")},
    }


def sandbox_root() -> Path:
    return Path(
        subprocess.run([str(SANDBOX), "root"], capture_output=True, text=True, check=True).stdout.strip()
    )


def asterisk_pid() -> int:
    return int((sandbox_root() / "run/asterisk/asterisk.pid").read_text().strip())


# --- the agents' browsers (their own process) -----------------------------------------------------


async def agents_process(base: str, agents: list[str]) -> None:
    got: list[tuple[str, str, float]] = []
    clients: list[tuple[aiohttp.ClientSession, asyncio.Task[None]]] = []

    async def one(agent: str) -> None:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with http.get(f"{base}/login") as r:
            html = await r.text()
        csrf = html.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        form = {"csrf": csrf, "agent": agent, "password": "demo-1001"}
        async with http.post(f"{base}/login", data=form, allow_redirects=False) as r:
            assert r.status == 302, await r.text()
        ws = await http.ws_connect(f"{base}/ws", origin=base)
        ready = asyncio.Event()

        async def read() -> None:
            async for msg in ws:
                f = json.loads(msg.data)
                if f["type"] == "hello":
                    ready.set()
                elif f["type"] == "pop":
                    got.append((f["call_id"], f.get("agent_id", ""), time.time()))

        clients.append((http, asyncio.create_task(read())))
        await ready.wait()

    for a in agents:  # sequential: password verification is deliberately slow
        await one(a)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    print(json.dumps(got), flush=True)
    for http, task in clients:
        task.cancel()
        await http.close()


# --- the bridge (its own process) ----------------------------------------------------------------


def bridge_process(over_path: str) -> None:
    from tongdai.app import serve

    over = json.loads(Path(over_path).read_text())
    settings = make_settings(**over)
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings))


# --- the run -------------------------------------------------------------------------------------


class AmiWatch:
    """The bench's own AMI reader: AgentCalled timestamps, answered calls, AGI think time, event lag."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.called: dict[tuple[str, str], float] = {}
        self.connected: set[str] = set()
        self.abandoned = 0
        self.lag: list[float] = []
        self.think: list[float] = []
        self._agi_end: dict[str, float] = {}

    async def handle(self, ev: AmiEvent) -> None:
        ts_text = ev.get("Timestamp")
        if not ts_text:
            return
        ts = float(ts_text)
        self.lag.append(time.time() - ts)
        if ev.name == "AgentCalled":
            agent = ev.get("Interface").removeprefix("PJSIP/")
            self.called.setdefault((ev.get("Linkedid"), agent), ts)
        elif ev.name == "AgentConnect":
            self.connected.add(ev.get("Linkedid"))
        elif ev.name == "QueueCallerAbandon":
            self.abandoned += 1
        elif ev.name == "AGIExecEnd":
            self._agi_end[ev.get("Uniqueid")] = ts
        elif ev.name == "AGIExecStart":
            end = self._agi_end.pop(ev.get("Uniqueid"), None)
            if end is not None:
                self.think.append(ts - end)


def add_bench_ami_user(conf: Path) -> None:
    """A second AMI user for the bench (read call/agent/agi, filtered), appended to manager.conf."""
    lines = [
        "",
        f"[{BENCH_USER}]",
        f"secret = {BENCH_SECRET}",
        "deny = 0.0.0.0/0.0.0.0",
        "permit = 127.0.0.1/255.255.255.255",
        "read = system,call,agent,agi",
        *(f"eventfilter(action(include),name({e})) =" for e in EVENTS),
        "",
    ]
    with open(conf / "manager.conf", "a", encoding="utf-8") as f:
        f.write("\n".join(lines))


def phones_inf(path: Path, agents: list[str], secret_of: dict[str, str]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("SEQUENTIAL\n")
        for a in agents:
            # The whole keyword in the field: SIPp 3.6.1 mangles [field1] nested inside [authentication …].
            f.write(f"{a};[authentication username={a} password={secret_of[a]}]\n")


async def register_phones(
    target: str, work: Path, agents: list[str], secret_of: dict[str, str]
) -> asyncio.subprocess.Process:
    inf = work / "phones.csv"
    phones_inf(inf, agents, secret_of)
    port, media = free_udp_port(PHONE_IP), free_udp_port(PHONE_IP)
    return await asyncio.create_subprocess_exec(
        "sipp",
        target,
        "-sf",
        str(SCENARIOS / "bench_phones.xml"),
        "-oocsf",
        str(SCENARIOS / "bench_phone_answer.xml"),
        "-inf",
        str(inf),
        "-i",
        PHONE_IP,
        "-p",
        str(port),
        "-mi",
        PHONE_IP,
        "-mp",
        str(media),
        "-rtp_echo",
        "-aa",
        "-m",
        str(len(agents)),
        "-r",
        "50",
        "-d",
        "36000000",
        "-l",
        str(len(agents)),
        "-key",
        "rtp_ip",
        PHONE_IP,
        "-key",
        "rtp_port",
        str(media),
        "-nostdin",
        "-trace_err",
        "-error_file",
        str(work / "phones.errors.log"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


def registered(agents: list[str]) -> int:
    out = subprocess.run(
        [str(SANDBOX), "cli", "pjsip show contacts"], capture_output=True, text=True, check=False
    ).stdout
    return sum(
        1
        for a in agents
        if f" {a}/sip:" in out and "Avail" in out.split(f" {a}/sip:", 1)[1].split("\n", 1)[0]
    )


async def run_rate(
    rate: int, *, seconds: int, target: str, work: Path, watch: AmiWatch, bridge_pid: int, concurrency: int
) -> dict[str, Any]:
    watch.reset()
    total = rate * seconds
    stats = work / f"caller-{rate}.csv"
    ast0, br0 = cpu_seconds(asterisk_pid()), cpu_seconds(bridge_pid)
    t0 = time.time()
    caller = await asyncio.create_subprocess_exec(
        "sipp",
        target,
        "-sf",
        str(SCENARIOS / "bench_caller.xml"),
        "-i",
        CARRIER_IP,
        "-p",
        str(free_udp_port(CARRIER_IP)),
        "-mi",
        CARRIER_IP,
        "-mp",
        str(free_udp_port(CARRIER_IP)),
        "-s",
        DID,
        "-key",
        "caller",
        "+84912345678",
        "-key",
        "cname",
        "Bench caller",
        "-r",
        str(rate),
        "-m",
        str(total),
        "-l",
        str(concurrency),
        "-nostdin",
        "-trace_stat",
        "-stf",
        str(stats),
        "-fd",
        "1",
        "-trace_err",
        "-error_file",
        str(work / f"caller-{rate}.errors.log"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    rc = await caller.wait()
    wall = time.time() - t0
    await asyncio.sleep(2)  # the last hang-ups' events
    ast1, br1 = cpu_seconds(asterisk_pid()), cpu_seconds(bridge_pid)
    ok = failed = 0
    with contextlib.suppress(Exception):
        rows = list(csv.DictReader(stats.open(), delimiter=";"))
        ok, failed = int(rows[-1]["SuccessfulCall(C)"]), int(rows[-1]["FailedCall(C)"])
    return {
        "rate": rate,
        "attempted": total,
        "sipp_ok": ok,
        "sipp_failed": failed,
        "sipp_rc": rc,
        "answered_by_agent": len(watch.connected),
        "abandoned": watch.abandoned,
        "wall_s": wall,
        "asterisk_cpu_ms_per_call": (ast1 - ast0) * 1000 / total,
        "bridge_cpu_ms_per_call": (br1 - br0) * 1000 / total,
        "agi_think_p99_ms": pct(watch.think, 99) * 1000,
        "agi_think_p50_ms": pct(watch.think, 50) * 1000,
        "ami_lag_p50_ms": pct(watch.lag, 50) * 1000,
        "ami_lag_p99_ms": pct(watch.lag, 99) * 1000,
        "called": dict(watch.called),
    }


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="bench-sip-"))
    agents = [str(7300 + i) for i in range(args.agents)]
    web_port, agi_port, ami_port, sip_port = free_port(), free_port(), free_port(), free_port()
    over = overrides(
        tmp,
        agents,
        web_port=web_port,
        agi_port=agi_port,
        ami_port=ami_port,
        sip_port=sip_port,
        max_channels=5000,
    )
    settings = make_settings(**over)
    secret_of = {a.id: a.sip_secret.get_secret_value() for a in settings.agents if a.sip_secret}
    # The sandbox's CDR file from earlier runs would be "recovered" by the bridge at start: start empty.
    settings.cdr.csv_path.parent.mkdir(parents=True, exist_ok=True)
    settings.cdr.csv_path.write_text("")
    conf, sounds = tmp / "conf", tmp / "sounds"
    write_all(settings, conf)
    add_bench_ami_user(conf)
    generate_prompts(settings.ivr, sounds)
    restart = [str(SANDBOX), "restart", str(conf), str(sounds)]
    await asyncio.to_thread(subprocess.run, restart, check=True, timeout=120)
    over_path = tmp / "over.json"
    over_path.write_text(json.dumps(over))
    bridge = await asyncio.create_subprocess_exec(sys.executable, __file__, "--bridge", str(over_path))
    watch = AmiWatch()
    ami = AmiClient("127.0.0.1", ami_port, BENCH_USER, BENCH_SECRET, reconnect_min=0.2, reconnect_max=1)
    ami.on_event(watch.handle)
    await ami.start()
    phones = browsers = None
    try:
        await ami.wait_connected(60)
        await ami.wait_booted(60)
        base = f"http://127.0.0.1:{web_port}"
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{base}/healthz") as r:
                        if r.status == 200:
                            break
                await asyncio.sleep(0.1)
        target = f"127.0.0.1:{sip_port}"
        phones = await register_phones(target, tmp, agents, secret_of)
        for _ in range(300):
            if registered(agents) == len(agents):
                break
            await asyncio.sleep(0.2)
        print(f"{registered(agents)}/{len(agents)} agent phones registered and qualified", flush=True)
        browsers = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--agents-of",
            base,
            *agents,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**26,
        )
        assert browsers.stdin is not None and browsers.stdout is not None
        assert (await browsers.stdout.readline()).strip() == b"ready"
        print(f"{len(agents)} desktop websockets connected (another process)", flush=True)
        results = []
        for rate in args.rates:
            print(f"--- {rate} calls/s for {args.seconds} s ...", flush=True)
            results.append(
                await run_rate(
                    rate,
                    seconds=args.seconds,
                    target=target,
                    work=tmp,
                    watch=watch,
                    bridge_pid=bridge.pid,
                    concurrency=args.concurrency,
                )
            )
            await asyncio.sleep(3)
        browsers.stdin.close()
        pops: list[tuple[str, str, float]] = json.loads((await browsers.stdout.readline()).decode() or "[]")
        await browsers.wait()
    finally:
        await ami.stop()
        for p in (phones, bridge):
            if p is not None and p.returncode is None:
                p.terminate()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(p.wait(), 10)
        await asyncio.to_thread(subprocess.run, [str(SANDBOX), "stop"], check=False)
    arrival = {(cid, agent): t for cid, agent, t in pops}
    print()
    head = ("rate", "attempted", "completed", "failed", "pops", "pop p50", "pop p99", "pop max", "AGI p99")
    print(
        " ".join(f"{h:>9}" for h in head), f"{'AMI lag p99':>11} {'Ast ms/call':>11} {'bridge ms/call':>14}"
    )
    for r in results:
        lat = [(arrival[k] - ts) * 1000 for k, ts in r.pop("called").items() if k in arrival]
        completed = min(r["sipp_ok"], r["answered_by_agent"])
        cells = [r["rate"], r["attempted"], completed, r["attempted"] - completed, len(lat)]
        ms = [pct(lat, 50), pct(lat, 99), max(lat, default=float("nan")), r["agi_think_p99_ms"]]
        print(
            " ".join(f"{c:>9}" for c in cells),
            " ".join(f"{m:>7.1f}ms" for m in ms),
            f"{r['ami_lag_p99_ms']:>9.2f}ms",
            f"{r['asterisk_cpu_ms_per_call']:>11.2f} {r['bridge_cpu_ms_per_call']:>14.2f}",
        )
        print(f"      details: {yaml.safe_dump(r, default_flow_style=True, width=200).strip()}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--agents-of":
        asyncio.run(agents_process(sys.argv[2], sys.argv[3:]))
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "--bridge":
        bridge_process(sys.argv[2])
        sys.exit(0)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rates", type=int, nargs="+", default=[10, 20, 50])
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--agents", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=1000, help="SIPp's cap on simultaneous calls")
    asyncio.run(main(p.parse_args()))
