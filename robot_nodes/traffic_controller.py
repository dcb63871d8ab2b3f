"""Traffic controller node: grants serving robots the narrow aisles and junctions ahead of them
(`orchestrator.traffic`, README "Traffic in the aisles").

Serves `/robodine/traffic/reserve` (restaurant_interfaces/srv/Reserve): a robot reports where
it is on its leg and asks to drive further; the answer is how far it may, on a detour when it
has waited long enough for what another robot holds and a way round exists. Every ask must carry
the robot's HMAC (the controller holds every serving robot's key, like the dispatcher), be fresh
and newer than that robot's last one; anything else is refused and logged. The controller keeps
nothing on disk: robots ask at least once a second, so after a restart it knows within a second
what each robot holds.

Takes the operator's closures (`orchestrator.closures`) from `/robodine/traffic/closures`
(restaurant_interfaces/msg/Closures, latched, from the dispatcher; `closures_in`) only when
every serving robot's MAC verifies.

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

from orchestrator.closures import Closures
from orchestrator.config import ConfigError, load_restaurant
from orchestrator.settings import DEFAULT_CONFIG
from orchestrator.traffic import CLOSED, Ask, Controller, RouteError, TrafficMap
from orchestrator.traffic_waits import WaitLog
from robot_nodes import auth
from robot_nodes.closures_in import ClosuresIn
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
        service = cfg.service
        self.controller = Controller(
            TrafficMap.of_restaurant(cfg),
            # Its clock is the wall clock: simulated seconds over the time scale.
            replan_after_s=service.traffic_replan_after_s / self.time_scale,
            detour_max_m=service.traffic_detour_max_m,
        )
        self.replay = auth.Replay()
        self._last_stamp: dict[str, int] = {}
        self.wait_log = WaitLog((r.id for r in robots), self.time_scale, service.traffic_stuck_s)
        keys = list(self.keys.values())
        self.closures_in = ClosuresIn(
            self,
            self.controller.map.floor,
            lambda msg: auth.verify_by_all(keys, 'closures', msg),
            self._closed,
        )
        self.create_service(Reserve, RESERVE_SERVICE, self._on_reserve)
        self.stats_pub = self.create_publisher(String, STATS_TOPIC, latched(depth=1))
        self.create_timer(1.0, self._publish_stats)
        self.get_logger().info(
            f'traffic controller: {len(robots)} serving robots, '
            f'{len(set(self.controller.map.stretch_of.values()))} narrow stretches, '
            f'{len(self.controller.map.junctions)} junctions'
        )

    def _closed(self, closures: Closures, version: int) -> None:
        self.controller.closures = closures
        self.get_logger().info(
            f'closed: {", ".join(closures.names) or "nothing"} (version {version}); '
            f'sent round: {self.controller.crossing() or "nobody"}'
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
        waiting = req.robot_id in self.controller.waiting
        stuck = self.wait_log.answered(req.robot_id, now, waiting, bool(req.ahead))
        if stuck is not None:
            self.get_logger().warning(
                f'{req.robot_id} has waited {stuck:.0f} s for '
                f'{sorted(self.controller.waiting[req.robot_id].needs)}'
            )
        closed = self.controller.at_closure.get(req.robot_id)
        resp.message = CLOSED + closed if closed else 'wait' if waiting else 'go'
        resp.waiting_for = self.controller.waits_for(req.robot_id)
        return auth.sign_answer(key, 'reserve', req, resp)

    def stats(self) -> dict[str, Any]:
        waits = self.wait_log.stats(time.monotonic())
        for robot_id, figures in waits['robots'].items():
            figures['replans'] = self.controller.replans[robot_id]
        return {
            **waits,
            'replans': self.controller.replans.total(),
            'refusals': self.controller.refusals,
            'conflicts': self.controller.conflicts,
            'holds': {r: sorted(h) for r, h in self.controller.holds.items() if h},
            'closed': self.controller.closures.names,
            'at_closure': dict(self.controller.at_closure),
        }

    def _publish_stats(self) -> None:
        self.stats_pub.publish(String(data=json.dumps(self.stats())))


def main(argv: Sequence[str] | None = None) -> int:
    return spin(TrafficController, argv, (ConfigError, auth.KeyFileError))


if __name__ == '__main__':
    sys.exit(main())
