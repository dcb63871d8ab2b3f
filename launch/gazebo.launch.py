"""ros2 launch launch/gazebo.launch.py [config:=seeds/restaurant.yaml] [out:=var/gazebo]
    [key_dir:=var/robot_keys] [domain_id:=N] [discovery:=localhost|subnet] [keystore:=DIR]
    [traffic:=true|false]

Gazebo (gz sim Harmonic) in place of the headless floor plant: writes the world and the
ros_gz_bridge config from the restaurant config (as `robodine gazebo world` does), then starts
gz sim with that world, the bridge, every serving robot node with `driver:=diffdrive` and every
cooking robot node (sim driver). Gazebo runs in real time, so the robots run at time scale 1.
The orchestrator (Redis, API + dispatcher) runs apart: `robodine serve --with-dispatcher`.
Robot keys, DDS domain and discovery, SROS2, traffic control (and its traffic controller,
started here too): as in robots.launch.py.

Run it from the shell where robodine is installed (its venv active) with ROS 2 Jazzy and
ros_gz sourced, so `robot_nodes`, `serving_robot`, `cooking_robot`, `gz` and `ros2` resolve.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
from launch.launch_context import LaunchContext
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration

from orchestrator.config import load_restaurant
from orchestrator.settings import DEFAULT_CONFIG
from robot_nodes import auth
from robot_nodes.gazebo_world import write_assets
from robot_nodes.ros_network import enclave_args, launch_env, traffic_control, traffic_env


def _robot(
    executable: str,
    robot_id: str,
    config: Path,
    ledger_dir: Path,
    driver: str,
    key_dir: Path,
    env: dict[str, str],
    keystore: str,
) -> ExecuteProcess:
    return ExecuteProcess(
        cmd=[
            executable,
            '--ros-args',
            *enclave_args(robot_id, keystore),
            '-r',
            f'__ns:=/robodine/{robot_id}',
            '-p',
            f'robot_id:={robot_id}',
            '-p',
            f'config_path:={config}',
            '-p',
            f'driver:={driver}',
            '-p',
            'time_scale:=1.0',
            '-p',
            f'ledger_dir:={ledger_dir / robot_id}',
            '-p',
            f'key_file:={auth.key_path(key_dir, robot_id)}',
        ],
        additional_env=env,
        name=robot_id,
        output='screen',
    )


def _bring_up(context: LaunchContext) -> list[ExecuteProcess]:
    config = Path(LaunchConfiguration('config').perform(context)).resolve()
    out = Path(LaunchConfiguration('out').perform(context)).resolve()
    cfg = load_restaurant(config)
    world, bridge = write_assets(cfg, out)
    ledgers = out / 'ledgers'
    key_dir = Path(LaunchConfiguration('key_dir').perform(context)).resolve()
    keystore = LaunchConfiguration('keystore').perform(context)
    traffic = traffic_control(cfg, LaunchConfiguration('traffic').perform(context))
    env = launch_env(
        LaunchConfiguration('domain_id').perform(context),
        LaunchConfiguration('discovery').perform(context),
        keystore,
    ) | traffic_env(traffic)
    robot = partial(_robot, key_dir=key_dir, env=env, keystore=keystore)
    actions = [
        ExecuteProcess(cmd=['gz', 'sim', '-r', str(world)], name='gz_sim', output='screen'),
        ExecuteProcess(
            cmd=[
                'ros2',
                'run',
                'ros_gz_bridge',
                'parameter_bridge',
                '--ros-args',
                '-p',
                f'config_file:={bridge}',
            ],
            name='ros_gz_bridge',
            output='screen',
        ),
    ]
    actions += [
        robot('serving_robot', r.id, config, ledgers, 'diffdrive') for r in cfg.serving_robots
    ]
    actions += [robot('cooking_robot', r.id, config, ledgers, 'sim') for r in cfg.cooking_robots]
    if traffic:
        # The serving robots wait at every narrow aisle and junction until it grants it.
        params = {'config_path': config, 'time_scale': 1.0, 'key_dir': key_dir}
        actions.append(
            ExecuteProcess(
                cmd=[
                    'traffic_controller',
                    '--ros-args',
                    *enclave_args('traffic_controller', keystore),
                    *(arg for k, v in params.items() for arg in ('-p', f'{k}:={v}')),
                ],
                additional_env=env,
                name='traffic_controller',
                output='screen',
            )
        )
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                'config', default_value=str(DEFAULT_CONFIG), description='restaurant YAML'
            ),
            DeclareLaunchArgument(
                'out',
                default_value='var/gazebo',
                description='where the world, bridge config and ledgers go',
            ),
            DeclareLaunchArgument('key_dir', default_value='var/robot_keys'),
            DeclareLaunchArgument('domain_id', default_value=''),
            DeclareLaunchArgument('discovery', default_value=''),
            DeclareLaunchArgument('keystore', default_value=''),
            DeclareLaunchArgument('traffic', default_value=''),
            OpaqueFunction(function=_bring_up),
        ]
    )
