"""ros2 launch robot_nodes robots.launch.py [config:=...] [driver:=sim] [time_scale:=1.0]
    [key_dir:=var/robot_keys] [domain_id:=N] [discovery:=localhost|subnet] [keystore:=DIR]
    [traffic:=true|false]

Neutral bring-up for a system ROS 2 Jazzy: one node per robot of the restaurant config, each in
`/robodine/<robot_id>` and named after it. Serving robots use `driver` ('sim', 'diffdrive' with
a floor plant or Gazebo publishing odom, 'nav2' with each robot's Nav2 serving
`/robodine/<robot_id>/navigate_to_pose`, or 'hardware'); cooking robots use `cooking_driver`.
Each robot gets its own key (`<key_dir>/<robot_id>.key`, from `robodine robots keys`) and the
DDS domain and discovery range of the restaurant (default: ROBODINE_ROS_DOMAIN_ID,
ROBODINE_ROS_DISCOVERY); with `keystore` (an SROS2 keystore, `ros2 security`), each node also
runs under DDS Security in the enclave `/robodine/<robot_id>` (README "Security → ROS 2").
Under traffic control (`traffic`, default: ROBODINE_TRAFFIC_CONTROL, else the config's
`service.traffic_control`, on in the demo) it also starts the restaurant's traffic controller
(`/robodine/traffic_controller`, with every serving robot's key): the serving robots ask it
before every narrow aisle and junction, and without one they wait there for good.
Needs the robodine distribution importable (for the config model) and `robot_nodes` plus
`restaurant_interfaces` built by colcon (see README "Robots and ROS 2 interfaces").
"""

from __future__ import annotations

from pathlib import Path

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.launch_context import LaunchContext
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from orchestrator.config import load_restaurant
from orchestrator.settings import DEFAULT_CONFIG
from robot_nodes import auth
from robot_nodes.ros_network import enclave_args, launch_env, traffic_control, traffic_env

ARGUMENTS = {
    'config': (str(DEFAULT_CONFIG), 'restaurant YAML (tables, robots, floor graph)'),
    'driver': (
        'sim',
        "serving robots' driver: sim, diffdrive, nav2, hardware or package.module:Class",
    ),
    'cooking_driver': ('sim', "cooking robots' driver: sim, hardware or package.module:Class"),
    'time_scale': ('1.0', 'simulated seconds per real second'),
    'ledger_dir': ('var/ledger', 'where each robot keeps <robot_id>.sqlite'),
    'heartbeat_hz': ('5.0', 'RobotState rate while it has news, moving included (>= 2)'),
    'key_dir': ('var/robot_keys', "where each robot's key is (<robot_id>.key)"),
    'domain_id': ('', 'DDS domain (default: ROBODINE_ROS_DOMAIN_ID, else ROS_DOMAIN_ID)'),
    'discovery': ('', 'localhost or subnet (default: ROBODINE_ROS_DISCOVERY, localhost)'),
    'keystore': ('', 'SROS2 keystore: run every node under DDS Security (system ROS 2 only)'),
    'traffic': (
        '',
        'true/false: serving robots under the traffic controller, started here '
        '(default: ROBODINE_TRAFFIC_CONTROL, else service.traffic_control)',
    ),
}


def _robots(context: LaunchContext) -> list[Node]:
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    config = Path(arg('config')).resolve()
    cfg = load_restaurant(config)
    common = {
        'config_path': str(config),
        'time_scale': float(arg('time_scale')),
        'ledger_dir': str(Path(arg('ledger_dir')).resolve()),
        'heartbeat_hz': float(arg('heartbeat_hz')),
    }
    key_dir = Path(arg('key_dir')).resolve()
    traffic = traffic_control(cfg, arg('traffic'))
    env = launch_env(arg('domain_id'), arg('discovery'), arg('keystore')) | traffic_env(traffic)
    robots = [('cooking_robot', r.id, arg('cooking_driver')) for r in cfg.cooking_robots]
    robots += [('serving_robot', r.id, arg('driver')) for r in cfg.serving_robots]
    controller = Node(
        package='robot_nodes',
        executable='traffic_controller',
        name='traffic_controller',
        namespace='/robodine',
        parameters=[
            {
                'config_path': common['config_path'],
                'time_scale': common['time_scale'],
                'key_dir': str(key_dir),
            }
        ],
        ros_arguments=enclave_args('traffic_controller', arg('keystore')),
        additional_env=env,
        output='screen',
    )
    nodes = [
        Node(
            package='robot_nodes',
            executable=executable,
            name=robot_id,
            namespace=f'/robodine/{robot_id}',
            parameters=[
                {
                    **common,
                    'robot_id': robot_id,
                    'driver': driver,
                    'key_file': str(auth.key_path(key_dir, robot_id)),
                }
            ],
            ros_arguments=enclave_args(robot_id, arg('keystore')),
            additional_env=env,
            output='screen',
        )
        for executable, robot_id, driver in robots
    ]
    return [controller, *nodes] if traffic else nodes


def generate_launch_description() -> LaunchDescription:
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=text)
        for name, (default, text) in ARGUMENTS.items()
    ]
    return LaunchDescription([*declared, OpaqueFunction(function=_robots)])
