"""Rating throughput: CDRs rated per second on one core (goal ≥ 200,000/s).

Builds N realistic mixed calls (mobile networks in every dialled form, fixed lines, international,
1800/1900 in and out, internal, unanswered, off-peak and holiday starts), then times
``Rater.rate_many`` on them. Building the calls is not timed: it is CDR ingestion's cost.

    python bench/bench_rating.py              # 500,000 calls, best of 3 runs
    python bench/bench_rating.py -n 2000000 --runs 5
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billing.rating import CallToRate, Direction, Rater
from billing.tariffs import BillingConfig
from core.vietnam import VN_TZ

MOBILE = ["086", "096", "097", "098", "032", "035", "039", "088", "091", "094", "083", "089", "090",
          "093", "070", "077", "092", "056", "099", "059"]  # fmt: skip


def make_calls(n: int, seed: int = 7) -> list[CallToRate]:
    rnd = random.Random(seed)
    base = datetime(2025, 8, 1, tzinfo=VN_TZ)  # August–September: includes the 2 September holiday
    calls: list[CallToRate] = []
    for i in range(n):
        r = rnd.random()
        direction: Direction = "outbound"
        if r < 0.55:
            p = rnd.choice(MOBILE)
            sub = f"{rnd.randrange(10**7):07d}"
            form = rnd.random()
            callee = (
                p + sub
                if form < 0.7
                else (
                    "+84" + p[1:] + sub
                    if form < 0.85
                    else ("84" + p[1:] + sub if form < 0.95 else f"{p} {sub}")
                )
            )
        elif r < 0.70:
            callee = rnd.choice(["028", "024", "0236", "0274"]) + f"{rnd.randrange(10**7):07d}"
        elif r < 0.73:
            callee = f"3{rnd.randrange(10**7):07d}"  # local number dialled without the area code
        elif r < 0.78:
            callee = rnd.choice(["0086", "+1", "0081", "+44", "0065"]) + f"{rnd.randrange(10**9):09d}"
        elif r < 0.84:
            callee = f"1800{rnd.randrange(10**4):04d}"
            direction = rnd.choice(["inbound", "outbound"])
        elif r < 0.89:
            callee = f"1900{rnd.randrange(10**4):04d}"
            direction = rnd.choice(["inbound", "outbound"])
        elif r < 0.95:
            callee = "02838" + f"{rnd.randrange(10**6):06d}"  # our own DIDs
            direction = "inbound"
        else:
            callee = f"1{rnd.randrange(100, 999)}"
            direction = "internal"
        answered = rnd.random() > 0.15
        secs = round(rnd.expovariate(1 / 95), 3) if answered else 0.0
        start = base + timedelta(seconds=rnd.randrange(61 * 86400), microseconds=rnd.randrange(10**6))
        caller = "0283812" + f"{i % 10000:04d}"
        calls.append(CallToRate(f"c{i}", direction, caller, callee, start, secs, answered))
    return calls


def _timed(label: str, n: int, runs: int, body: Callable[[], object]) -> float:
    best = 0.0
    for _ in range(runs):
        t0 = time.perf_counter()
        body()
        rate = n / (time.perf_counter() - t0)
        best = max(best, rate)
    print(f"{label:<58} {best:>11,.0f} CDRs/s")
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=500_000, help="number of calls (default 500,000)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per figure; the best is reported")
    ap.add_argument("--chunk", type=int, default=10_000, help="calls per batch when streaming")
    args = ap.parse_args()
    n, runs, chunk = args.n, args.runs, args.chunk

    rater = Rater(BillingConfig())
    t0 = time.perf_counter()
    calls = make_calls(n)
    print(f"built {n:,} calls in {time.perf_counter() - t0:.1f} s (not timed); one core, CPython "
          f"{sys.version.split()[0]}, best of {runs}")  # fmt: skip
    gc.collect()
    # The input stands for rows streamed from the CDR store: keep the harness's 500k objects out of the
    # collector's way, as they would not be in the process at all.
    gc.freeze()

    def stream() -> None:
        # Re-rating as the product does it: a batch at a time, lines handed on (here: summed) and dropped.
        for i in range(0, n, chunk):
            lines = rater.rate_many(calls[i : i + chunk])
            sum(x.total for x in lines)

    headline = _timed(f"streaming, batches of {chunk:,}, GC on", n, runs, stream)
    _timed(f"one batch of {n:,} lines kept in memory, GC on", n, runs, lambda: rater.rate_many(calls))
    gc.disable()
    _timed("pure CPU (GC off)", n, runs, lambda: rater.rate_many(calls))
    gc.enable()
    gc.unfreeze()

    sample = rater.rate_many(calls[:5])
    print("sample:", sample[1].explanation())
    print(f"rating throughput, one core: {headline:,.0f} CDRs/s — goal 200,000: "
          f"{'met' if headline >= 200_000 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
