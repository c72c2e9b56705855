"""Screen-pop latency: AgentCalled received → pop frame received on the ringing agent's websocket.

A real Bridge (aiohttp desktop on 127.0.0.1, SQLite with the demo customers, bus, CallTracker,
PopHub, call store, audit log) with N agents logged in over HTTP and connected over real
websockets from a second process (their browsers are not in the bridge's event loop; both
processes time on the system-wide monotonic clock). Asterisk is NOT involved: synthetic AMI
events (Newchannel, QueueCallerJoin, AgentCalled, AgentConnect, Hangup) are fed into
``CallTracker.handle`` at the given call rate, as the AMI reader would. Each pop includes the
customer profile lookup: through the Redis profile cache, which the IVR's own lookup (in the same
process) has filled seconds before the ring (modelled by a lookup before QueueCallerJoin, outside
the measured span; ``--no-prefetch`` skips it), or, with ``--redis ''`` (one node), through the
in-process cache the IVR's lookup filled.

    .venv/bin/python bench/bench_pop.py                 # 100 agents, 50 calls/s for 10 s
    .venv/bin/python bench/bench_pop.py --redis ''      # one node without Redis: in-process cache
    .venv/bin/python bench/bench_pop.py --rate 100 --seconds 30 --agents 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from core.ami import AmiEvent
from crm_bridge.demo_data import load_demo
from crm_bridge.models import Customer
from tests.support.settings import base_config, free_port, make_settings
from tongdai.app import Bridge


async def agent_socket(
    base: str, agent: str, got: list[tuple[str, float, float]], ready: asyncio.Event
) -> tuple[aiohttp.ClientSession, asyncio.Task[None]]:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with http.get(f"{base}/login") as r:
        html = await r.text()
    csrf = html.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    async with http.post(
        f"{base}/login", data={"csrf": csrf, "agent": agent, "password": "demo-1001"}, allow_redirects=False
    ) as r:
        assert r.status == 302, await r.text()
    ws = await http.ws_connect(f"{base}/ws", origin=base)

    async def read() -> None:
        async for msg in ws:
            f = json.loads(msg.data)
            if f["type"] == "hello":
                ready.set()
            elif f["type"] == "pop":
                got.append((f["call_id"], time.monotonic(), float(f.get("lookup_ms", 0))))

    return http, asyncio.create_task(read())


async def agents_process(base: str, agents: list[str]) -> None:
    """The agents' browsers, in their own process (as on their own PCs): log in, connect, print
    "ready", collect pop frames with their arrival time until stdin closes, print them as JSON."""
    got: list[tuple[str, float, float]] = []
    clients = []
    for a in agents:  # sequential: scrypt verification is deliberately slow
        ready = asyncio.Event()
        clients.append(await agent_socket(base, a, got, ready))
        await ready.wait()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    print(json.dumps(got), flush=True)
    for http, task in clients:
        task.cancel()
        await http.close()


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="bench-pop-"))
    port = free_port()
    demo_hash = base_config()["agents"][0]["password_hash"]  # demo-1001's hash for every bench agent
    agents = [f"{2000 + i}" for i in range(args.agents)]
    settings = make_settings(
        node={"name": "bench-pop", "data_dir": str(tmp / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp / 'bench.db'}"},
        web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
        redis={"url": args.redis or None, "channel": f"bench-pop-{os.getpid()}"},
        # A fresh cache namespace: every run starts cold, the IVR's lookups fill it as in production.
        crm={"cache": {"key_prefix": f"bench-pop-{os.getpid()}:"}},
        agents=[
            *base_config()["agents"],
            *({"id": a, "name": f"Agent {a}", "phone": "local", "password_hash": demo_hash} for a in agents),
        ],
    )
    bridge = Bridge(settings)
    await bridge.start(connect_ami=False)
    assert bridge.engine is not None
    await load_demo(bridge.engine, args.customers)
    assert bridge.sessions is not None
    async with bridge.sessions() as s:  # real customer IDs: an unknown one would pop no profile at all
        customers = list(await s.scalars(select(Customer.customer_id).order_by(Customer.customer_id)))
    base = f"http://127.0.0.1:{bridge.web_port}"
    sent: dict[str, float] = {}
    t_login = time.perf_counter()
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
    login_s = time.perf_counter() - t_login
    t = bridge.tracker
    assert bridge.crm is not None
    directory, pop_profiles = bridge.crm.directory, bridge.crm.pop
    total = int(args.rate * args.seconds)
    start = time.perf_counter()

    async def one_call(i: int) -> None:
        cid = f"bench-{i}"
        uid = f"{cid}.1"
        agent = agents[i % len(agents)]
        await t.handle(
            AmiEvent(
                "Newchannel",
                {
                    "Linkedid": cid,
                    "Uniqueid": uid,
                    "Context": "tongdai-hotline",
                    "Exten": "18001090",
                    "CallerIDNum": "0912345678",
                },
            )
        )
        customer = customers[i % len(customers)]
        if args.prefetch:  # the IVR's one fetch while the caller keys the menu, seconds before the ring
            profile = await directory.by_customer_id(customer)
            if profile is not None:
                pop_profiles.remember(cid, profile)  # handed to the pop, as IvrRoute does
        t.annotate(cid, customer_id=customer, acd_tier="standard", queue="mobile")
        await t.handle(AmiEvent("QueueCallerJoin", {"Linkedid": cid, "Queue": "mobile"}))
        sent[cid] = time.monotonic()  # the AgentCalled event is "received" now (clock shared by processes)
        iface = f"Local/{agent}@tongdai-agents/n"
        await t.handle(
            AmiEvent(
                "AgentCalled", {"Linkedid": cid, "Queue": "mobile", "MemberName": agent, "Interface": iface}
            )
        )
        await asyncio.sleep(args.ring)
        await t.handle(
            AmiEvent(
                "AgentConnect",
                {
                    "Linkedid": cid,
                    "Queue": "mobile",
                    "MemberName": agent,
                    "Interface": iface,
                    "HoldTime": "1",
                },
            )
        )
        await asyncio.sleep(args.talk)
        await t.handle(AmiEvent("Hangup", {"Linkedid": cid, "Uniqueid": uid}))

    lags: list[float] = []

    async def probe() -> None:  # event-loop lag: how late a 10 ms sleep wakes up
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append((time.perf_counter() - t0 - 0.01) * 1000)

    prober = asyncio.create_task(probe())
    cpu0 = time.process_time()
    tasks = []
    for i in range(total):
        due = start + i / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one_call(i)))
    await asyncio.gather(*tasks)
    prober.cancel()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    await bridge.bus.drain()
    if bridge.hub is not None:
        await bridge.hub.close()
    browsers.stdin.close()
    got = json.loads(await browsers.stdout.readline())
    await browsers.wait()
    lat = [(t - sent[cid]) * 1000 for cid, t, _ in got if cid in sent]
    lookups = [ms for _, _, ms in got]

    lat.sort()
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
    print("bench_pop: synthetic AMI events fed into CallTracker.handle of a real Bridge (no Asterisk);")
    print(
        "           real aiohttp websockets on 127.0.0.1, real SQLite (profile lookups, audit, call records)"
    )
    print(f"agents connected : {len(agents)} (login {login_s:.1f} s); customers {len(customers)}")
    print(
        f"calls            : {total} at {args.rate:g}/s over {elapsed:.1f} s "
        f"(ring {args.ring}s, talk {args.talk}s; IVR prefetch {'on' if args.prefetch else 'off'})"
    )
    print(f"pops received    : {len(lat)} (missing {total - len(lat)})")
    print(
        f"pop latency ms   : p50 {q[49]:.2f}  p90 {q[89]:.2f}  p99 {q[98]:.2f}  "
        f"max {lat[-1] if lat else float('nan'):.2f}"
    )
    if lookups:
        mean, worst = statistics.fmean(lookups), max(lookups)
        print(f"profile lookup ms: mean {mean:.2f}  max {worst:.2f} (inside the latency)")
    lq = statistics.quantiles(lags, n=100)
    print(f"event-loop lag ms: p50 {lq[49]:.2f}  p99 {lq[98]:.2f}  max {max(lags):.2f}")
    print(f"bridge CPU       : {cpu / elapsed:.0%} of one core, {cpu / total * 1000:.2f} ms per call")
    print(f"goal p99 <= 50 ms: {'met' if lat and q[98] <= 50 else 'NOT met'}")
    await bridge.stop()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agents", type=int, default=100)
    p.add_argument("--rate", type=float, default=50.0, help="new calls per second")
    p.add_argument("--customers", type=int, default=500, help="generated demo customers (callers cycle)")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--ring", type=float, default=1.0, help="seconds from AgentCalled to AgentConnect")
    p.add_argument("--talk", type=float, default=2.0)
    p.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/15",
        help="profile cache + bus bridge, as in production (the IVR prefetches profiles into it); '' = none",
    )
    p.add_argument(
        "--no-prefetch",
        dest="prefetch",
        action="store_false",
        help="skip the IVR's lookup before the ring: every customer's first pop reads SQLite (cold)",
    )
    return p.parse_args(argv)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--agents-of"]:
        asyncio.run(agents_process(sys.argv[2], sys.argv[3:]))
    else:
        asyncio.run(main(parse()))
