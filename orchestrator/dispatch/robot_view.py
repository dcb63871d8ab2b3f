"""The dispatcher's view of each robot: its last heartbeat and what the dispatcher has in
flight on it, hence its free slots and whether it takes work now. Which dish goes to which
robot is decided in `scheduling.py` from these views."""

from __future__ import annotations

from dataclasses import dataclass, field

# Modes in which a robot takes new work.
WORKING = frozenset({'idle', 'busy'})
# Not heard for a while (`service.robot_unreachable_after_s`, `robot_lost_after_s`): an
# unreachable robot keeps its work, a lost one loses it.
SILENT = frozenset({'unreachable', 'lost'})


@dataclass
class RobotView:
    robot_id: str
    kind: str  # 'cooking' | 'serving'
    stations: frozenset[str] = frozenset()
    # Cooking: dishes at once. Serving: trays.
    capacity: int = 1
    # 'unknown' until the first heartbeat; then its own, or one of SILENT when it went quiet.
    mode: str = 'unknown'
    # Jobs (or the trip) the robot reports in its heartbeat.
    reported: frozenset[str] = frozenset()
    # Jobs (or trips) this dispatcher has sent to it and not had an answer for.
    assigned: set[str] = field(default_factory=set)
    # Jobs whose result arrived but that its last heartbeat still reported: their slots are
    # free now, not at the next heartbeat.
    released: set[str] = field(default_factory=set)
    # Its action server is discovered, so a goal sent now reaches it.
    reachable: bool = False
    # Its last heartbeat's charge (0-1) and position (serving robots plan trips with them).
    battery: float = 1.0
    x: float = 0.0
    y: float = 0.0
    # Accepted goals its heartbeats have stopped listing with no result come: since when.
    unlisted: dict[str, float] = field(default_factory=dict)
    # Heartbeats heard: a count that tells "heard since" (`Serving` waits for the next one
    # after the robot rejected a trip).
    beats: int = 0

    @property
    def load(self) -> int:
        return len(self.assigned | (self.reported - self.released))

    def heard(self, reported: frozenset[str]) -> None:
        """A heartbeat: what it works on now."""
        self.beats += 1
        self.reported = reported
        self.released &= reported

    def result_lost(self, accepted: list[str], now: float, after_s: float) -> list[str]:
        """Of the goals it accepted whose result has not come, those its heartbeats have not
        listed for `after_s`: it let them go (done, or failed) and the result was lost on the
        way, or asked for after the robot had dropped the goal. A goal sent again is answered
        from the robot's ledger; without that the job would wait for its result for good."""
        self.unlisted = {j: self.unlisted.get(j, now) for j in accepted if j not in self.reported}
        lost = [j for j, since in self.unlisted.items() if now - since >= after_s]
        for j in lost:
            del self.unlisted[j]  # asked again: it starts over
        return lost

    @property
    def free(self) -> int:
        return self.capacity - self.load

    @property
    def available(self) -> bool:
        return self.mode in WORKING and self.reachable
