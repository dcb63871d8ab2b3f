"""The traffic controller's account of the waits: how long each serving robot stood for a grant,
and which stood so long that they count as stuck (README "Traffic in the aisles").

Pure bookkeeping over what the controller answers; the clock is the controller's (wall seconds),
every figure is in simulated seconds (wall × time scale).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


class WaitLog:
    def __init__(self, robot_ids: Iterable[str], time_scale: float, stuck_s: float) -> None:
        self.time_scale = time_scale
        self.stuck_s = stuck_s
        # Per robot: finished waits (simulated s); the start of the current one (wall s).
        self.waits: dict[str, list[float]] = {r: [] for r in robot_ids}
        self._since: dict[str, float] = {}
        self._stuck: set[str] = set()
        # Waits that grew longer than `stuck_s`, each counted once.
        self.deadlocks = 0

    def answered(self, robot_id: str, now: float, waiting: bool, ahead: bool) -> float | None:
        """The controller answered an ask of `robot_id`: `waiting` when it refused some of what
        the robot needs, `ahead` when the robot asked before the end of its grant (still driving,
        so a refusal is no wait yet). A wait lasts from the first refused ask at the end of a
        grant until an ask is granted. Returns the wait so far when it has just become stuck."""
        since = self._since.get(robot_id)
        if not waiting:
            if since is not None:
                self.waits.setdefault(robot_id, []).append((now - since) * self.time_scale)
                del self._since[robot_id]
                self._stuck.discard(robot_id)
            return None
        if since is None:
            if not ahead:
                self._since[robot_id] = now
            return None
        waited = (now - since) * self.time_scale
        if waited <= self.stuck_s or robot_id in self._stuck:
            return None
        self._stuck.add(robot_id)
        self.deadlocks += 1
        return waited

    def stats(self, now: float) -> dict[str, Any]:
        """Per robot the waits (a current one counts as far as it went) and the fleet's finished
        waits: mean, p95 and total."""
        robots = {}
        for robot_id, done in self.waits.items():
            since = self._since.get(robot_id)
            waits = done + ([(now - since) * self.time_scale] if since is not None else [])
            robots[robot_id] = {'waits': len(waits), 'wait_s': round(sum(waits), 1)}
        every = sorted(w for ws in self.waits.values() for w in ws)
        return {
            'robots': robots,
            'wait_s': {
                'mean': round(sum(every) / len(every), 1) if every else 0.0,
                # Nearest rank, as every other p95 of the rush report: of four waits, the
                # longest (the index 0.95 × (n - 1) rounded down gave the third).
                'p95': round(every[math.ceil(0.95 * len(every)) - 1], 1) if every else 0.0,
                'total': round(sum(every), 1),
            },
            'deadlocks': self.deadlocks,
        }
