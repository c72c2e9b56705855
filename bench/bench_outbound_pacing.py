"""Benchmark: progressive vs predictive pacing in the outbound simulator, per seed and team size.

Prints, for each scenario and seed: dials, answered, abandoned rate (cap 3 %), agent occupancy and the
mean time an agent waits between calls. The same customers (dial outcomes) meet both pacings.

    python bench/bench_outbound_pacing.py [--hours 8] [--seeds 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from campaigns.pacing import PacingConfig
from campaigns.simulator import OutboundScenario, draw_outcomes, simulate_outbound


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hours", type=float, default=8.0)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--cap", type=float, default=0.03)
    args = p.parse_args()
    print(f"{'agents':>6} {'answer':>6} {'seed':>4}  {'mode':<11} {'dials':>6} {'answered':>8} "
          f"{'abandoned':>9} {'occupancy':>9} {'agent wait':>10}")  # fmt: skip
    t0 = time.perf_counter()
    for agents, answer_rate in ((5, 0.35), (20, 0.35), (50, 0.35), (20, 0.15), (20, 0.7)):
        for seed in range(1, args.seeds + 1):
            s = OutboundScenario(agents=agents, hours=args.hours, answer_rate=answer_rate, seed=seed)
            outcomes = draw_outcomes(s, int(agents * args.hours * 3600 / 10) + 1000)
            for mode in ("progressive", "predictive"):
                r = simulate_outbound(s, PacingConfig(mode=mode, abandon_cap=args.cap), outcomes)
                print(
                    f"{agents:>6} {answer_rate:>6.0%} {seed:>4}  {mode:<11} {r.dials:>6} {r.answered:>8} "
                    f"{r.abandon_rate:>9.2%} {r.occupancy:>9.1%} {r.mean_agent_wait:>9.0f}s"
                )
    print(f"simulated in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
