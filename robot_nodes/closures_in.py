"""The operator's closures as a robot-side node takes them from the dispatcher
(`/robodine/traffic/closures`, README "Re-route: closed aisles and waypoints"): the traffic
controller (every serving robot's MAC must verify) and each serving robot (its own).

Anyone on the domain can publish there, so a set is taken only when it is no longer than
MAX_CLOSURES, its MACs verify, every name is on the floor, and it is newer (version, then stamp)
than the last taken; anything else is refused, logged at most once per kind of refusal every
30 s, and the last good set stays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rclpy.node import Node
from restaurant_interfaces.msg import Closures as ClosuresMsg

from orchestrator.closures import MAX_CLOSURES, NO_CLOSURES, TOPIC, ClosureError, Closures
from orchestrator.config import Floor
from robot_nodes import auth
from robot_nodes.ros_network import latched


class ClosuresIn:
    def __init__(
        self,
        node: Node,
        floor: Floor,
        verify: Callable[[Any], bool],
        on_change: Callable[[Closures, int], None],
    ) -> None:
        """`verify`: whether a message's MACs are good; `on_change(closures, version)`: a new
        set was taken."""
        self.node, self.floor, self.verify, self.on_change = node, floor, verify, on_change
        self.closures = NO_CLOSURES
        self._from = (0, 0)
        self._refusals = auth.LogThrottle()
        node.create_subscription(ClosuresMsg, TOPIC, self._on_message, latched(depth=1))

    def _on_message(self, msg: Any) -> None:
        if (int(msg.version), int(msg.stamp_ns)) <= self._from:
            return  # an older one (another dispatcher's, or replayed)
        why, refusal, closures = self._check(msg)
        if refusal:
            if (more := self._refusals.due(why)) is not None:
                self.node.get_logger().error(f'refused a closure list: {refusal}{more}')
            return
        self._from = (int(msg.version), int(msg.stamp_ns))
        if closures != self.closures:
            self.closures = closures
            self.on_change(closures, int(msg.version))

    def _check(self, msg: Any) -> tuple[str, str, Closures]:
        """The set, or (a fixed word for the log's throttle, why) not to take it."""
        if len(msg.closed) > MAX_CLOSURES:  # before the MACs: they cost as much as it is long
            return 'long', f'{len(msg.closed)} closures, more than {MAX_CLOSURES}', NO_CLOSURES
        if not self.verify(msg):
            return 'mac', 'bad MACs (not signed with the serving robots keys)', NO_CLOSURES
        try:
            return '', '', Closures.of(self.floor, msg.closed)
        except ClosureError as e:
            return 'floor', f'not on this floor: {e}', NO_CLOSURES
