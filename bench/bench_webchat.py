"""Web chat under load: N concurrent customer chats and M agents, message delivery latency both ways and
the bridge's CPU.

A real Bridge (aiohttp on 127.0.0.1, SQLite with the demo customers, the chat service, the desktop's
pop hub, the audit log) with web chat on; the customers' and agents' browsers run in a second process
(as on their own machines), both processes timing on the system-wide monotonic clock. Asterisk is NOT
involved: the agents' app_queue states are a fixed list (all ready in ``mobile``), as the ACD would
report them. Every agent holds ``chats / agents`` chats (max_chats_per_agent).

Measured: customer → agent (the customer's websocket frame until the agent's desktop socket has the
``chat.message``), agent → customer (the agent's ``chat.send`` command on the desktop's websocket, as
the desktop sends it, until the customer's socket has the message), and the bridge process's CPU
while the messages flow.

    .venv/bin/python bench/bench_webchat.py                       # 500 chats, 50 agents, 20 s
    .venv/bin/python bench/bench_webchat.py --chats 200 --agents 20 --seconds 10 --interval 1
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
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crm_bridge.demo_data import load_demo
from tests.support.settings import base_config, free_port, make_settings
from tongdai.app import Bridge
from webchat.service import AgentFact

SITE = "https://shop.example.vn"


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


# --- the browsers (second process) -------------------------------------------------------------


async def agent_client(base: str, agent: str, to_agent: list[float], replies: asyncio.Queue[Any]) -> Any:
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
            if f["type"] == "chat.message" and f["message"]["from"] == "customer":  # not our own echo
                sent_at = float(f["message"]["text"].split(" ", 1)[0])
                to_agent.append(time.monotonic() - sent_at)
                await replies.put((ws, f["chat_id"]))

    return http, ws, asyncio.create_task(read())


async def replier(replies: asyncio.Queue[Any], stop: asyncio.Event) -> None:
    n = 0
    while not stop.is_set():
        ws, chat_id = await replies.get()
        n += 1
        # As the desktop does: a command on the agent's websocket (its result frame is not awaited).
        text = f"{time.monotonic():.6f} dạ, em kiểm tra ngay"
        await ws.send_json({"id": n, "type": "chat.send", "chat_id": chat_id, "text": text})


async def customer_client(
    http: aiohttp.ClientSession, base: str, i: int, to_customer: list[float], joined: asyncio.Queue[int]
) -> Any:
    ws = await http.ws_connect(f"{base}/chat/ws", headers={"Origin": SITE})
    await ws.send_json({"type": "hello", "topic": "mobile", "phone": f"0912{i:06d}", "page": f"{SITE}/p{i}"})

    async def read() -> None:
        async for msg in ws:
            f = json.loads(msg.data)
            if f["type"] == "agent":
                await joined.put(i)
            elif f["type"] == "message":
                to_customer.append(time.monotonic() - float(f["text"].split(" ", 1)[0]))

    return ws, asyncio.create_task(read())


async def browsers(base: str, args: argparse.Namespace) -> None:
    to_agent: list[float] = []
    to_customer: list[float] = []
    replies: asyncio.Queue[Any] = asyncio.Queue()
    agents = []
    for a in range(args.agents):  # sequential: the password hash is deliberately slow
        agents.append(await agent_client(base, f"{2000 + a}", to_agent, replies))
    joined: asyncio.Queue[int] = asyncio.Queue()
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    customers = [await customer_client(http, base, i, to_customer, joined) for i in range(args.chats)]
    for _ in range(args.chats):
        await asyncio.wait_for(joined.get(), 60)
    stop = asyncio.Event()
    repliers = [asyncio.create_task(replier(replies, stop)) for _ in range(16)]
    t0 = time.monotonic()

    async def talk(ws: aiohttp.ClientWebSocketResponse, i: int) -> None:
        await asyncio.sleep(args.interval * i / args.chats)  # spread the customers over the interval
        while time.monotonic() - t0 < args.seconds:
            await ws.send_json({"type": "message", "text": f"{time.monotonic():.6f} cho em hỏi gói cước"})
            await asyncio.sleep(args.interval)

    await asyncio.gather(*(talk(ws, i) for i, (ws, _) in enumerate(customers)))
    t1 = time.monotonic()
    await asyncio.sleep(1.0)  # the last replies
    stop.set()
    print(json.dumps({"to_agent": to_agent, "to_customer": to_customer, "t0": t0, "t1": t1}), flush=True)
    for task in repliers:
        task.cancel()
    for ws, task in customers:
        task.cancel()
        await ws.close()
    await http.close()
    for h, ws, task in agents:
        task.cancel()
        await ws.close()
        await h.close()


# --- the bridge ---------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="bench-webchat-"))
    port = free_port()
    demo_hash = base_config()["agents"][0]["password_hash"]
    agents = [f"{2000 + i}" for i in range(args.agents)]
    per_agent = -(-args.chats // args.agents)
    settings = make_settings(
        node={"name": "bench-webchat", "data_dir": str(tmp / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp / 'bench.db'}"},
        web={"port": port, "allowed_origins": [f"http://127.0.0.1:{port}"]},
        redis={"url": None},
        desktop={"websocket": {"max_per_agent": 3, "commands_per_second": 100}},
        agents=[
            *base_config()["agents"],
            *({"id": a, "name": f"Agent {a}", "phone": "local", "password_hash": demo_hash} for a in agents),
        ],
        webchat={
            "enabled": True,
            "allowed_origins": [SITE],
            "max_chats_per_agent": min(20, per_agent),
            "max_messages_per_minute": 600,
            "queues": [{"name": "mobile"}],
        },
    )
    bridge = Bridge(settings)
    await bridge.start(connect_ami=False)
    assert bridge.engine is not None and bridge.webchat is not None
    await load_demo(bridge.engine, 0)
    facts = [AgentFact(a, "ready", ("mobile",)) for a in agents]

    async def ready() -> list[AgentFact]:
        return facts

    bridge.webchat.service.agent_facts = ready
    samples: list[tuple[float, float]] = []
    lags: list[tuple[float, float]] = []  # (when, how late a 10 ms sleep woke): the bridge loop's stalls

    async def sample_cpu() -> None:
        while True:
            samples.append((time.monotonic(), time.process_time()))
            for _ in range(25):
                t = time.monotonic()
                await asyncio.sleep(0.01)
                lags.append((t, time.monotonic() - t - 0.01))

    sampler = asyncio.create_task(sample_cpu())
    base = f"http://127.0.0.1:{bridge.web_port}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--browsers-of", base, "--chats", str(args.chats), "--agents",
        str(args.agents), "--seconds", str(args.seconds), "--interval", str(args.interval),
        stdout=asyncio.subprocess.PIPE, limit=2**26,
    )  # fmt: skip
    assert proc.stdout is not None
    out = json.loads(await proc.stdout.readline())
    await proc.wait()
    sampler.cancel()
    await bridge.stop()
    window = [(t, c) for t, c in samples if out["t0"] <= t <= out["t1"]]
    cpu = (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0]) if len(window) > 1 else float("nan")
    ta, tc = [x * 1000 for x in out["to_agent"]], [x * 1000 for x in out["to_customer"]]
    secs = out["t1"] - out["t0"]
    print(f"web chat: {args.chats} concurrent chats, {args.agents} agents, {secs:.1f} s of messages")
    for name, xs in (("customer → agent", ta), ("agent → customer", tc)):
        print(
            f"  {name}: {len(xs)} messages ({len(xs) / secs:.0f}/s), p50 {pct(xs, 0.5):.1f} ms, "
            f"p99 {pct(xs, 0.99):.1f} ms, max {max(xs, default=float('nan')):.1f} ms"
            + (f", mean {statistics.fmean(xs):.1f} ms" if xs else "")
        )
    lag = [x * 1000 for t, x in lags if out["t0"] <= t <= out["t1"]]
    print(f"  bridge CPU while messages flow: {cpu * 100:.0f}% of one core (pid {os.getpid()})")
    print(
        f"  bridge event-loop lag: p99 {pct(lag, 0.99):.1f} ms, max {max(lag, default=float('nan')):.1f} ms"
    )
    print(f"  machine load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")


def cli() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chats", type=int, default=500)
    p.add_argument("--agents", type=int, default=50)
    p.add_argument("--seconds", type=float, default=20.0, help="how long the customers write")
    p.add_argument("--interval", type=float, default=4.0, help="seconds between one customer's messages")
    p.add_argument("--browsers-of", help=argparse.SUPPRESS)
    return p.parse_args()


if __name__ == "__main__":
    a = cli()
    asyncio.run(browsers(a.browsers_of, a) if a.browsers_of else main(a))
