"""The benchmarks' shared figures (pure)."""

from __future__ import annotations

import statistics

from bench.support import median_interval


def test_the_median_interval_brackets_the_median_and_narrows_with_rounds() -> None:
    rounds = [0.55, 0.7, 0.8, 0.84, 0.85, 0.86, 0.9, 0.95, 1.1, 1.2]
    low, high = median_interval(rounds)
    assert low <= statistics.median(rounds) <= high
    assert (low, high) == median_interval(rounds)  # seeded: a run prints the same
    wide = median_interval(rounds[:3])
    assert wide[1] - wide[0] > high - low
    assert median_interval(rounds * 5)[1] - median_interval(rounds * 5)[0] < high - low
    assert median_interval([0.9, 0.9, 0.9]) == (0.9, 0.9)
