"""Erlang C against published figures, and numerical stability for large pools."""

from __future__ import annotations

import math

import pytest

from acd import erlang


def test_ten_erlangs_fourteen_agents() -> None:
    # The reference numbers (field notes) come out with AHT = 180 s.
    assert erlang.prob_wait(10, 14) == pytest.approx(0.1741, abs=1e-4)
    assert erlang.service_level(10, 14, 180, 20) == pytest.approx(0.888, abs=5e-4)
    assert erlang.average_speed_of_answer(10, 14, 180) == pytest.approx(7.8, abs=0.05)


def test_two_hundred_forty_erlangs_two_hundred_fifty_agents() -> None:
    # 0.821 and 9.9 s hold for AHT = 240 s (with 180 s it would be 0.864 and 7.4 s).
    assert erlang.service_level(240, 250, 240, 20) == pytest.approx(0.821, abs=5e-4)
    assert erlang.average_speed_of_answer(240, 250, 240) == pytest.approx(9.9, abs=0.05)


def test_erlang_b_small_case_by_hand() -> None:
    # B(A=2, N=2) = (2²/2!) / (1 + 2 + 2) = 0.4
    assert erlang.erlang_b(2, 2) == pytest.approx(0.4)
    # C(A=1, N=2) = 1/3 by the closed form.
    assert erlang.prob_wait(1, 2) == pytest.approx(1 / 3)


def test_large_pools_stay_finite() -> None:
    for n in (250, 1000, 5000):
        c = erlang.prob_wait(0.97 * n, n)
        assert 0.0 < c < 1.0 and math.isfinite(c)


def test_unstable_and_invalid_inputs() -> None:
    assert erlang.prob_wait(14, 14) == 1.0
    assert erlang.service_level(15, 14, 180, 20) == 0.0
    assert erlang.average_speed_of_answer(15, 14, 180) == math.inf
    with pytest.raises(ValueError):
        erlang.prob_wait(10, 0)
    with pytest.raises(ValueError):
        erlang.service_level(10, 14, 0, 20)


def test_staffing_for_target() -> None:
    n = erlang.agents_for_service_level(10, 180, 20, 0.80)
    assert erlang.service_level(10, n, 180, 20) >= 0.80 > erlang.service_level(10, n - 1, 180, 20)
    assert n == 14  # 13 agents give 0.796
