"""How good is the expected wait callers are told? The estimator against the ACD simulator's real waits.

    python bench/bench_wait_estimate.py            # ~2 s
    python bench/bench_wait_estimate.py --seeds 10 --hours 24

For every simulated caller who has to queue, the estimate made when they join (acd/estimate.py:
position × moving-average AHT / agents, the AHT from the last 50 calls finished by then) is compared
with the wait the simulator gave them (acd/simulator.py, one FIFO tier, callers never hang up, so every
wait is a real one). app_queue's own holdtime (an exponential average of recent waits, what
``announce-holdtime`` says) is printed alongside as the baseline.

Columns: queued callers, mean actual wait, mean absolute error, bias (estimate − actual; negative =
optimistic), p90 absolute error, share within max(60 s, 25 %) of the actual wait, and "kept": the share
of callers whose wait did not exceed the whole minutes they were told (acd/estimate.announced_minutes).
"""

from __future__ import annotations

import argparse
import bisect
import math
import statistics
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acd.estimate import announced_minutes, expected_wait
from acd.policy import StrictPriority, TierTarget
from acd.simulator import CallStream, Scenario, generate_calls, simulate, staff

AGENTS = 20
AHT = 180.0
TIER = TierTarget("standard", 10, 60.0, 0.80)


@dataclass(frozen=True)
class Case:
    name: str
    load: float
    service: str
    cv: float


CASES = (
    Case("85 % load, exponential AHT", 0.85, "exponential", 1.0),
    Case("95 % load, exponential AHT", 0.95, "exponential", 1.0),
    Case("95 % load, lognormal cv 0.5", 0.95, "lognormal", 0.5),
    Case("100 % load, exponential AHT", 1.00, "exponential", 1.0),
)


def errors(case: Case, seed: int, hours: float) -> tuple[list[float], list[float], list[float], list[float]]:
    """(actual waits, estimator errors, app_queue holdtime errors, minutes told) of queued callers."""
    rate = case.load * AGENTS * 3600.0 / AHT
    scenario = Scenario(
        streams=(CallStream("standard", rate),),
        agents=staff(AGENTS),
        hours=hours,
        aht=AHT,
        service=case.service,  # type: ignore[arg-type]
        service_cv=case.cv,
        seed=seed,
    )
    calls = generate_calls(scenario)
    result = simulate(scenario, StrictPriority((TIER,)), calls)
    waits = list(result.overall.answered_waits)  # in call order: nobody abandons
    assert len(waits) == len(calls), "every caller is answered in this scenario"
    starts = [c.arrived_at + w for c, w in zip(calls, waits, strict=True)]  # FIFO: non-decreasing
    finished = sorted((s + c.service_seconds, c.service_seconds) for c, s in zip(calls, starts, strict=True))
    recent: deque[float] = deque(maxlen=50)
    fi = 0
    holdtime = 0.0  # app_queue: holdtime = (3 × holdtime + wait) / 4 at each answer
    answered = sorted(zip(starts, waits, strict=True))
    ai = 0
    actual, est_err, aq_err, told = [], [], [], []
    for i, c in enumerate(calls):
        while fi < len(finished) and finished[fi][0] <= c.arrived_at:
            recent.append(finished[fi][1])
            fi += 1
        while ai < len(answered) and answered[ai][0] <= c.arrived_at:
            holdtime = (3 * holdtime + answered[ai][1]) / 4
            ai += 1
        if waits[i] <= 1e-9:
            continue  # an agent was free: nobody to announce to
        position = i - bisect.bisect_right(starts, c.arrived_at, 0, i) + 1
        aht = sum(recent) / len(recent) if recent else AHT
        est = expected_wait(position, AGENTS, aht)
        assert est is not None
        actual.append(waits[i])
        est_err.append(est - waits[i])
        aq_err.append(holdtime - waits[i])
        told.append(announced_minutes(est, 999))
    return actual, est_err, aq_err, told


def summary(actual: list[float], err: list[float]) -> str:
    abs_err = sorted(abs(e) for e in err)
    p90 = abs_err[max(0, math.ceil(0.9 * len(abs_err)) - 1)] if abs_err else 0.0
    within = sum(1 for a, e in zip(actual, err, strict=True) if abs(e) <= max(60.0, 0.25 * a))
    return (
        f"{statistics.fmean(abs_err):7.1f} {statistics.fmean(err):+7.1f} {p90:7.1f} {within / len(err):7.1%}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--hours", type=float, default=12.0)
    args = ap.parse_args(argv)
    print(f"{AGENTS} agents, mean AHT {AHT:.0f} s, {args.hours:g} h x {args.seeds} seeds; errors in seconds")
    print(f"{'scenario':<30} {'estimator':<10} {'queued':>7} {'wait':>6} {'MAE':>7} {'bias':>7} {'p90':>7} "
          f"{'within':>7} {'kept':>6}")  # fmt: skip
    for case in CASES:
        actual: list[float] = []
        est: list[float] = []
        aq: list[float] = []
        told: list[float] = []
        for seed in range(1, args.seeds + 1):
            a, e, q, t = errors(case, seed, args.hours)
            actual += a
            est += e
            aq += q
            told += t
        kept = sum(1 for a, m in zip(actual, told, strict=True) if a <= m * 60) / len(actual)
        head = f"{case.name:<30} {'tongdai':<10} {len(actual):>7} {statistics.fmean(actual):>6.0f}"
        print(f"{head} {summary(actual, est)} {kept:6.1%}")
        print(f"{'':<30} {'app_queue':<10} {'':>7} {'':>6} {summary(actual, aq)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
