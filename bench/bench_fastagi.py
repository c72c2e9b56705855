"""Benchmark: FastAGI decision latency at 200 concurrent sessions, tongdai's ``ivr`` route next to a
bare panoramisk 1.4 FastAGI route, measured in the same run.

A scripted Asterisk (ivr.agi_script: the real protocol over loopback — header, then a reply to each
command as Asterisk gives it, DTMF included) places ``--sessions`` calls at once, ``--rounds`` times.
The server runs in its own process (``--serve``), so client work does not sit on the server's loop.
"Decision latency" is the server's think time: from the moment our reply (or the header) is written
to the moment its next command arrives. For tongdai that includes the customer lookup in a real SQLite
directory (the 5 demo customers plus ``--customers`` generated ones; the IVR's light facts query, as
wired by the Bridge: ``IvrRoute`` given the ``CustomerDirectory``), the menu state machine, the ACD
priority and the call-tracker annotations. panoramisk's route does one command (``ANSWER``).

    python bench/bench_fastagi.py                    # 200 concurrent, 600 calls, 2,000 customers
    python bench/bench_fastagi.py --sessions 500 --rounds 5 --customers 100000
    python bench/bench_fastagi.py --redis redis://127.0.0.1:6379/0   # with the production profile cache

Goal: tongdai p99 ≤ 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr.agi_script import ScriptedCall

# --- servers (run in a child process) ------------------------------------------------------------


async def serve_tongdai(db: Path, customers: int, redis_url: str | None, prefix: str) -> None:
    from core.agi import AgiServer
    from core.bus import LocalBus
    from core.calls import CallTracker
    from core.db import create_engine, session_factory
    from crm_bridge.demo_data import load_demo
    from crm_bridge.directory import CustomerDirectory
    from ivr.agi_route import IvrRoute
    from ivr.callbacks import CallbackStore
    from tests.support.settings import make_settings
    from tongdai.schema import upgrade_to_head

    settings = make_settings(database={"url": f"sqlite+aiosqlite:///{db}"})
    engine = create_engine(settings.database.url)
    await upgrade_to_head(engine)
    await load_demo(engine, customers)
    sessions = session_factory(engine)
    bus = LocalBus(origin="bench")
    tracker = CallTracker(bus)
    cache = None
    if redis_url:
        from redis.asyncio import Redis

        from crm_bridge.cache import ProfileCache

        cache = ProfileCache(Redis.from_url(redis_url), prefix=prefix, ttl_seconds=600)
    directory = CustomerDirectory(sessions, settings.crm.tiers, cache)
    route = IvrRoute(settings, tracker, directory, settings.acd.build(), callbacks=CallbackStore(sessions))
    server = AgiServer("127.0.0.1", 0, command_timeout=30)
    route.register(server)
    await server.start()
    from tongdai.app import freeze_startup_heap

    freeze_startup_heap()  # as `tongdai serve` does once the bridge is up
    print(server.port, flush=True)
    await asyncio.Event().wait()


async def serve_panoramisk() -> None:
    from panoramisk.fast_agi import Application

    app = Application(loop=asyncio.get_running_loop())

    async def bare(request: object) -> None:
        await request.send_command("ANSWER")  # type: ignore[attr-defined]

    app.add_route("bare", bare)
    server = await asyncio.start_server(app.handler, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


# --- client ----------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def callers(db: Path, n: int, rng: random.Random) -> list[tuple[str, str]]:
    """(caller, keys): mostly known numbers (vi, mobile, fault), some strangers keying their ID."""
    with sqlite3.connect(db) as conn:
        numbers = [
            r[0]
            for r in conn.execute("SELECT number_e164 FROM crm_subscriptions WHERE number_e164 IS NOT NULL")
        ]
    out = []
    for i in range(n):
        if i % 5 == 4:
            out.append((f"028{rng.randrange(10**7):07d}", "1" + "00001#" + "11"))  # keyed customer ID
        else:
            out.append((rng.choice(numbers), "111"))
    return out


def is_lookup(after: str) -> bool:
    """The command that follows these replies waited on a customer lookup (number, keyed ID)."""
    return after.startswith("200 result=1 (1700000000.") or after.startswith("200 result=35")


async def run_load(
    port: int,
    route: str,
    plan: list[tuple[str, str]],
    sessions: int,
    *,
    pace: tuple[float, float] | None,
    rng: random.Random,
    ramp: float = 0.0,
) -> tuple[list[float], list[float], float]:
    """Keep ``sessions`` calls in progress until the plan is done; a new call starts as one ends.

    With ``pace`` (min, max seconds) each prompt and key wait lasts that long, as on a real channel,
    and the first calls start spread over ``ramp`` seconds; without it every reply is immediate.
    """
    latencies: list[float] = []
    lookups: list[float] = []
    todo = list(enumerate(plan))
    t0 = time.perf_counter()

    async def worker(w: int) -> None:
        if pace is not None:  # arrivals spread over about one call's length, as calls come in
            await asyncio.sleep(rng.uniform(0, ramp))
        while todo:
            i, (c, k) = todo.pop()
            fn = (lambda: rng.uniform(*pace)) if pace is not None else None
            call = ScriptedCall(caller=c, keys=k, route=route, uniqueid=f"1700000000.{i}", pace=fn)
            await call.run("127.0.0.1", port, timeout=120)
            latencies.extend(call.latencies)
            lookups.extend(x for x, a in zip(call.latencies, call.after, strict=True) if is_lookup(a))

    await asyncio.gather(*(worker(w) for w in range(sessions)))
    return latencies, lookups, time.perf_counter() - t0


async def drop_keys(url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    r = Redis.from_url(url)
    keys = [k async for k in r.scan_iter(match=prefix + "*", count=1000)]
    if keys:
        await r.delete(*keys)
    await r.aclose()


def start_server(args: list[str]) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.strip().isdigit():
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc, int(line)


def report(name: str, lat: list[float], wall: float, calls: int, lookups: list[float] | None = None) -> None:
    ms = [x * 1000 for x in lat]
    print(
        f"{name:<28} commands={len(ms):>6}  p50={statistics.median(ms):6.2f} ms  p99={pct(ms, 99):6.2f} ms  "
        f"max={max(ms):7.2f} ms  calls/s={calls / wall:7.1f}"
    )
    if lookups:
        lk = [x * 1000 for x in lookups]
        rest = sorted(ms)
        for x in lk:  # the commands that did not wait on the directory
            rest.remove(x)
        print(
            f"{'  of which after a lookup':<28} commands={len(lk):>6}  p50={statistics.median(lk):6.2f} ms  "
            f"p99={pct(lk, 99):6.2f} ms"
        )
        print(
            f"{'  the others (menu, AGI I/O)':<28} commands={len(rest):>6}  "
            f"p50={statistics.median(rest):6.2f} ms  p99={pct(rest, 99):6.2f} ms"
        )


async def main_client(opts: argparse.Namespace) -> int:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="tongdai-bench-") as tmp:
        db = Path(tmp) / "bench.db"
        procs = []
        try:
            t = time.perf_counter()
            prefix = f"tongdai-bench-{uuid.uuid4().hex[:8]}:"
            targs = ["tongdai", "--db", str(db), "--customers", str(opts.customers), "--prefix", prefix]
            tproc, tport = start_server(targs + (["--redis", opts.redis] if opts.redis else []))
            procs.append(tproc)
            cache = f"Redis profile cache {opts.redis}" if opts.redis else "no profile cache (SQLite only)"
            print(
                f"tongdai server ready ({opts.customers} generated customers, {cache}) "
                f"in {time.perf_counter() - t:.1f} s"
            )
            pproc, pport = start_server(["panoramisk"])
            procs.append(pproc)
            n = opts.sessions * opts.rounds
            plan = callers(db, n, rng)
            pace = (opts.play_min, opts.play_max)
            await run_load(tport, "ivr", plan[: opts.sessions], opts.sessions, pace=None, rng=rng)  # warm-up
            bare = [("0912345678", "")] * n
            print(
                f"{opts.sessions} concurrent sessions, {n} calls, loopback, each server in its own process; "
                f"paced: prompts/key waits {opts.play_min * 1000:.0f}-{opts.play_max * 1000:.0f} ms, "
                f"first calls arriving over {opts.ramp:.0f} s"
            )
            lat_t, lk_t, wall_t = await run_load(
                tport, "ivr", plan, opts.sessions, pace=pace, rng=rng, ramp=opts.ramp
            )
            lat_p, _, wall_p = await run_load(
                pport, "bare", bare, opts.sessions, pace=pace, rng=rng, ramp=opts.ramp
            )
            report("tongdai ivr (full tree)", lat_t, wall_t, n, lk_t)
            report("panoramisk 1.4 bare route", lat_p, wall_p, n)
            p99 = pct([x * 1000 for x in lat_t], 99)
            print(f"goal tongdai p99 ≤ 20 ms (paced): {'met' if p99 <= 20 else 'NOT met'} ({p99:.2f} ms)")
            if not opts.no_saturation:
                print("saturation (no pacing: every reply immediate, all sessions hammering at once):")
                lat_t, lk_t, wall_t = await run_load(tport, "ivr", plan, opts.sessions, pace=None, rng=rng)
                lat_p, _, wall_p = await run_load(pport, "bare", bare, opts.sessions, pace=None, rng=rng)
                report("tongdai ivr (full tree)", lat_t, wall_t, n, lk_t)
                report("panoramisk 1.4 bare route", lat_p, wall_p, n)
        finally:
            for p in procs:
                p.kill()
                p.wait()
            if opts.redis:
                await drop_keys(opts.redis, prefix)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--play-min", type=float, default=0.2, help="shortest prompt/key wait, seconds")
    ap.add_argument("--play-max", type=float, default=0.8, help="longest prompt/key wait, seconds")
    ap.add_argument("--ramp", type=float, default=5.0, help="first calls arrive over this many seconds")
    ap.add_argument("--no-saturation", action="store_true", help="skip the unpaced run")
    ap.add_argument("--serve", nargs="?", choices=["tongdai", "panoramisk"])
    ap.add_argument("--db", type=Path)
    ap.add_argument("--redis", help="put the Redis profile cache in front, e.g. redis://127.0.0.1:6379/0")
    ap.add_argument("--prefix", default="tongdai-bench:")
    opts = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)  # lookups over budget are counted in the figures
    if opts.serve == "tongdai":
        asyncio.run(serve_tongdai(opts.db, opts.customers, opts.redis, opts.prefix))
        return 0
    if opts.serve == "panoramisk":
        asyncio.run(serve_panoramisk())
        return 0
    return asyncio.run(main_client(opts))


if __name__ == "__main__":
    raise SystemExit(main())
