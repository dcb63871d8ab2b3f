"""The ROS 2 environment of robot nodes started by a launch file: the restaurant's DDS domain and
discovery range (settings `ros_*`, overridable by launch arguments) and, with an SROS2 keystore
(`ros2 security`, a system ROS 2 only: the wheels' Fast DDS has no DDS Security), the variables
that make every node run under DDS Security in its enclave `/robodine/<robot_id>`; and the
`main()` of the fleet-side nodes (floor plant, traffic controller). A launch file that starts
serving robots under traffic control starts the restaurant's one traffic controller with them
(`traffic_control`): without it they wait at the first narrow aisle for good."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from orchestrator.config import RestaurantConfig
from orchestrator.settings import get_settings

# The launch argument `traffic`: on, off, or (empty) the settings' or the config's choice.
TRAFFIC_ARGS = {'true': True, 'false': False, '': None}


def launch_env(domain_id: str = '', discovery: str = '', keystore: str = '') -> dict[str, str]:
    """Environment variables for a robot node; empty arguments keep the settings' values."""
    update: dict[str, object] = {}
    if domain_id:
        update['ros_domain_id'] = int(domain_id)
    if discovery:
        update['ros_discovery'] = discovery
    env = get_settings().model_copy(update=update).ros_environment()
    if keystore:
        env |= {
            'ROS_SECURITY_KEYSTORE': str(Path(keystore).resolve()),
            'ROS_SECURITY_ENABLE': 'true',
            'ROS_SECURITY_STRATEGY': 'Enforce',
        }
    return env


def traffic_control(cfg: RestaurantConfig, arg: str = '') -> bool:
    """Whether the serving robots ask the traffic controller: the launch argument `traffic`
    (true, false), else ROBODINE_TRAFFIC_CONTROL, else the config's `service.traffic_control`
    (README "Traffic in the aisles")."""
    choice = arg.strip().lower()
    if choice not in TRAFFIC_ARGS:
        raise ValueError(f'traffic:={arg}: expected true, false or nothing (the config says)')
    on = TRAFFIC_ARGS[choice]
    return get_settings().traffic_control_for(cfg) if on is None else on


def traffic_env(on: bool) -> dict[str, str]:
    """What tells a serving robot node whether to ask the traffic controller (the setting it
    reads), so that the nodes and the controller a launch file starts agree."""
    return {'ROBODINE_TRAFFIC_CONTROL': 'true' if on else 'false'}


def enclave_args(robot_id: str, keystore: str) -> list[str]:
    """`--ros-args` for the node's SROS2 enclave (none without a keystore)."""
    return ['--enclave', f'/robodine/{robot_id}'] if keystore else []


def spin(
    make: Callable[[], Node], argv: Sequence[str] | None, errors: tuple[type[Exception], ...]
) -> int:
    """`main()` of a fleet-side node: build it with `make` (a setup error among `errors` is
    printed and exits 2) and spin it on a SingleThreadedExecutor until SIGINT / SIGTERM."""
    rclpy.init(args=list(argv) if argv is not None else sys.argv)
    try:
        node = make()
    except errors as e:
        print(f'error: {e}', file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def latched(depth: int = 1000) -> QoSProfile:
    """Reliable and transient-local: a late subscriber still gets the last `depth` messages
    (collision reports, the traffic figures)."""
    return QoSProfile(
        depth=depth,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
        reliability=ReliabilityPolicy.RELIABLE,
    )
