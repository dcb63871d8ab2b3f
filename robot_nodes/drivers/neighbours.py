"""What a serving robot knows of the others on the floor: their shared poses.

Every serving robot's driver publishes its pose on `POSES_TOPIC` (std_msgs/String, JSON:
`robot_id`, `x`, `y`, `theta`, `v` — speed along theta, m/s —, `radius` of its footprint,
`blocked_by` — the robot it is stopped for, or '' —, `stamp_ns` — the wall clock —, `via`,
the corners of its path it went round since its last report, and `waiting_for` — the robot
the traffic controller has it wait for, or '') while it moves, once more when it
stops and once a second while it stands. It stands in for the obstacle sensor of a real robot,
so it is not signed: a rogue publisher can make robots stop for a ghost, nothing more (README
"Security → ROS 2"), and only under the id of one of the restaurant's serving robots once the
board is told them (`PoseBoard.peers`).

`clearance` (pure) is the obstacle stop's geometry: how far a robot may still drive along its
path before another robot's footprint is in the way.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Container, Iterable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rclpy.node import Node

Point = tuple[float, float]
POSES_TOPIC = '/robodine/floor/poses'
# Fastest rate (Hz) a pose goes out, and the slowest while the robot stands still.
SHARE_HZ = 25.0
STANDING_HZ = 1.0
# Distance (m) kept between two footprints when one stops for the other.
GAP_M = 0.1
# Sideways, a robot is in the way when footprints would come closer than this (m) beyond
# touching: less than the margin of two lanes (orchestrator.traffic.PASSING_MARGIN_M / 2).
SIDE_MARGIN_M = 0.02
# A pose older than this (wall s) is of a robot that stopped: it is not extrapolated.
EXTRAPOLATE_S = 0.5
# Wall seconds between two warnings about poses from robots that are not peers.
IGNORED_LOG_S = 60.0


@dataclass(frozen=True)
class PoseReport:
    robot_id: str
    x: float
    y: float
    theta: float
    v: float
    radius: float
    blocked_by: str
    stamp_ns: int
    # Corners of its path it went round since its last report, in order: between two reports
    # it drove from the last pose through these to this one.
    via: tuple[Point, ...] = ()
    waiting_for: str = ''

    def encode(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def decode(cls, text: str) -> PoseReport:
        d = json.loads(text)
        return cls(
            str(d['robot_id']),
            float(d['x']),
            float(d['y']),
            float(d['theta']),
            float(d['v']),
            float(d['radius']),
            str(d.get('blocked_by', '')),
            int(d['stamp_ns']),
            tuple((float(x), float(y)) for x, y in d.get('via', ())),
            str(d.get('waiting_for', '')),
        )

    def age_s(self, now_ns: int, time_scale: float) -> float | None:
        """Simulated seconds since the report; None once it is more than `EXTRAPOLATE_S`
        (wall) old: a moving robot reports far more often, so it has stopped (or died)."""
        wall_s = max(now_ns - self.stamp_ns, 0) / 1e9
        return wall_s * time_scale if wall_s <= EXTRAPOLATE_S else None

    def ahead(self, seconds: float) -> Point:
        """Where the robot is after `seconds` if it kept its heading and speed."""
        return (
            self.x + self.v * seconds * math.cos(self.theta),
            self.y + self.v * seconds * math.sin(self.theta),
        )


@dataclass(frozen=True)
class Obstacle:
    """Another robot as the obstacle stop sees it: its centre, footprint radius, and how far
    (m) it may come towards us before it stops."""

    robot_id: str
    x: float
    y: float
    radius: float
    closing_m: float = 0.0


def clearance(
    path: list[Point], radius: float, obstacles: Iterable[Obstacle]
) -> tuple[float, str]:
    """(metres, robot id): how far along `path` (from the robot's centre, `path[0]`) the robot
    may drive before its footprint comes within `GAP_M` of another's that is ahead of it, and
    which robot that is; (inf, '') when nothing is in the way. An obstacle counts when it lies
    ahead on a segment and within touching distance + `SIDE_MARGIN_M` sideways of it; one
    beside or behind the robot, or in the other lane of a wide aisle, does not."""
    best, who = math.inf, ''
    for ob in obstacles:
        side = radius + ob.radius + SIDE_MARGIN_M
        keep = radius + ob.radius + GAP_M
        walked = 0.0
        for (ax, ay), (bx, by) in itertools.pairwise(path):
            length = math.hypot(bx - ax, by - ay)
            if length < 1e-9:
                continue
            ux, uy = (bx - ax) / length, (by - ay) / length
            ahead = (ob.x - ax) * ux + (ob.y - ay) * uy
            lateral = abs((ob.x - ax) * uy - (ob.y - ay) * ux)
            # In the way on this segment: ahead, not beside the line, and short of its end or
            # close enough to the end that the robot would touch it there.
            if (
                ahead > 0
                and lateral < side
                and (ahead <= length or math.hypot(ahead - length, lateral) < keep)
            ):
                free = walked + ahead - math.sqrt(max(keep * keep - lateral * lateral, 0.0))
                free -= ob.closing_m
                if free < best:
                    best, who = max(free, 0.0), ob.robot_id
                break
            walked += length
            if walked - keep > best:
                break
    return best, who


class PoseBoard:
    """Publishes this robot's pose and keeps the latest of every other robot's (`others`)."""

    def __init__(self, node: Node, robot_id: str) -> None:
        from std_msgs.msg import String

        self._string = String
        self.robot_id = robot_id
        self.others: dict[str, PoseReport] = {}
        # The robots whose poses it keeps (None: every robot's). Anyone may publish on the
        # topic: an id kept once would be kept for good, and robots would stop for it.
        self.peers: frozenset[str] | None = None
        # Reports dropped because their robot is not a peer.
        self.ignored = 0
        self._pub = node.create_publisher(String, POSES_TOPIC, 10)
        self._sub = node.create_subscription(String, POSES_TOPIC, self._on_pose, 50)
        self._node = node
        self._sent: PoseReport | None = None
        # The pose as of the previous call, so motion that starts after a long stand is shown
        # starting when it did, not when the last standing report went out.
        self._previous: PoseReport | None = None
        self._via: list[Point] = []

    def _on_pose(self, msg: Any) -> None:
        try:
            report = PoseReport.decode(msg.data)
        except (ValueError, KeyError, TypeError):
            return  # not a pose; the topic is open to anyone
        if report.robot_id == self.robot_id:
            return
        if self.peers is not None and report.robot_id not in self.peers:
            self.ignored += 1
            # Throttled: a rogue publisher may send any number of ids.
            self._node.get_logger().warning(
                f'ignoring poses from {report.robot_id[:40]!r}, not a serving robot of this '
                f'restaurant ({self.ignored} ignored so far)',
                throttle_duration_sec=IGNORED_LOG_S,
            )
            return
        if report.robot_id not in self.others:
            # From here on its obstacle stop knows of that robot (tests wait for this line).
            self._node.get_logger().info(f'sees {report.robot_id}')
        self.others[report.robot_id] = report

    def share(self, report: PoseReport) -> None:
        """Publish `report` when the robot moves (at most `SHARE_HZ`), once when it has
        stopped, and at `STANDING_HZ` while it stands; corners passed in between go with the
        next one published."""
        previous, self._previous = self._previous, report
        sent = self._sent
        self._via += report.via
        if sent is not None:
            since_s = (report.stamp_ns - sent.stamp_ns) / 1e9
            moved = _moved(report, sent)
            if since_s < 1.0 / SHARE_HZ or (not moved and since_s < 1.0 / STANDING_HZ):
                return
            if (
                moved
                and previous is not None
                and previous is not sent
                and not _moved(previous, sent)
            ):
                self._publish(replace(previous, via=()))
        self._publish(replace(report, via=tuple(self._via)))
        self._via = []

    def _publish(self, report: PoseReport) -> None:
        self._sent = report
        self._pub.publish(self._string(data=report.encode()))

    def close(self) -> None:
        self._node.destroy_subscription(self._sub)
        self._node.destroy_publisher(self._pub)


class PeerWait:
    """Holds a robot's first drive after it starts until it has heard every peer at least once
    (its obstacle stop then knows where they all are; DDS discovery between processes takes a
    fraction of a second, more under load) or `wait_s` (wall) have passed: one may be off."""

    def __init__(self, peers: Iterable[str], start_s: float, wait_s: float) -> None:
        self.peers = frozenset(peers)
        self.wait_s = wait_s
        self.until_s = start_s + wait_s
        self.over = False

    def unheard(self, heard: Container[str]) -> list[str]:
        return sorted(p for p in self.peers if p not in heard)

    def update(self, heard: Container[str], now_s: float) -> bool:
        """Whether the wait is over (for good) as of monotonic `now_s`."""
        self.over = self.over or now_s >= self.until_s or not self.unheard(heard)
        return self.over


def _moved(a: PoseReport, b: PoseReport) -> bool:
    return _shown(a) != _shown(b)


def _shown(r: PoseReport) -> tuple[float, float, float, str, str]:
    """What the others must hear of when it changes."""
    return (r.x, r.y, r.theta, r.blocked_by, r.waiting_for)
