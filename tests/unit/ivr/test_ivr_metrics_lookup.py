"""Pure parts of IVR metrics (containment, drop-off) and of keyed customer IDs."""

from __future__ import annotations

from prometheus_client import generate_latest

from core.customer_id import CustomerIdFormat
from ivr.metrics import IvrMetrics, last_node, tally


def test_tally_containment_and_drop_off_by_last_node() -> None:
    stats = tally(
        [
            ("self_served", ["main:9", "self:2", "ss_points", "self"]),
            ("hung_up", ["main:2", "internet"]),
            ("hung_up", ["main"]),
            ("hung_up", ["main:2", "internet"]),
            ("transferred", ["main:1", "mobile:1", "mobile_fault"]),
            ("", []),  # never reached the IVR: not an IVR call
        ]
    )
    assert stats.calls == 5 and stats.self_served == 1
    assert stats.containment == 0.2
    assert stats.dropoff == {"internet": 2, "main": 1}
    assert stats.to_json()["outcomes"] == {"self_served": 1, "hung_up": 3, "transferred": 1}


def test_live_counters_give_the_same_numbers() -> None:
    m = IvrMetrics()
    m.observe("self_served", ["main:9", "self"])
    m.observe("hung_up", ["main:2", "internet"])
    m.observe("transferred", ["main:0", "agent"])
    m.observe("", [])
    snap = m.snapshot()
    assert snap.calls == 3 and snap.containment == 1 / 3 and snap.dropoff == {"internet": 1}
    text = generate_latest(m.registry).decode()
    assert 'tongdai_ivr_dropoff_total{node="internet"} 1.0' in text


def test_last_node_strips_keys() -> None:
    assert last_node(["main:1", "mobile:12"]) == "mobile"
    assert last_node([]) == ""


def test_keyed_digits_map_to_customer_ids() -> None:
    from_keys = CustomerIdFormat().from_keys  # the default: KH + 10 digits on the keypad
    assert from_keys("0000000001") == ["KH0000000001"]
    assert from_keys("1") == ["KH0000000001"]
    assert from_keys("12345678901") == []  # longer than an ID: an account or phone number
    assert from_keys("12*4") == []
