"""Benchmark: the report page's figures (reports/breakdown.py page_report: the SQL service-level
report plus the half-hour and agent cuts read from the period's calls) and a drill-down.

Loads N queued calls over D days into SQLite or PostgreSQL, then times the page for one day, a week
and the whole period, and the drill-down of one queue over the whole period (what a supervisor's click
costs), and prints the time per day of data.

    python bench/bench_report_page.py                       # 300k calls over 30 days, PostgreSQL
    python bench/bench_report_page.py --calls 100000 --db sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_lookup import database  # a throwaway SQLite file or PostgreSQL database
from sqlalchemy import insert

from core.db import create_engine, session_factory
from core.models import CallRecord
from reports.breakdown import behind, call_rows, page_report
from reports.config import ReportsConfig
from tongdai.schema import upgrade_to_head

START = date(2026, 10, 1)


def rows(n: int, days: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    t0 = datetime(START.year, START.month, START.day, tzinfo=UTC) - timedelta(hours=7)
    out = []
    for i in range(n):
        queued = t0 + timedelta(seconds=rng.randrange(days * 86400))
        wait = rng.expovariate(1 / 35)
        answered = rng.random() < 0.88
        talk = rng.expovariate(1 / 180) if answered else None
        out.append({
            "call_id": f"bench-{i}", "queue": rng.choice(["mobile", "internet", "tv", "billing", "care"]),
            "acd_tier": rng.choice(["vip", "gold", "standard"]),
            "agent_id": f"{1000 + rng.randrange(120)}" if answered else "",
            "started_at": queued - timedelta(seconds=20), "queued_at": queued,
            "answered_at": queued + timedelta(seconds=wait) if answered else None,
            "ended_at": queued + timedelta(seconds=wait + (talk or 0)),
            "wait_seconds": wait, "talk_seconds": talk,
            "disposition": "answered" if answered else "abandoned", "ivr_path": [],
        })  # fmt: skip
    return out


async def run(args: argparse.Namespace) -> None:
    data = rows(args.calls, args.days, args.seed)
    async with database(args.db, args.pg_admin) as url:
        engine = create_engine(url)
        await upgrade_to_head(engine)
        t = time.perf_counter()
        async with engine.begin() as c:
            for i in range(0, len(data), 20_000):
                await c.execute(insert(CallRecord), data[i : i + 20_000])
        print(
            f"{args.db}: {args.calls:,} calls over {args.days} days loaded in {time.perf_counter() - t:.1f} s"
        )
        sessions = session_factory(engine)
        cfg = ReportsConfig()
        for span in (1, 7, args.days):
            until = START + timedelta(days=span)
            t = time.perf_counter()
            page = await page_report(sessions, START, until, cfg)
            took = time.perf_counter() - t
            per_day = took * 1000 / span
            print(
                f"  page, {span:>2} day(s): {took * 1000:8.1f} ms ({per_day:6.1f} ms per day of data)"
                f"  offered {page['total']['offered']:,}  SL {page['total']['sl']:.1%}"
            )
        t = time.perf_counter()
        calls = behind(
            await call_rows(sessions, START, START + timedelta(days=args.days), cfg), "queue", "tv"
        )
        print(f"  drill-down, queue tv over {args.days} days: {(time.perf_counter() - t) * 1000:8.1f} ms"
              f"  ({len(calls):,} calls)")  # fmt: skip
        await engine.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=300_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    p.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--seed", type=int, default=1)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
