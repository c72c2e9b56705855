"""Strict priority vs the project's aging policy at 95 % occupancy, on the same simulated calls.

    python bench/acd_policy_report.py                  # default: 5 seeds per scenario, ~3 s on 2 cores
    python bench/acd_policy_report.py --seeds 20 --hours 24

Scenarios (one pool of agents, every tier on the same skill, exponential service, AHT 180 s):

* steady    — offered load 95 % all day, vip 20 % / gold 35 % / standard 45 % of calls, callers never
  hang up (so waits show the policy, not the patience).
* busy-hour — the same mix on a day whose middle hour runs at 110 % of capacity: under strict priority
  standard callers wait as long as the peak lasts.
* patience  — steady, but callers hang up after an exponential patience (mean 180 s): abandonment.

For each scenario it prints the full table for the first seed, then per policy and tier, over all seeds:
mean and lowest SL, mean p95 and the largest worst wait. The last lines state the issue's criterion:
every tier's worst wait bounded (aging's worst wait of any tier, against strict's) and VIP's SL.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acd.policy import AcdPolicy, AcdPolicyConfig
from acd.simulate_cli import build_scenario, compare, format_comparison
from acd.simulator import SimResult

MIX = {"vip": 0.20, "gold": 0.35, "standard": 0.45}
# Half-hourly load (share of capacity) of the busy-hour day: 95 % with a 110 % hour in the middle.
BUSY_PROFILE = (0.95,) * 6 + (1.10,) * 2 + (0.95,) * 6


@dataclass(frozen=True)
class Case:
    name: str
    profile: tuple[float, ...] | None
    patience: float | None


CASES = (
    Case("steady", None, None),
    Case("busy-hour", BUSY_PROFILE, None),
    Case("patience", None, 180.0),
)


def run_case(
    case: Case, policies: list[AcdPolicy], *, agents: int, hours: float, seed: int
) -> list[SimResult]:
    capacity_per_hour = agents * 3600.0 / 180.0
    rates: dict[str, float | tuple[float, ...]] = {}
    for tier, share in MIX.items():
        if case.profile is None:
            rates[tier] = 0.95 * capacity_per_hour * share
        else:
            rates[tier] = tuple(x * capacity_per_hour * share for x in case.profile)
    scenario = build_scenario(
        tiers=list(MIX),
        rates=rates,
        patience=dict.fromkeys(MIX, case.patience),
        agents=agents,
        hours=hours if case.profile is None else len(case.profile) / 2,
        aht=180.0,
        seed=seed,
    )
    return compare(scenario, policies)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--hours", type=float, default=12.0, help="length of the steady days")
    args = ap.parse_args()
    cfg = AcdPolicyConfig()
    policies: list[AcdPolicy] = [cfg.to_strict(), cfg.to_policy()]
    print(
        "tiers:",
        ", ".join(
            f"{t.name} prio {t.base_priority} ({t.target_ratio:.0%} in {t.target_seconds:g} s)"
            for t in cfg.targets()
        ),
        f"| aging_weight {cfg.aging_weight:g}",
    )
    t0 = time.perf_counter()
    for case in CASES:
        runs = [
            run_case(case, policies, agents=args.agents, hours=args.hours, seed=s)
            for s in range(1, args.seeds + 1)
        ]
        print(
            f"\n=== {case.name}: {args.agents} agents, mix {MIX}, patience "
            f"{'none' if case.patience is None else f'{case.patience:g} s'} — seed 1 ==="
        )
        print(format_comparison(runs[0]))
        print(f"--- over {args.seeds} seeds (SL mean / lowest, p95 mean, worst max; occupancy mean) ---")
        worst_by_policy: dict[str, float] = {}
        vip_min: dict[str, float] = {}
        for i, p in enumerate(policies):
            res = [r[i] for r in runs]
            occ = statistics.mean(r.occupancy for r in res)
            cells = []
            for tier in MIX:
                sl = [r.tiers[tier].service_level for r in res]
                p95 = statistics.mean(r.tiers[tier].p95_wait for r in res)
                worst = max(r.tiers[tier].worst_wait for r in res)
                cells.append(
                    f"{tier} SL {statistics.mean(sl):.1%}/{min(sl):.1%} p95 {p95:4.0f} worst {worst:5.0f}"
                )
            worst_by_policy[p.name] = max(r.overall.worst_wait for r in res)
            vip_min[p.name] = min(r.tiers["vip"].service_level for r in res)
            print(f"{p.name:<7} occ {occ:.1%} | " + " | ".join(cells))
        ratio = worst_by_policy["aging"] / worst_by_policy["strict"]
        vip_target = cfg.targets()[0].target_ratio
        print(
            f"criterion: worst wait of any tier — strict {worst_by_policy['strict']:.0f} s, "
            f"aging {worst_by_policy['aging']:.0f} s ({ratio:.0%} of strict); VIP SL lowest over seeds — "
            f"strict {vip_min['strict']:.1%}, aging {vip_min['aging']:.1%} (target {vip_target:.0%})"
        )
    print(f"\nelapsed {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
