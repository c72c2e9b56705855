"""The wallboard counts a queue exit (callback, voicemail, goodbye at the maximum wait) as an exit, not
as an abandon, and against the service level, as the QCVN 36 report does (reports/service_level.py)."""

from __future__ import annotations

from typing import Any

from agent_desktop.wallboard import QueuedCall, Wallboard, compute
from core.bus import BusEvent

T0 = 1_800_000_000.0  # a fixed moment; every call below is on the same local day


async def _push(_: dict[str, Any]) -> None:
    return None


def _queue(fig: dict[str, Any], name: str) -> dict[str, Any]:
    return next(q for q in fig["queues"] if q["name"] == name)


def test_compute_counts_exits_apart_from_abandons() -> None:
    calls = [
        QueuedCall("a", "care", "gold", T0, answered_at=T0 + 5, ended_at=T0 + 65),
        QueuedCall("b", "care", "gold", T0, ended_at=T0 + 30),  # hung up waiting
        QueuedCall("c", "care", "gold", T0, ended_at=T0 + 120, exited=True),  # took the callback
    ]
    q = _queue(compute(calls, T0 + 200, 20, {}), "care")
    assert (q["offered"], q["answered"], q["abandoned"], q["exited"]) == (3, 1, 1, 1)
    assert q["sl"] == round(1 / 3, 4)


async def test_an_exit_disposition_from_the_ivr_makes_the_call_an_exit() -> None:
    now = [T0]
    wb = Wallboard(_push, queues={"care": "CSKH"}, agents={}, queue_sl=20, tier_sl={}, now=lambda: now[0])
    await wb.on_call_event(BusEvent("call.queued", "x1", {"queue": "care", "queued_at": T0}))
    await wb.on_call_event(BusEvent("call.queued", "x2", {"queue": "care", "queued_at": T0}))
    now[0] = T0 + 120
    # The exit route annotates the call (call.ivr) before the caller is let go.
    await wb.on_call_event(BusEvent("call.ivr", "x1", {"disposition": "exit_callback"}))
    for cid, disposition in (("x1", "exit_callback"), ("x2", "abandoned")):
        await wb.on_call_event(
            BusEvent("call.ended", cid, {"ended_at": T0 + 121, "disposition": disposition})
        )
    q = _queue(wb.snapshot(), "care")
    assert (q["offered"], q["abandoned"], q["exited"], q["waiting"]) == (2, 1, 1, 0)
    if wb._pending is not None:
        wb._pending.cancel()


async def test_an_exit_known_only_at_the_end_still_counts_as_one() -> None:
    wb = Wallboard(_push, queues={"care": "CSKH"}, agents={}, queue_sl=20, tier_sl={}, now=lambda: T0 + 60)
    await wb.on_call_event(BusEvent("call.queued", "v1", {"queue": "care", "queued_at": T0}))
    await wb.on_call_event(
        BusEvent("call.ended", "v1", {"ended_at": T0 + 50, "disposition": "exit_voicemail"})
    )
    q = _queue(wb.snapshot(), "care")
    assert (q["abandoned"], q["exited"], q["sl"]) == (0, 1, 0.0)
    if wb._pending is not None:
        wb._pending.cancel()
