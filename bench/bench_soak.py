"""Soak benchmark (issue 14): 200 calls up at once for 10 minutes on the bridge process, with the
sandbox's Asterisk, a throwaway PostgreSQL and a redis-server; prints the bridge's RSS over time.

It is the soak drill (tests/drills/test_soak.py) at the issue's full duration; CI runs the same drill
for 90 s. Needs root (the sandbox chroot, the throwaway PostgreSQL).

    .venv/bin/python bench/bench_soak.py                    # 600 s, 200 calls
    .venv/bin/python bench/bench_soak.py --seconds 120 --calls 100
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--calls", type=int, default=200)
    args = p.parse_args()
    env = {**os.environ, "DRILL_SOAK_SECONDS": str(args.seconds), "DRILL_SOAK_CALLS": str(args.calls)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-o", "timeout=0"]
    cmd.append(str(REPO / "tests/drills/test_soak.py"))
    return subprocess.call(cmd, cwd=REPO, env=env)


if __name__ == "__main__":
    sys.exit(main())
