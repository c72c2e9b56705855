"""The expected-wait estimator (acd/estimate.py)."""

from __future__ import annotations

import pytest

from acd.estimate import WaitEstimator, announced_minutes, expected_wait


def test_position_times_aht_over_agents() -> None:
    assert expected_wait(3, 2, 120.0) == 180.0
    assert expected_wait(1, 1, 90.0) == 90.0


def test_no_agents_or_no_position_gives_no_estimate() -> None:
    assert expected_wait(2, 0, 120.0) is None
    assert expected_wait(0, 3, 120.0) is None


def test_aht_is_a_moving_average_seeded_by_the_default() -> None:
    est = WaitEstimator(default_aht=200.0, window=2)
    assert est.aht == 200.0
    est.observe(100.0)
    est.observe(float("nan"))  # ignored
    est.observe(-5.0)  # ignored
    assert est.aht == 100.0
    est.observe(300.0)
    est.observe(500.0)  # the window drops the oldest
    assert est.aht == 400.0
    assert est.expected_wait(2, 4) == 200.0


@pytest.mark.parametrize(
    ("seconds", "minutes"), [(1, 1), (59.9, 1), (60, 1), (61, 2), (600, 10), (99999, 60)]
)
def test_minutes_said_are_rounded_up_and_capped(seconds: float, minutes: int) -> None:
    assert announced_minutes(seconds) == minutes


def test_bad_estimator_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        WaitEstimator(default_aht=0)
