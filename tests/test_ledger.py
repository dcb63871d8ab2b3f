"""The robot-side job ledger: what it remembers, across reopen, and what it refuses."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from robot_nodes import ledger as lg
from robot_nodes.ledger import Ledger

GOAL = {'dish_id': 'fried-rice', 'station': 'wok', 'cook_time_s': 180.0}


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger.for_robot(tmp_path, 'wok1')


def test_accept_records_a_queued_job(ledger: Ledger, tmp_path: Path) -> None:
    entry = ledger.accept('o1-00-00', 'cook', 2, GOAL)
    assert (tmp_path / 'wok1.sqlite').exists()
    assert (entry.status, entry.epoch, entry.starts, entry.goal) == (lg.QUEUED, 2, 0, GOAL)
    assert not entry.final
    assert ledger.get('unknown') is None


def test_a_job_id_is_accepted_once(ledger: Ledger) -> None:
    ledger.accept('o1-00-00', 'cook', 0, GOAL)
    with pytest.raises(sqlite3.IntegrityError):
        ledger.accept('o1-00-00', 'cook', 1, GOAL)


def test_epoch_only_goes_up(ledger: Ledger) -> None:
    ledger.accept('o1-00-00', 'cook', 3, GOAL)
    ledger.raise_epoch('o1-00-00', 1)
    assert ledger.get('o1-00-00').epoch == 3  # type: ignore[union-attr]
    ledger.raise_epoch('o1-00-00', 5)
    assert ledger.get('o1-00-00').epoch == 5  # type: ignore[union-attr]


def test_progress_and_result_survive_reopen(ledger: Ledger, tmp_path: Path) -> None:
    ledger.accept('o1-00-00', 'cook', 0, GOAL)
    ledger.accept('o1-00-01', 'cook', 0, GOAL)
    ledger.accept('o1-00-02', 'cook', 0, GOAL)
    ledger.start('o1-00-01', 'prep')
    ledger.progress('o1-00-01', lg.ACTIVE, 'cook', 0.4)
    ledger.start('o1-00-02', 'prep')
    ledger.finish('o1-00-02', lg.DONE, {'outcome': 'cooked', 'reason': ''})
    ledger.close()

    again = Ledger.for_robot(tmp_path, 'wok1')
    running = again.get('o1-00-01')
    assert running is not None
    assert (running.status, running.stage, running.progress, running.starts) == (
        lg.ACTIVE,
        'cook',
        0.4,
        1,
    )
    # Active jobs come back first (they hold a slot), then the queue in order.
    assert [e.job_id for e in again.unfinished('cook')] == ['o1-00-01', 'o1-00-00']
    assert again.cooked_jobs() == ['o1-00-02']
    done = again.get('o1-00-02')
    assert done is not None and done.final and done.result == {'outcome': 'cooked', 'reason': ''}


def test_cancelled_jobs_are_not_counted_as_cooked(ledger: Ledger) -> None:
    ledger.accept('o1-00-00', 'cook', 0, GOAL)
    ledger.accept('o1-00-01', 'cook', 0, GOAL)
    ledger.finish('o1-00-00', lg.WITHDRAWN, {'outcome': 'cancelled', 'reason': 'withdrawn'})
    ledger.start('o1-00-01', 'prep')
    ledger.finish('o1-00-01', lg.WASTED, {'outcome': 'cancelled', 'reason': 'wasted'})
    assert ledger.cooked_jobs() == []
    assert ledger.unfinished('cook') == []
    assert [e.status for e in ledger.entries('cook')] == [lg.WITHDRAWN, lg.WASTED]


def test_trips_and_jobs_are_kept_apart(ledger: Ledger) -> None:
    ledger.accept('trip-1', 'trip', 0, {'stops': [{'table_id': 't01'}]})
    ledger.accept('o1-00-00', 'cook', 0, GOAL)
    assert [e.job_id for e in ledger.unfinished('trip')] == ['trip-1']
    assert [e.job_id for e in ledger.entries()] == ['trip-1', 'o1-00-00']


def pages(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute('PRAGMA page_count').fetchone()[0])


def test_compact_drops_old_final_jobs_and_gives_the_space_back(
    ledger: Ledger, tmp_path: Path
) -> None:
    big = {**GOAL, 'note': 'x' * 2000}
    for i in range(300):
        ledger.accept(f'o{i}-00-00', 'cook', 1, big)
        ledger.finish(f'o{i}-00-00', lg.DONE if i % 3 else lg.FAILED, {'outcome': 'cooked'})
    before = time.time()
    while time.time() == before:  # a later timestamp for what follows
        time.sleep(0.001)
    ledger.accept('old-but-open', 'cook', 1, GOAL)  # unfinished: it resumes after a restart
    ledger.accept('recent', 'cook', 1, GOAL)
    ledger.finish('recent', lg.DONE, {'outcome': 'cooked'})
    full = pages(tmp_path / 'wok1.sqlite')
    assert ledger.compact(before) == 300
    assert {e.job_id for e in ledger.entries()} == {'old-but-open', 'recent'}
    assert pages(tmp_path / 'wok1.sqlite') < full / 10
    assert ledger.compact(before) == 0
