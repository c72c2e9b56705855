"""Drill: 200 FastAGI callers within one second at the bridge process, lookups on PostgreSQL. Every
caller gets its routing decision (none refused, none dropped); the decision time the node measures
(``tongdai_fastagi_decision_seconds`` on /metrics) is printed, not asserted: speed is for the
benchmarks (bench/bench_fastagi.py; this drill's figures are in docs/benchmarks.md)."""

from __future__ import annotations

import asyncio
import os
import re
import statistics

import pytest

from ivr.agi_script import ScriptedCall
from tests.drills.conftest import NewBridge

pytestmark = [pytest.mark.drills, pytest.mark.asterisk, pytest.mark.postgres]

CALLERS = int(os.environ.get("DRILL_BURST_CALLERS", "200"))
KNOWN = ("0912345678", "0987654321", "0333333333")  # demo customers: the lookup finds them


def histogram_quantile(text: str, name: str, q: float) -> tuple[float, int]:
    """The upper bound of the bucket holding quantile ``q`` (Prometheus' histogram_quantile without
    interpolation), and the number of observations."""
    buckets: dict[float, float] = {}
    for m in re.finditer(rf"^{name}_bucket{{(.*?)}} (\S+)$", text, re.M):
        le = re.search(r'le="([^"]+)"', m.group(1))
        assert le
        bound = float("inf") if le.group(1) == "+Inf" else float(le.group(1))
        buckets[bound] = buckets.get(bound, 0.0) + float(m.group(2))
    total = buckets.get(float("inf"), 0.0)
    for bound in sorted(buckets):
        if buckets[bound] >= q * total:
            return bound, int(total)
    return float("inf"), int(total)


async def test_200_fastagi_callers_within_one_second(drill_db: str, new_bridge: NewBridge) -> None:
    bridge = new_bridge(drill_db)
    bridge.start()
    await bridge.wait_ready()
    port = int(bridge.config["asterisk"]["agi"]["port"])
    loop = asyncio.get_running_loop()

    async def caller(i: int) -> ScriptedCall:
        await asyncio.sleep(i / CALLERS)  # arrivals spread over one second
        number = KNOWN[i % 3] if i % 2 else f"09120{i:05d}"
        call = ScriptedCall(caller=number, keys="1", uniqueid=f"tdtest-burst.{i}")
        return await call.run("127.0.0.1", port, timeout=60)

    t0 = loop.time()
    calls = await asyncio.gather(*(caller(i) for i in range(CALLERS)))
    took = loop.time() - t0
    decided = [c for c in calls if any("TONGDAI_ACTION" in cmd and "queue" in cmd for cmd in c.commands)]
    assert len(decided) == CALLERS, [c.commands for c in calls if c not in decided][:3]
    text = await bridge.metrics()
    p99, n = histogram_quantile(text, "tongdai_fastagi_decision_seconds", 0.99)
    p50, _ = histogram_quantile(text, "tongdai_fastagi_decision_seconds", 0.50)
    assert n >= CALLERS
    client = sorted(x for c in calls for x in c.latencies)
    print(
        f"\nFastAGI burst: {CALLERS} callers in 1 s, all routed in {took:.1f} s; node's decision time "
        f"p50 ≤ {p50 * 1000:.0f} ms, p99 ≤ {p99 * 1000:.0f} ms (histogram bucket bounds, {n} decisions); "
        f"client-side p99 {client[int(len(client) * 0.99) - 1] * 1000:.0f} ms, "
        f"median {statistics.median(client) * 1000:.1f} ms"
    )
