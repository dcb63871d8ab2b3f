"""What the benchmarks share: a restaurant config they cannot run out of, the interval of a
median over rounds, process CPU time and memory, and when each robot accepted each Cook goal
(its ledger)."""

from __future__ import annotations

import os
import random
import statistics
from pathlib import Path
from typing import Any

from robot_nodes.ledger import Ledger


def unlimited(raw: dict[str, Any]) -> dict[str, Any]:
    """A restaurant config (as loaded from YAML) without the per-table order limits (a bench
    posts far faster than one table may: 429 / 422 otherwise) and with stock that never runs out
    (still counted, so its cost is measured)."""
    raw['service'].update(orders_per_minute=0, dishes_per_session=0)
    for ingredient in raw.get('ingredients', []):
        ingredient['par'] = 10**12
    return raw


def median_interval(values: list[float], draws: int = 4000) -> tuple[float, float]:
    """A 95 % bootstrap interval of the median of `values` (rounds on a shared machine swing
    far more than the differences measured: the interval says whether a median clears a
    target or only touches it). Seeded, so a run's figures print the same every time."""
    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(draws))
    return medians[int(draws * 0.025)], medians[int(draws * 0.975) - 1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def memory_mb(pid: int, field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of a process, in MB (Linux /proc)."""
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith(field + ':'):
            return int(line.split()[1]) / 1024
    return 0.0


def accepted_times(ledger_dir: Path, robots: list[str]) -> dict[str, float]:
    """Job id -> when its robot accepted the Cook goal (wall seconds), from the ledgers."""
    out: dict[str, float] = {}
    for robot_id in robots:
        path = ledger_dir / f'{robot_id}.sqlite'
        if path.exists():
            ledger = Ledger(path)
            out |= {e.job_id: e.accepted_at for e in ledger.entries('cook')}
            ledger.close()
    return out
