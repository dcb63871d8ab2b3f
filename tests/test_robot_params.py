"""The robot nodes' parameters: what the code declares, the README's table and the example
params files of robot_nodes/config agree, and each example file starts its robot exactly as
its own comment says (a real node process, heard over DDS)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from robot_nodes import auth
from tests.ros_helpers import RosClient, ros_client_fixture, stop_process, wait_for_log

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / 'robot_nodes' / 'config'
NODES = {
    'cooking_robot': ['robot_base.py', 'cooking_robot.py'],
    'serving_robot': [
        'robot_base.py',
        'serving_robot.py',
        'drivers/diffdrive.py',
        'drivers/nav2.py',
    ],
}
REQUIRED = {'robot_id', 'key_file'}


def _declared(node: str) -> set[str]:
    """Parameter names the node's modules declare (`declare_parameter`, `declare_number`, a
    driver's `_param`, which prefixes its `PARAMS`: `diffdrive.`, `nav2.`)."""
    names: set[str] = set()
    for module in NODES[node]:
        text = (ROOT / 'robot_nodes' / module).read_text()
        names |= set(re.findall(r"declare_(?:parameter|number)\(\s*'(\w+)'", text))
        prefix = re.search(r"PARAMS = '(\w+)'", text)
        found = re.findall(r"self\._param\('(\w+)'", text)
        names |= {f'{prefix[1]}.{n}' for n in found} if prefix else set()
    return names


def _flat(params: dict, prefix: str = '') -> set[str]:
    """ROS parameter names of a params file's nested mapping (`diffdrive: {a: 1}` is
    `diffdrive.a`)."""
    names: set[str] = set()
    for key, value in params.items():
        name = f'{prefix}{key}'
        names |= _flat(value, f'{name}.') if isinstance(value, dict) else {name}
    return names


def _example(node: str) -> dict:
    data = yaml.safe_load((CONFIG_DIR / f'{node}.yaml').read_text())
    return data['/**']['ros__parameters']


def _readme_table() -> set[str]:
    """Parameter names in the README's table under **Parameters** (first column)."""
    text = (ROOT / 'README.md').read_text()
    table = text.split('**Parameters** (declared in code', 1)[1].split('\n\n', 2)[1]
    names: set[str] = set()
    for row in table.splitlines()[2:]:
        first = row.split('|')[1]
        prefix = ''
        for name in re.findall(r'`([\w.]+)`', first):
            # `.name` shares the prefix of the row's first name (`nav2.action`, `.frame_id`).
            name = prefix + name if name.startswith('.') else name
            prefix = name.rpartition('.')[0]
            names.add(name)
    return names


@pytest.mark.parametrize('node', sorted(NODES))
def test_example_params_file_names_only_declared_parameters(node: str) -> None:
    params = _flat(_example(node))
    assert params <= _declared(node), params - _declared(node)
    assert params >= REQUIRED, f'{node}.yaml lacks the required {REQUIRED - params}'


def test_readme_table_lists_every_declared_parameter() -> None:
    declared = _declared('cooking_robot') | _declared('serving_robot')
    assert _readme_table() == declared


@pytest.fixture
def ros() -> Iterator[RosClient]:
    yield from ros_client_fixture('params_files')


@pytest.mark.ros
@pytest.mark.parametrize('node', sorted(NODES))
def test_example_params_file_starts_its_robot(node: str, tmp_path: Path, ros: RosClient) -> None:
    # From a checkout's root after `robodine robots keys` (here: a copy of what it needs).
    (tmp_path / 'seeds').symlink_to(ROOT / 'seeds')
    robot_id = _example(node)['robot_id']
    auth.create_keys(tmp_path / 'var' / 'robot_keys', [robot_id])
    ns = f'/robodine/{robot_id}'
    command = [
        *(sys.executable, '-m', f'robot_nodes.{node}', '--ros-args', '-r', f'__ns:={ns}'),
        *('--params-file', str(CONFIG_DIR / f'{node}.yaml')),
    ]
    log = tmp_path / 'robot.log'
    env = {**os.environ, 'PYTHONUNBUFFERED': '1', 'PYTHONPATH': str(ROOT)}
    with log.open('wb') as out:
        proc = subprocess.Popen(
            command, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        wait_for_log(log, f'robot {robot_id} up', timeout=30)
        assert ros.wait_for_state(robot_id, timeout=30).robot_id == robot_id
    finally:
        stop_process(proc)


@pytest.mark.ros
@pytest.mark.parametrize(
    ('node', 'param', 'said'),
    [
        ('cooking_robot', 'capacity:=2.0', "parameter 'capacity'"),
        ('cooking_robot', 'time_scale:=fast', "parameter time_scale must be a number, got 'fast'"),
        ('serving_robot', 'diffdrive.control_hz:=fast', 'parameter diffdrive.control_hz'),
    ],
)
def test_a_parameter_of_the_wrong_type_is_an_error_not_a_traceback(
    node: str, param: str, said: str, tmp_path: Path
) -> None:
    robot_id = _example(node)['robot_id']
    auth.create_keys(tmp_path, [robot_id])
    driver = ['-p', 'driver:=diffdrive'] if node == 'serving_robot' else []
    command = [
        *(sys.executable, '-m', f'robot_nodes.{node}', '--ros-args', *driver),
        *('-p', f'robot_id:={robot_id}', '-p', f'config_path:={ROOT / "seeds/restaurant.yaml"}'),
        *('-p', f'key_file:={auth.key_path(tmp_path, robot_id)}'),
        *('-p', f'ledger_dir:={tmp_path}', '-p', param),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2, done.stderr
    assert 'Traceback' not in done.stderr
    assert done.stderr.startswith('error: ') and said in done.stderr, done.stderr


@pytest.mark.ros
def test_a_float_parameter_takes_an_integer(tmp_path: Path, ros: RosClient) -> None:
    auth.create_keys(tmp_path, ['serve1'])
    command = [
        *(sys.executable, '-m', 'robot_nodes.serving_robot', '--ros-args'),
        *('-r', '__ns:=/robodine/serve1', '-p', 'robot_id:=serve1'),
        *('-p', f'config_path:={ROOT / "seeds/restaurant.yaml"}', '-p', 'driver:=diffdrive'),
        *('-p', f'key_file:={auth.key_path(tmp_path, "serve1")}', '-p', f'ledger_dir:={tmp_path}'),
        *('-p', 'diffdrive.max_angular_speed:=2', '-p', 'diffdrive.control_hz:=50'),
    ]
    log = tmp_path / 'serve1.log'
    env = {**os.environ, 'PYTHONUNBUFFERED': '1'}
    with log.open('wb') as out:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_log(log, 'robot serve1 up', timeout=30)
        assert ros.wait_for_state('serve1', timeout=30).robot_id == 'serve1'
    finally:
        stop_process(proc)
