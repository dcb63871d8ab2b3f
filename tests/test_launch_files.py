"""What the launch files start, checked without `launch` (not in the ROS 2 wheels; the launch
descriptions themselves are built in tests/test_robot_nodes.py where it is installed): every
executable they name is installed by both builds, and under traffic control they start the
restaurant's traffic controller, without which serving robots wait at the first narrow aisle
for good."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import pytest

from orchestrator.config import RestaurantConfig
from orchestrator.settings import get_settings
from robot_nodes.ros_network import traffic_control, traffic_env

ROOT = Path(__file__).resolve().parent.parent
LAUNCH_DIR = ROOT / 'launch'
# The node executables the launch files start (robots.launch.py: `executable=`; gazebo's
# ExecuteProcess: the command's first word).
EXECUTABLES = {'cooking_robot', 'serving_robot', 'traffic_controller'}


def _colcon_scripts() -> set[str]:
    """console_scripts of robot_nodes/setup.py (the colcon build's `ros2 run` executables)."""
    tree = ast.parse((ROOT / 'robot_nodes' / 'setup.py').read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == 'console_scripts':
                    entries = ast.literal_eval(value)
                    return {entry.split('=')[0].strip() for entry in entries}
    raise AssertionError('robot_nodes/setup.py has no console_scripts')


def test_every_executable_the_launch_files_start_is_installed() -> None:
    pip_scripts = set(tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']['scripts'])
    assert pip_scripts >= EXECUTABLES
    assert _colcon_scripts() >= EXECUTABLES
    # The venv of this run has them (`make setup` installs the pyproject's scripts).
    assert Path(sys.executable).with_name('traffic_controller').exists()


@pytest.mark.parametrize('name', ['robots.launch.py', 'gazebo.launch.py'])
def test_launch_file_starts_a_traffic_controller(name: str) -> None:
    text = (LAUNCH_DIR / name).read_text()
    assert "'traffic_controller'" in text
    assert 'traffic_control(cfg' in text and 'traffic_env(traffic)' in text
    assert "'traffic'" in text  # the launch argument


def test_sim_launch_passes_traffic_on() -> None:
    assert "('traffic', '')" in (LAUNCH_DIR / 'sim.launch.py').read_text()


def test_traffic_argument_overrides_settings_and_config(demo_config: RestaurantConfig) -> None:
    assert demo_config.service.traffic_control  # on in the demo
    assert traffic_control(demo_config, 'true') is True
    assert traffic_control(demo_config, 'False') is False
    assert traffic_control(demo_config, '') is get_settings().traffic_control_for(demo_config)
    assert traffic_env(True) == {'ROBODINE_TRAFFIC_CONTROL': 'true'}
    assert traffic_env(False) == {'ROBODINE_TRAFFIC_CONTROL': 'false'}
    with pytest.raises(ValueError, match='traffic:=maybe'):
        traffic_control(demo_config, 'maybe')
