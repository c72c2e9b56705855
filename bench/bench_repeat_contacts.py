"""Benchmark: repeat contacts and FCR per owner (reports/repeat_contacts.py) at 1M calls.

Loads N calls over D days (about two contacts per owner a month, a tenth from a few frequent
callers, a fifth of owners unidentified) into PostgreSQL with COPY (in a throwaway database of its
own), and a post-call survey for a fifth of the answered calls; then times the report for one day,
for a week and for the whole period, and prints the time per day of data; then what runs live: the
satisfaction report (reports/satisfaction.py), the wallboard's "repeat today" count and the pop's
repeat note (one owner's history, per ringing call).

    python bench/bench_repeat_contacts.py                    # 1M calls over 30 days, PostgreSQL
    python bench/bench_repeat_contacts.py --calls 200000 --db sqlite
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

import asyncpg
from bench_lookup import database  # a throwaway SQLite file or PostgreSQL database
from sqlalchemy import insert

from core.db import create_engine, session_factory
from core.models import CallRecord
from ivr.models import SurveyAnswerRecord
from reports.repeat_contacts import contact_history, repeat_contacts, returning_contacts
from reports.satisfaction import kpi_report
from reports.service_level import day_start_utc
from tongdai.schema import upgrade_to_head

START = date(2026, 10, 1)


def rows(n: int, days: int, seed: int) -> list[tuple[object, ...]]:
    rng = random.Random(seed)
    owners = max(1, n // 2)  # two contacts per owner a month on average; a few call far more often
    t0 = datetime(START.year, START.month, START.day, tzinfo=UTC) - timedelta(hours=7)
    out = []
    for i in range(n):
        owner = int(rng.paretovariate(1.5)) % owners if rng.random() < 0.1 else rng.randrange(owners)
        at = t0 + timedelta(seconds=rng.randrange(days * 86400))
        answered = rng.random() < 0.85
        agent = f"{1000 + rng.randrange(100)}" if answered else ""
        out.append((
            f"bench-{i}", f"09{owner:08d}", f"KH{owner:010d}" if owner % 5 else None,
            rng.choice(["mobile", "internet", "tv", "billing"]), rng.choice(["gold", "silver", "standard"]),
            agent, at, at + timedelta(seconds=30) if answered else None,
            "", "", "", "[]", "", "", "answered" if answered else "abandoned", False,
        ))  # fmt: skip
    return out


COLUMNS = [
    *(
        "call_id",
        "caller_number",
        "customer_id",
        "queue",
        "acd_tier",
        "agent_id",
        "started_at",
        "answered_at",
    ),
    *("dialled", "tier", "language", "ivr_path", "ivr_path_text", "ivr_outcome", "disposition", "recovered"),
]


SURVEY_COLUMNS = [
    *("call_id", "question", "position", "kind", "scale_max", "csat", "value", "status"),
    *("queue", "agent_id", "customer_id", "language", "asked_at"),
]


def surveys(data: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """A survey (CSAT, then "solved?") for every fifth answered call; a third of them unanswered."""
    rng = random.Random(5)
    out: list[tuple[object, ...]] = []
    for i, r in enumerate(data):
        if r[7] is None or i % 5:
            continue
        call_id, customer, queue, agent, at = r[0], r[2], r[3], r[5], r[6]
        score = rng.choice([None, 1, 2, 3, 4, 5, 5])
        solved = rng.choice([1, 2]) if score is not None else None
        for pos, (q, kind, top, value) in enumerate(
            (("csat", "scale", 5, score), ("solved", "yes_no", 2, solved))
        ):
            status = "answered" if value is not None else "no_answer"
            out.append(
                (call_id, q, pos, kind, top, q == "csat", value, status, queue, agent, customer, "vi", at)
            )
    return out


async def load(url: str, data: list[tuple[object, ...]]) -> float:
    engine = create_engine(url)
    await upgrade_to_head(engine)
    t = time.perf_counter()
    if url.startswith("postgresql"):
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            await conn.copy_records_to_table("calls", records=data, columns=COLUMNS)
            await conn.copy_records_to_table("survey_answers", records=surveys(data), columns=SURVEY_COLUMNS)
            await conn.execute("ANALYZE calls")
            await conn.execute("ANALYZE survey_answers")
        finally:
            await conn.close()
    else:
        async with engine.begin() as c:
            for i in range(0, len(data), 20_000):
                await c.execute(
                    insert(CallRecord), [dict(zip(COLUMNS, r, strict=True)) for r in data[i : i + 20_000]]
                )
            answers = surveys(data)
            for i in range(0, len(answers), 20_000):
                rows = [dict(zip(SURVEY_COLUMNS, r, strict=True)) for r in answers[i : i + 20_000]]
                await c.execute(insert(SurveyAnswerRecord), rows)
    await engine.dispose()
    return time.perf_counter() - t


async def run(args: argparse.Namespace) -> None:
    data = rows(args.calls, args.days, args.seed)
    async with database(args.db, args.pg_admin) as url:
        loaded = await load(url, data)
        print(f"{args.db}: {args.calls:,} calls over {args.days} days loaded in {loaded:.1f} s")
        engine = create_engine(url)
        sessions = session_factory(engine)
        now = datetime.combine(START + timedelta(days=args.days + 30), datetime.min.time(), UTC)
        for span in (1, 7, args.days):
            for topic in ("none", "queue"):
                t = time.perf_counter()
                report = await repeat_contacts(
                    sessions,
                    START,
                    START + timedelta(days=span),
                    topic=topic,
                    now=now,  # type: ignore[arg-type]
                )
                took = time.perf_counter() - t
                fcr = report.total.fcr
                print(
                    f"  {span:>2} day(s), topic {topic:<5}: {took * 1000:8.1f} ms  "
                    f"({took * 1000 / span:6.1f} ms per day of data)  contacts {report.total.contacts:,}  "
                    f"repeat rate {report.total.repeat_rate or 0:.1%}  FCR {fcr or 0:.1%}"
                )
        t = time.perf_counter()
        kpis = await kpi_report(sessions, START, START + timedelta(days=7), now=now)  # type: ignore[arg-type]
        took = time.perf_counter() - t
        k = kpis.to_json()["total"]
        print(
            f"  satisfaction report, 7 days: {took * 1000:8.1f} ms ({took * 1000 / 7:6.1f} ms per day)  "
            f"surveyed {k['surveyed']:,}  CSAT {k['csat'] or 0:.2f}  FCR {k['fcr'] or 0:.1%}"
        )
        day = START + timedelta(days=args.days // 2)
        t = time.perf_counter()
        back = await returning_contacts(
            sessions, day_start_utc(day), day_start_utc(day + timedelta(days=1)), window=timedelta(days=7)
        )
        took = time.perf_counter() - t
        print(f"  wallboard 'repeat today' (one day): {took * 1000:8.1f} ms  {back.contacts:,} contacts")
        rng = random.Random(3)
        at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=5)
        times = []
        for _ in range(300):
            owner = rng.randrange(max(1, args.calls // 2))
            t = time.perf_counter()
            await contact_history(
                sessions,
                customer_id=f"KH{owner:010d}" if owner % 5 else None,
                numbers=[f"09{owner:08d}"],
                now=at,
            )
            times.append(time.perf_counter() - t)
        times.sort()
        print(
            f"  pop repeat note (one owner's history): p50 {times[150] * 1000:.2f} ms, "
            f"p99 {times[296] * 1000:.2f} ms over 300 lookups"
        )
        await engine.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=1_000_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    p.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--seed", type=int, default=1)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
