"""Which robot cooks a job: the seam the scheduling work replaces.

The dispatcher keeps a `RobotView` of each robot (its last heartbeat and the jobs the dispatcher
has in flight on it) and asks `pick_cook` for each job in arrival order. The first policy is
deliberately simple: a robot that serves the station, is working (idle or busy — not paused,
e-stopped, charging, faulted or lost), has a free slot, and has the shortest queue; robots the
job already failed on are used only when no other robot can take it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Modes in which a robot takes new work.
WORKING = frozenset({'idle', 'busy'})


@dataclass
class RobotView:
    robot_id: str
    kind: str  # 'cooking' | 'serving'
    stations: frozenset[str] = frozenset()
    # Cooking: dishes at once. Serving: trays.
    capacity: int = 1
    # 'unknown' until the first heartbeat; 'lost' when heartbeats stopped.
    mode: str = 'unknown'
    # Jobs (or the trip) the robot reports in its heartbeat.
    reported: frozenset[str] = frozenset()
    # Jobs (or trips) this dispatcher has sent to it and not had an answer for.
    assigned: set[str] = field(default_factory=set)
    # Its action server is discovered, so a goal sent now reaches it.
    reachable: bool = False

    @property
    def load(self) -> int:
        return len(self.assigned | self.reported)

    @property
    def free(self) -> int:
        return self.capacity - self.load

    @property
    def available(self) -> bool:
        return self.mode in WORKING and self.reachable


@dataclass(frozen=True)
class JobView:
    job_id: str
    station: str
    failed_on: frozenset[str] = frozenset()


def pick_cook(job: JobView, robots: Mapping[str, RobotView]) -> str | None:
    """The robot to cook `job` now, or None to keep it queued."""
    able = [
        r
        for r in robots.values()
        if r.kind == 'cooking' and job.station in r.stations and r.available and r.free > 0
    ]
    fresh = [r for r in able if r.robot_id not in job.failed_on]
    return _least_loaded(fresh or able)


def _least_loaded(robots: Iterable[RobotView]) -> str | None:
    best = min(robots, key=lambda r: (r.load / r.capacity, r.load, r.robot_id), default=None)
    return None if best is None else best.robot_id
