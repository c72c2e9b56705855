"""Benchmark: customer profile lookup by phone number, p50/p99, on SQLite and PostgreSQL.

For each database it loads N demo customers (``load_demo``; the load time is printed too), then looks up
a random sample of the customers' numbers, in random formats (0912…, +84…, spaced), three ways:

* ``db``    — no cache: normaliser + owner query + profile queries;
* ``cold``  — Redis cache in front but empty: a miss, the database, then the cache write;
* ``warm``  — the same numbers again, twice: served from Redis (one round trip);
* ``memory``— one node without Redis: the in-process cache, filled by a first (untimed) pass;
* ``search``— agent search by name without diacritics (``"NGUYEN VAN AN"``, ``"tran thi"``), 20 results.

    python bench/bench_lookup.py                       # 100k customers, both databases
    python bench/bench_lookup.py --customers 1000000   # the full figure
    python bench/bench_lookup.py --db sqlite --lookups 5000

PostgreSQL: a database ``tongdai_bench_<random>`` is created through --pg-admin and dropped at the end.
Goal: p99 ≤ 1 ms warm.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from redis.asyncio import Redis
from sqlalchemy import select

from core.db import Base, create_engine, session_factory
from crm_bridge.cache import ProfileCache
from crm_bridge.demo_data import load_demo
from crm_bridge.directory import CustomerDirectory
from crm_bridge.memory_cache import MemoryProfileCache
from crm_bridge.models import Customer, Subscription
from crm_bridge.textfold import fold


@asynccontextmanager
async def database(kind: str, pg_admin: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="tongdai_bench_") as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/crm.db"
        return
    name = f"tongdai_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(pg_admin)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql+asyncpg://{pg_admin.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"
    finally:
        admin = await asyncpg.connect(pg_admin)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def dialled(e164: str, rng: random.Random) -> str:
    """The number as a caller ID or an agent might type it."""
    nsn = e164[3:]
    return rng.choice([e164, "0" + nsn, "84" + nsn, f"0{nsn[:3]} {nsn[3:6]} {nsn[6:]}"])


async def timed(numbers: list[str], lookup: Callable[[str], Awaitable[object]]) -> list[float]:
    out = []
    for n in numbers:
        t0 = time.perf_counter_ns()
        found = await lookup(n)
        out.append((time.perf_counter_ns() - t0) / 1e6)
        if not found:
            raise SystemExit(f"lookup of {n!r} found nobody: the benchmark data is wrong")
    return out


def pct(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=1000, method="inclusive")[int(q * 10) - 1]


async def run(kind: str, args: argparse.Namespace) -> None:
    async with database(kind, args.pg_admin) as url:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            t0 = time.perf_counter()
            loaded = await load_demo(engine, args.customers, seed=args.seed)
            load_s = time.perf_counter() - t0
            print(f"{kind:10s} loaded {loaded:,} customers in {load_s:.1f} s ({loaded / load_s:,.0f}/s)")

            rng = random.Random(args.seed)
            sessions = session_factory(engine)
            async with sessions() as s:
                all_ids = [f"KH{1_000_000 + i:010d}" for i in range(args.customers)] or ["KH0000000001"]
                top = await s.scalar(select(Subscription.id).order_by(Subscription.id.desc()).limit(1)) or 0
                ids = rng.sample(range(1, top + 1), min(top, args.lookups * 3))
                rows = await s.execute(
                    select(Subscription.number_e164).where(
                        Subscription.id.in_(ids),
                        Subscription.number_e164.is_not(None),
                        Subscription.status == "active",
                    )
                )
                e164s = [r[0] for r in rows if r[0]][: args.lookups]
            numbers = [dialled(n, rng) for n in e164s]

            plain = CustomerDirectory(sessions)
            await timed(numbers[:200], plain.by_number)  # warm the pool and the page cache
            redis = Redis.from_url(args.redis)
            prefix = f"bench:crm:{uuid.uuid4().hex}:"
            cache = ProfileCache(redis, prefix=prefix, ttl_seconds=600)
            cached = CustomerDirectory(sessions, cache=cache)
            # One node without Redis: the in-process cache (what `build` gives when redis.url is unset).
            in_process = CustomerDirectory(sessions, cache=MemoryProfileCache(ttl_seconds=600))
            async with sessions() as s:
                names = list(
                    await s.scalars(
                        select(Customer.full_name).where(Customer.customer_id.in_(rng.sample(all_ids, 200)))
                    )
                )
            # Agent-style queries: no diacritics, odd case, sometimes only family + middle name.
            queries = [
                fold(n).upper() if i % 2 else " ".join(fold(n).split()[:2]) for i, n in enumerate(names)
            ]
            gc.collect()
            gc.freeze()  # the load's garbage is gone; keep the collector off the long-lived objects
            try:
                await timed(numbers, in_process.by_number)  # fills the in-process cache (untimed)
                results = {
                    "db": await timed(numbers, plain.by_number),
                    "cold": await timed(numbers, cached.by_number),
                    "warm": (await timed(numbers, cached.by_number))
                    + (await timed(numbers, cached.by_number)),
                    "memory": (await timed(numbers, in_process.by_number))
                    + (await timed(numbers, in_process.by_number)),
                    "search": await timed(queries, lambda q: plain.search(q, limit=20)),
                }
            finally:
                keys = [k async for k in redis.scan_iter(match=prefix + "*", count=1000)]
                for i in range(0, len(keys), 1000):
                    await redis.delete(*keys[i : i + 1000])
                await redis.aclose()
            for label, samples in results.items():
                print(
                    f"{kind:10s} {args.customers:>9,} customers  {label:6s}  n={len(samples):5d}  "
                    f"p50 {statistics.median(samples):7.3f} ms  p99 {pct(samples, 99):7.3f} ms  "
                    f"max {max(samples):7.3f} ms"
                )
        finally:
            await engine.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--lookups", type=int, default=2000)
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]

    async def all_() -> None:
        for kind in kinds:
            await run(kind, args)

    asyncio.run(all_())


if __name__ == "__main__":
    main()
