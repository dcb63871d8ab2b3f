"""Gazebo assets: every generated world must load in libsdformat (as gz sim loads it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from orchestrator.cli import main as cli_main
from orchestrator.config import RestaurantConfig
from orchestrator.settings import DEFAULT_CONFIG, REPO_ROOT
from robot_nodes.gazebo_world import bridge_config, write_assets

SDF_CHECK_SRC = REPO_ROOT / 'robot_nodes' / 'sdf_check' / 'sdf_check.cc'


@pytest.fixture(scope='session')
def sdf_check(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdf_check program, built against Debian's libsdformat."""
    if shutil.which('g++') is None or shutil.which('pkg-config') is None:
        pytest.fail('g++ and pkg-config are needed (scripts/bootstrap.sh installs them)')
    flags = subprocess.run(
        ['pkg-config', '--cflags', '--libs', 'sdformat12'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    exe = tmp_path_factory.mktemp('sdf_check') / 'sdf_check'
    subprocess.run(
        ['g++', '-std=c++17', '-O0', str(SDF_CHECK_SRC), *flags, '-o', str(exe)], check=True
    )
    return exe


def check(sdf_check: Path, world: Path) -> dict[str, str]:
    """Load `world` with libsdformat; fail on any error; return model name -> its summary."""
    run = subprocess.run([str(sdf_check), str(world)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ''
    lines = run.stdout.splitlines()
    return {line.split()[1]: line for line in lines if line.startswith('model ')}


def test_demo_world_loads_with_every_robot_and_table(
    sdf_check: Path, tmp_path: Path, demo_config: RestaurantConfig
) -> None:
    world, bridge = write_assets(demo_config, tmp_path)
    models = check(sdf_check, world)
    for robot in demo_config.serving_robots:
        summary = models[robot.id]
        assert 'links=3 joints=2' in summary
        assert 'gz::sim::systems::DiffDrive' in summary
        assert 'gz::sim::systems::OdometryPublisher' in summary
    assert {f'table_{t.id}' for t in demo_config.tables} <= models.keys()
    assert {f'wall_{i}' for i in range(len(demo_config.floor.walls))} <= models.keys()
    entries = yaml.safe_load(bridge.read_text())
    assert entries == bridge_config(demo_config)
    by_ros = {e['ros_topic_name']: e for e in entries}
    odom = by_ros['/robodine/serve1/odom']
    assert (odom['gz_topic_name'], odom['direction']) == ('/model/serve1/odometry', 'GZ_TO_ROS')
    cmd = by_ros['/robodine/serve1/cmd_vel']
    assert (cmd['gz_topic_name'], cmd['direction']) == ('/model/serve1/cmd_vel', 'ROS_TO_GZ')


def test_cli_writes_a_loadable_world_for_another_restaurant(
    sdf_check: Path,
    tmp_path: Path,
) -> None:
    # A different restaurant: renamed, one robot with a bigger footprint, a diagonal wall.
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw = {k: v for k, v in raw.items() if not k.startswith('x-')}
    raw['restaurant']['id'] = 'small-bistro'
    raw['serving_robots'] = [dict(raw['serving_robots'][0], id='bella', radius_m=0.35)]
    raw['floor']['walls'].append({'x1': 18, 'y1': 14, 'x2': 20, 'y2': 12.8})
    config = tmp_path / 'bistro.yaml'
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    out = tmp_path / 'gz'
    assert cli_main(['gazebo', 'world', '--config', str(config), '--out', str(out)]) == 0
    models = check(sdf_check, out / 'small-bistro.sdf')
    assert 'bella' in models and 'serve1' not in models


def test_cli_names_the_broken_config(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / 'broken.yaml'
    config.write_text('restaurant: {id: x}\n')
    assert cli_main(['gazebo', 'world', '--config', str(config), '--out', str(tmp_path)]) == 1
    assert 'broken.yaml' in capsys.readouterr().err


def test_sdf_check_reports_a_broken_world(sdf_check: Path, tmp_path: Path) -> None:
    broken = tmp_path / 'broken.sdf'
    broken.write_text(
        "<?xml version='1.0'?><sdf version='1.9'><world name='w'><model name='m'>"
        "<link name='a'/><joint name='j' type='revolute'><parent>a</parent>"
        '<child>missing</child><axis><xyz>0 0 1</xyz></axis></joint></model></world></sdf>'
    )
    run = subprocess.run([str(sdf_check), str(broken)], capture_output=True, text=True)
    assert run.returncode == 1
    assert 'missing' in run.stderr
