"""Benchmark: progressive vs predictive pacing in the outbound simulator, per seed and scenario.

Prints, for each scenario and seed: dials, answered (by a person), machines, abandoned rate (cap 3 %),
agent occupancy and the mean time an agent waits between calls. The same customers (dial outcomes)
meet both pacings. The last scenario is the real-Asterisk test's campaign
(tests/asterisk/test_campaign_predictive.py: short rings and calls, a handful of agents).

    python bench/bench_outbound_pacing.py [--hours 8] [--seeds 3] [--cap 0.03]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from campaigns.pacing import PacingConfig
from campaigns.simulator import OutboundScenario, draw_outcomes, simulate_outbound

SCENARIOS: list[tuple[str, dict[str, Any]]] = [
    ("5 agents, 35 % answer", {"agents": 5, "answer_rate": 0.35}),
    ("20 agents, 35 % answer", {"agents": 20, "answer_rate": 0.35}),
    ("50 agents, 35 % answer", {"agents": 50, "answer_rate": 0.35}),
    ("20 agents, 15 % answer", {"agents": 20, "answer_rate": 0.15}),
    ("20 agents, 70 % answer", {"agents": 20, "answer_rate": 0.70}),
    (
        "20 agents, 40 % answer, 25 % of them machines, wrap-up cv 0.8",
        {"agents": 20, "answer_rate": 0.40, "machine_rate": 0.25, "wrapup_cv": 0.8},
    ),
]
SANDBOX = {
    "agents": 4, "answer_rate": 0.6, "ring_answered": (1.0, 4.0), "ring_unanswered": 5.0,
    "mean_talk": 3.5, "talk_cv": 0.3, "wrapup": 1.0, "hours": 0.1,
}  # fmt: skip
SCENARIOS.append(("sandbox test: 4 agents, 60 % answer, ring 1-4 s, talk 3.5 s, wrap-up 1 s", SANDBOX))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hours", type=float, default=8.0)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--cap", type=float, default=0.03)
    args = p.parse_args()
    t0 = time.perf_counter()
    for title, kw in SCENARIOS:
        print(f"\n{title}")
        print(f"{'seed':>4}  {'mode':<11} {'dials':>6} {'answered':>8} {'machines':>8} "
              f"{'abandoned':>9} {'occupancy':>9} {'agent wait':>10}")  # fmt: skip
        for seed in range(1, args.seeds + 1):
            s = OutboundScenario(**{"hours": args.hours, **kw, "seed": seed})
            mean_hold = s.mean_talk + s.wrapup + s.ring_answered[0]
            outcomes = draw_outcomes(s, int(s.agents * s.hours * 3600 / mean_hold / s.answer_rate * 3) + 1000)
            for mode in ("progressive", "predictive"):
                r = simulate_outbound(s, PacingConfig(mode=mode, abandon_cap=args.cap), outcomes)
                print(
                    f"{seed:>4}  {mode:<11} {r.dials:>6} {r.answered:>8} {r.machines:>8} "
                    f"{r.abandon_rate:>9.2%} {r.occupancy:>9.1%} {r.mean_agent_wait:>9.1f}s"
                )
    print(f"\nsimulated in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
