"""The traffic controller's account of the waits alone (`orchestrator.traffic_waits`)."""

from __future__ import annotations

import pytest

from orchestrator.traffic_waits import WaitLog

SCALE, STUCK_S = 60.0, 120.0


def log() -> WaitLog:
    return WaitLog(['serve1', 'serve2'], SCALE, STUCK_S)


def test_a_wait_lasts_from_the_first_refusal_at_the_end_of_a_grant_until_a_grant() -> None:
    waits = log()
    waits.answered('serve1', 10.0, waiting=True, ahead=True)  # still driving: no wait yet
    waits.answered('serve1', 10.5, waiting=True, ahead=True)
    waits.answered('serve1', 11.0, waiting=True, ahead=False)  # stopped at the end: waits
    waits.answered('serve1', 11.2, waiting=True, ahead=False)
    waits.answered('serve1', 11.5, waiting=False, ahead=False)  # granted
    assert waits.waits['serve1'] == [pytest.approx(0.5 * SCALE)]
    stats = waits.stats(20.0)
    assert stats['robots']['serve1'] == {'waits': 1, 'wait_s': 30.0}
    assert stats['robots']['serve2'] == {'waits': 0, 'wait_s': 0.0}
    assert stats['wait_s'] == {'mean': 30.0, 'p95': 30.0, 'total': 30.0}
    assert stats['deadlocks'] == 0


def test_refusals_only_while_asking_ahead_are_no_wait() -> None:
    waits = log()
    for t in (1.0, 1.1, 1.2):
        waits.answered('serve2', t, waiting=True, ahead=True)
    waits.answered('serve2', 1.3, waiting=False, ahead=True)
    assert waits.stats(2.0)['robots']['serve2'] == {'waits': 0, 'wait_s': 0.0}


def test_a_current_wait_counts_as_far_as_it_went_and_a_long_one_is_stuck_once() -> None:
    waits = log()
    waits.answered('serve1', 0.0, waiting=True, ahead=False)
    assert waits.answered('serve1', 1.0, waiting=True, ahead=False) is None  # 60 s: not stuck
    assert waits.stats(1.5)['robots']['serve1'] == {'waits': 1, 'wait_s': 90.0}
    assert waits.stats(1.5)['wait_s']['total'] == 0.0  # only finished waits
    assert waits.answered('serve1', 2.5, waiting=True, ahead=False) == pytest.approx(150.0)
    assert waits.answered('serve1', 3.0, waiting=True, ahead=False) is None  # counted already
    assert waits.deadlocks == 1
    waits.answered('serve1', 4.0, waiting=False, ahead=False)
    # A later wait of the same robot may be stuck again.
    waits.answered('serve1', 5.0, waiting=True, ahead=False)
    assert waits.answered('serve1', 8.0, waiting=True, ahead=False) == pytest.approx(180.0)
    assert waits.stats(9.0)['deadlocks'] == 2


def test_the_p95_of_a_few_waits_is_the_nearest_rank_never_below_the_mean() -> None:
    # A rush's handful of waits printed 'waited mean 8 s, p95 6 s': the p95 took the third of
    # four waits. Nearest rank, as the rest of the rush report: of 4 waits the longest.
    waits = log()
    for start, wait in ((0.0, 2.0), (10.0, 6.0), (20.0, 10.0), (30.0, 14.0)):
        waits.answered('serve1', start, waiting=True, ahead=False)
        waits.answered('serve1', start + wait / SCALE, waiting=False, ahead=False)
    stats = waits.stats(40.0)['wait_s']
    assert stats == {'mean': 8.0, 'p95': 14.0, 'total': 32.0}
    twenty = log()
    for i in range(20):
        twenty.answered('serve2', 10.0 * i, waiting=True, ahead=False)
        twenty.answered('serve2', 10.0 * i + (i + 1) / SCALE, waiting=False, ahead=False)
    assert twenty.stats(300.0)['wait_s']['p95'] == 19.0  # 19 of 20 waits are at most 19 s
