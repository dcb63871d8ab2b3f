"""The robot's own on-disk record of the jobs (and trips) it accepted: exactly once on its side.

The dispatcher may resend a goal (its connection dropped, it restarted, a lease expired); the
robot may be killed mid-cook. Every accepted job id is written here, with fsync, before any
work starts, together with the highest epoch seen for it, its stage, progress and result:

- a goal for a job already in the ledger is answered from it (finished: the stored result;
  unfinished: attached to the running job) instead of cooking again;
- a goal whose epoch is lower than the ledger's is refused (fencing a stale dispatcher);
- after a restart the node resumes every unfinished job from its saved stage and progress.

One sqlite file per robot (`<ledger_dir>/<robot_id>.sqlite`), `synchronous=FULL`, so a record
survives power loss once the call returns. Only the node's executor thread writes.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Job statuses. queued: accepted, waiting for a free slot; active: being worked on;
# the rest are final. 'withdrawn' is a cancelled job that never started, 'wasted' one that
# was cancelled after cooking had begun (its food is thrown away).
QUEUED = 'queued'
ACTIVE = 'active'
DONE = 'done'
FAILED = 'failed'
WITHDRAWN = 'withdrawn'
WASTED = 'wasted'
FINAL = (DONE, FAILED, WITHDRAWN, WASTED)
# SQLite's page cache of a ledger, KiB. Its default (2 MB a connection) fills with the pages of
# every job of the day, which a robot host of many robots showed as memory growing with each
# order (`bench/ledger_memory.py`); the ledger reads one row by key, mostly among the newest.
CACHE_KIB = 128

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id      TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,          -- 'cook' or 'trip'
    epoch       INTEGER NOT NULL,
    status      TEXT NOT NULL,
    stage       TEXT NOT NULL DEFAULT '',
    progress    REAL NOT NULL DEFAULT 0,  -- fraction of the current stage done
    starts      INTEGER NOT NULL DEFAULT 0,  -- times work began from scratch (must stay <= 1)
    goal        TEXT NOT NULL,          -- JSON of the goal, to resume without it
    result      TEXT,                   -- JSON of the final result
    accepted_at REAL NOT NULL,
    updated_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
"""


@dataclass(frozen=True)
class Entry:
    job_id: str
    kind: str
    epoch: int
    status: str
    stage: str
    progress: float
    starts: int
    goal: dict[str, Any]
    result: dict[str, Any] | None
    accepted_at: float
    updated_at: float

    @property
    def final(self) -> bool:
        return self.status in FINAL


class Ledger:
    def __init__(self, path: str | Path, cache_kib: int = CACHE_KIB) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute('PRAGMA journal_mode=WAL')
        self._db.execute('PRAGMA synchronous=FULL')
        self._db.execute(f'PRAGMA cache_size=-{cache_kib}')
        self._db.executescript(_SCHEMA)

    @classmethod
    def for_robot(cls, ledger_dir: str | Path, robot_id: str) -> Ledger:
        return cls(Path(ledger_dir) / f'{robot_id}.sqlite')

    def close(self) -> None:
        self._db.close()

    def get(self, job_id: str) -> Entry | None:
        row = self._db.execute('SELECT * FROM jobs WHERE job_id = ?', (job_id,)).fetchone()
        return _entry(row) if row else None

    def accept(self, job_id: str, kind: str, epoch: int, goal: dict[str, Any]) -> Entry:
        """Record a new job as queued; raises sqlite3.IntegrityError if it is already known."""
        now = time.time()
        self._db.execute(
            'INSERT INTO jobs (job_id, kind, epoch, status, goal, accepted_at, updated_at) '
            'VALUES (?, ?, ?, ?, ?, ?, ?)',
            (job_id, kind, epoch, QUEUED, json.dumps(goal), now, now),
        )
        entry = self.get(job_id)
        assert entry is not None
        return entry

    def raise_epoch(self, job_id: str, epoch: int) -> None:
        self._db.execute(
            'UPDATE jobs SET epoch = ?, updated_at = ? WHERE job_id = ? AND epoch < ?',
            (epoch, time.time(), job_id, epoch),
        )

    def progress(self, job_id: str, status: str, stage: str, progress: float) -> None:
        self._db.execute(
            'UPDATE jobs SET status = ?, stage = ?, progress = ?, updated_at = ? WHERE job_id = ?',
            (status, stage, progress, time.time(), job_id),
        )

    def start(self, job_id: str, stage: str) -> None:
        """The job leaves the queue: work begins from scratch."""
        self._db.execute(
            'UPDATE jobs SET status = ?, stage = ?, progress = 0, starts = starts + 1, '
            'updated_at = ? WHERE job_id = ?',
            (ACTIVE, stage, time.time(), job_id),
        )

    def finish(self, job_id: str, status: str, result: dict[str, Any]) -> None:
        assert status in FINAL, status
        self._db.execute(
            'UPDATE jobs SET status = ?, result = ?, updated_at = ? WHERE job_id = ?',
            (status, json.dumps(result), time.time(), job_id),
        )

    def unfinished(self, kind: str) -> list[Entry]:
        """Jobs of `kind` not yet final, oldest first (active before queued)."""
        rows = self._db.execute(
            'SELECT * FROM jobs WHERE kind = ? AND status IN (?, ?) '
            "ORDER BY status = 'queued', accepted_at, rowid",
            (kind, ACTIVE, QUEUED),
        ).fetchall()
        return [_entry(r) for r in rows]

    def entries(self, kind: str | None = None) -> list[Entry]:
        if kind is None:
            rows = self._db.execute('SELECT * FROM jobs ORDER BY accepted_at, rowid').fetchall()
        else:
            rows = self._db.execute(
                'SELECT * FROM jobs WHERE kind = ? ORDER BY accepted_at, rowid', (kind,)
            ).fetchall()
        return [_entry(r) for r in rows]

    def compact(self, before: float) -> int:
        """Delete final jobs last changed before `before` (time.time()) and give the space
        back; returns how many went. Unfinished jobs stay whatever their age (they resume)."""
        finals = ', '.join('?' * len(FINAL))
        deleted = self._db.execute(
            f'DELETE FROM jobs WHERE status IN ({finals}) AND updated_at < ?', (*FINAL, before)
        ).rowcount
        if deleted:
            self._db.execute('VACUUM')
        return int(deleted)

    def cooked_jobs(self) -> list[str]:
        """Ids of the dishes this robot finished cooking, in acceptance order."""
        rows = self._db.execute(
            "SELECT job_id FROM jobs WHERE kind = 'cook' AND status = ? ORDER BY accepted_at",
            (DONE,),
        ).fetchall()
        return [r[0] for r in rows]


def _entry(row: tuple[Any, ...]) -> Entry:
    (
        job_id,
        kind,
        epoch,
        status,
        stage,
        progress,
        starts,
        goal,
        result,
        accepted_at,
        updated_at,
    ) = row
    return Entry(
        job_id=job_id,
        kind=kind,
        epoch=epoch,
        status=status,
        stage=stage,
        progress=progress,
        starts=starts,
        goal=json.loads(goal),
        result=json.loads(result) if result else None,
        accepted_at=accepted_at,
        updated_at=updated_at,
    )
