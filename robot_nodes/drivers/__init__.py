"""Driver registry: the node names a driver ('sim', 'diffdrive', 'nav2', 'hardware', or an
integrator's own as `package.module:Class`), we build it.

Drivers other than `sim` are imported lazily so a plain simulation needs nothing beyond rclpy.
`robot_nodes/drivers/diffdrive.py` provides `DiffDriveDriver(node, robot_cfg, time_scale, start)`,
a `MotionDriver` over `cmd_vel`/`odom`; `robot_nodes/drivers/nav2.py` `Nav2Driver`, one that
sends Nav2 `NavigateToPose` goals. A driver named by import path is a subclass of
`MotionDriver` (serving) or `CookingDriver` (cooking) in any importable module, constructed like
the built-in ones: a robot's own driver needs no change to robodine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from robot_nodes.drivers.base import CookingDriver, DriverError, MotionDriver, Pose

if TYPE_CHECKING:
    from rclpy.node import Node

    from orchestrator.config import ServingRobot

SERVING_DRIVERS = ('sim', 'diffdrive', 'nav2', 'hardware', 'package.module:Class')
COOKING_DRIVERS = ('sim', 'hardware', 'package.module:Class')

_HARDWARE_HELP = (
    'driver "hardware" is the seam for a real robot and has no implementation in robodine: '
    'subclass robot_nodes.drivers.base.{cls}, implement {methods}, and name your class as the '
    'driver, driver:=package.module:Class (README: "Robots and ROS 2 interfaces", Drivers)'
)


def driver_class(name: str, base: type[Any]) -> type[Any] | None:
    """The class of a driver named by import path (`package.module:Class`), None for a name
    without ':'; DriverError says why a path does not name a subclass of `base`."""
    if ':' not in name:
        return None
    module_name, _, class_name = name.partition(':')
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise DriverError(f'driver {name!r}: cannot import {module_name!r}: {e}') from e
    cls = getattr(module, class_name, None)
    if cls is None:
        raise DriverError(f'driver {name!r}: module {module_name!r} has no {class_name!r}')
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise DriverError(
            f'driver {name!r} is not a subclass of robot_nodes.drivers.base.{base.__name__}'
        )
    return cls


def make_serving_driver(
    name: str, node: Node, robot_cfg: ServingRobot, time_scale: float, start: Pose
) -> MotionDriver:
    if name == 'sim':
        from robot_nodes.drivers.sim import SimMotionDriver

        return SimMotionDriver(node, robot_cfg, time_scale, start)
    if name == 'diffdrive':
        from robot_nodes.drivers.diffdrive import DiffDriveDriver

        return DiffDriveDriver(node, robot_cfg, time_scale, start)
    if name == 'nav2':
        from robot_nodes.drivers.nav2 import Nav2Driver

        return Nav2Driver(node, robot_cfg, time_scale, start)
    if name == 'hardware':
        raise DriverError(
            _HARDWARE_HELP.format(cls='MotionDriver', methods='tick() (and halt/resume)')
        )
    if (cls := driver_class(name, MotionDriver)) is not None:
        return cls(node, robot_cfg, time_scale, start)
    raise DriverError(f'unknown serving driver {name!r}; choose one of {SERVING_DRIVERS}')


def make_cooking_driver(name: str, node: Node, time_scale: float) -> CookingDriver:
    if name == 'sim':
        from robot_nodes.drivers.sim import SimCookingDriver

        return SimCookingDriver(node, time_scale)
    if name == 'hardware':
        methods = 'start(), tick(), progress() and abort()'
        raise DriverError(_HARDWARE_HELP.format(cls='CookingDriver', methods=methods))
    if (cls := driver_class(name, CookingDriver)) is not None:
        return cls(node, time_scale)
    raise DriverError(f'unknown cooking driver {name!r}; choose one of {COOKING_DRIVERS}')
