"""ros2 launch robot_nodes sim.launch.py [time_scale:=10.0] [config:=...] [key_dir:=...]
    [domain_id:=N] [discovery:=localhost|subnet] [keystore:=DIR] [traffic:=true|false]

The whole robot fleet headless: robots.launch.py with the sim driver everywhere and a time
scale (default 10x, so a 4-minute dish takes 24 s).
"""

from __future__ import annotations

from pathlib import Path

from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description import LaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

from orchestrator.settings import DEFAULT_CONFIG

# Passed through to robots.launch.py (see there): keys, DDS domain and discovery, SROS2, and
# traffic control (its traffic controller included).
PASSED = (
    ('key_dir', 'var/robot_keys'),
    ('domain_id', ''),
    ('discovery', ''),
    ('keystore', ''),
    ('traffic', ''),
)


def generate_launch_description() -> LaunchDescription:
    robots = PythonLaunchDescriptionSource(str(Path(__file__).with_name('robots.launch.py')))
    return LaunchDescription(
        [
            DeclareLaunchArgument('time_scale', default_value='10.0'),
            DeclareLaunchArgument('config', default_value=str(DEFAULT_CONFIG)),
            *(DeclareLaunchArgument(name, default_value=default) for name, default in PASSED),
            IncludeLaunchDescription(
                robots,
                launch_arguments={
                    **{name: LaunchConfiguration(name) for name, _ in PASSED},
                    'config': LaunchConfiguration('config'),
                    'time_scale': LaunchConfiguration('time_scale'),
                    'driver': 'sim',
                    'cooking_driver': 'sim',
                }.items(),
            ),
        ]
    )
