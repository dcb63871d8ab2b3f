"""Traffic controller node: grants serving robots the narrow aisles and junctions ahead of them
(`orchestrator.traffic`, README "Traffic in the aisles").

Serves `/robodine/traffic/reserve` (restaurant_interfaces/srv/Reserve): a robot reports where
it is on its leg and asks to drive further; the answer is how far it may, on a detour when it
has waited long enough for what another robot holds and a way round exists. Every ask must carry
the robot's HMAC (the controller holds every serving robot's key, like the dispatcher), be fresh
and newer than that robot's last one; anything else is refused and logged. The controller keeps
nothing on disk: robots ask at least once a second, so after a restart it knows within a second
what each robot holds.

Publishes the fleet's traffic figures once a second as JSON on `/robodine/traffic/stats`
(std_msgs/String, transient-local): per robot the waits (simulated seconds) and detours taken
(`replans`), refusals, robots stuck longer than `service.traffic_stuck_s` without a grant
(`deadlocks`), conflicting holds.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from restaurant_interfaces.srv import Reserve
from std_msgs.msg import String

from orchestrator.config import ConfigError, load_restaurant
from orchestrator.settings import DEFAULT_CONFIG
from orchestrator.traffic import Ask, Controller, RouteError, TrafficMap
from robot_nodes import auth
from robot_nodes.ros_network import latched, spin

RESERVE_SERVICE = '/robodine/traffic/reserve'
STATS_TOPIC = '/robodine/traffic/stats'


class TrafficController(Node):
    def __init__(self) -> None:
        super().__init__('traffic_controller', namespace='/robodine')
        number = ParameterDescriptor(dynamic_typing=True)
        config_path = self.declare_parameter('config_path', str(DEFAULT_CONFIG)).value
        self.time_scale = float(self.declare_parameter('time_scale', 1.0, number).value)
        key_dir = self.declare_parameter('key_dir', 'var/robot_keys').value
        cfg = load_restaurant(config_path)
        robots = cfg.serving_robots
        self.keys = auth.load_keys(Path(key_dir), [r.id for r in robots])
        self.stuck_s = cfg.service.traffic_stuck_s
        service = cfg.service
        self.controller = Controller(
            TrafficMap.of_restaurant(cfg),
            # Its clock is the wall clock: simulated seconds over the time scale.
            replan_after_s=service.traffic_replan_after_s / self.time_scale,
            detour_max_m=service.traffic_detour_max_m,
        )
        self.replay = auth.Replay()
        self._last_stamp: dict[str, int] = {}
        # Per robot: finished waits (simulated s), the start of the current one, stuck ones.
        self.waits: dict[str, list[float]] = {r.id: [] for r in robots}
        self._waiting_since: dict[str, float] = {}
        self._stuck: set[str] = set()
        self.deadlocks = 0
        self.create_service(Reserve, RESERVE_SERVICE, self._on_reserve)
        self.stats_pub = self.create_publisher(String, STATS_TOPIC, latched(depth=1))
        self.create_timer(1.0, self._publish_stats)
        self.get_logger().info(
            f'traffic controller: {len(robots)} serving robots, '
            f'{len(set(self.controller.map.stretch_of.values()))} narrow stretches, '
            f'{len(self.controller.map.junctions)} junctions'
        )

    def _on_reserve(self, req: Reserve.Request, resp: Reserve.Response) -> Reserve.Response:
        resp.granted = req.granted
        key = self.keys.get(req.robot_id)
        if key is None or not auth.verify(key, 'reserve', req):
            self.get_logger().error(f'refused a traffic ask with a bad MAC ({req.robot_id!r})')
            resp.message = 'unauthenticated'
            return resp  # unsigned: the robot cannot verify it and keeps waiting
        stamp = int(req.stamp_ns)
        refusal = self.replay.refusal(stamp, str(req.mac))
        if not refusal and stamp <= self._last_stamp.get(req.robot_id, 0):
            refusal = 'older than its last ask'
        if refusal:
            self.get_logger().error(f'refused a traffic ask from {req.robot_id}: {refusal}')
            resp.message = refusal
            return auth.sign_answer(key, 'reserve', req, resp)
        self._last_stamp[req.robot_id] = stamp
        ask = Ask(
            req.robot_id,
            tuple(req.route),
            int(req.progress),
            bool(req.clear),
            int(req.granted),
            bool(req.loaded),
            bool(req.extend),
        )
        now, conflicts = time.monotonic(), self.controller.conflicts
        try:
            detour = self.controller.replan(ask, now)
            resp.granted = self.controller.ask(detour, now)
        except RouteError as e:
            resp.message = str(e)
            return auth.sign_answer(key, 'reserve', req, resp)
        if self.controller.conflicts > conflicts:
            self.get_logger().warning(f'{self.controller.last_conflict} ({ask})')
        if detour is not ask:
            resp.route = list(detour.route)
            self.get_logger().info(
                f'{ask.robot_id} takes a detour: {" ".join(detour.route[ask.progress :])} '
                f'instead of {" ".join(ask.route[ask.progress :])}'
            )
        self._count_wait(req.robot_id, now, bool(req.ahead))
        resp.message = 'wait' if req.robot_id in self.controller.waiting else 'go'
        resp.waiting_for = self.controller.waits_for(req.robot_id)
        return auth.sign_answer(key, 'reserve', req, resp)

    def _count_wait(self, robot_id: str, now: float, ahead: bool) -> None:
        """A wait lasts from the first refused ask of a robot at the end of its grant (one
        refused while asking ahead is still driving) until an ask is granted."""
        since = self._waiting_since.get(robot_id)
        if robot_id in self.controller.waiting:
            if since is None:
                if not ahead:
                    self._waiting_since[robot_id] = now
            elif (now - since) * self.time_scale > self.stuck_s and robot_id not in self._stuck:
                self._stuck.add(robot_id)
                self.deadlocks += 1
                self.get_logger().warning(
                    f'{robot_id} has waited {(now - since) * self.time_scale:.0f} s for '
                    f'{sorted(self.controller.waiting[robot_id].needs)}'
                )
        elif since is not None:
            self.waits[robot_id].append((now - since) * self.time_scale)
            del self._waiting_since[robot_id]
            self._stuck.discard(robot_id)

    def stats(self) -> dict[str, Any]:
        now = time.monotonic()
        robots = {}
        for robot_id, done in self.waits.items():
            since = self._waiting_since.get(robot_id)
            waits = done + ([(now - since) * self.time_scale] if since is not None else [])
            robots[robot_id] = {
                'waits': len(waits),
                'wait_s': round(sum(waits), 1),
                'replans': self.controller.replans[robot_id],
            }
        every = sorted(w for ws in self.waits.values() for w in ws)
        return {
            'robots': robots,
            'wait_s': {
                'mean': round(sum(every) / len(every), 1) if every else 0.0,
                'p95': round(every[int(0.95 * (len(every) - 1))], 1) if every else 0.0,
                'total': round(sum(every), 1),
            },
            'deadlocks': self.deadlocks,
            'replans': self.controller.replans.total(),
            'refusals': self.controller.refusals,
            'conflicts': self.controller.conflicts,
            'holds': {r: sorted(h) for r, h in self.controller.holds.items() if h},
        }

    def _publish_stats(self) -> None:
        self.stats_pub.publish(String(data=json.dumps(self.stats())))


def main(argv: Sequence[str] | None = None) -> int:
    return spin(TrafficController, argv, (ConfigError, auth.KeyFileError))


if __name__ == '__main__':
    sys.exit(main())
