"""Driver registry: the node names a driver ('sim', 'diffdrive', 'hardware'), we build it.

Drivers other than `sim` are imported lazily so a plain simulation needs nothing beyond rclpy.
`robot_nodes/drivers/diffdrive.py` provides `DiffDriveDriver(node, robot_cfg, time_scale, start)`,
a `MotionDriver` over `cmd_vel`/`odom`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robot_nodes.drivers.base import CookingDriver, DriverError, MotionDriver, Pose

if TYPE_CHECKING:
    from rclpy.node import Node

    from orchestrator.config import ServingRobot

SERVING_DRIVERS = ('sim', 'diffdrive', 'hardware')
COOKING_DRIVERS = ('sim', 'hardware')

_HARDWARE_HELP = (
    'driver "hardware" is the seam for a real robot and has no implementation in robodine: '
    'subclass robot_nodes.drivers.base.{cls}, implement {methods}, and register it in '
    'robot_nodes/drivers/__init__.py (README: "Robots and ROS 2 interfaces", Drivers)'
)


def make_serving_driver(
    name: str, node: Node, robot_cfg: ServingRobot, time_scale: float, start: Pose
) -> MotionDriver:
    if name == 'sim':
        from robot_nodes.drivers.sim import SimMotionDriver

        return SimMotionDriver(node, robot_cfg, time_scale, start)
    if name == 'diffdrive':
        from robot_nodes.drivers.diffdrive import DiffDriveDriver

        return DiffDriveDriver(node, robot_cfg, time_scale, start)
    if name == 'hardware':
        raise DriverError(
            _HARDWARE_HELP.format(cls='MotionDriver', methods='tick() (and halt/resume)')
        )
    raise DriverError(f'unknown serving driver {name!r}; choose one of {SERVING_DRIVERS}')


def make_cooking_driver(name: str, node: Node, time_scale: float) -> CookingDriver:
    if name == 'sim':
        from robot_nodes.drivers.sim import SimCookingDriver

        return SimCookingDriver(node, time_scale)
    if name == 'hardware':
        methods = 'start(), tick(), progress() and abort()'
        raise DriverError(_HARDWARE_HELP.format(cls='CookingDriver', methods=methods))
    raise DriverError(f'unknown cooking driver {name!r}; choose one of {COOKING_DRIVERS}')
