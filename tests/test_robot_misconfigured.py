"""Robots set up wrong, as an integrator might, against a real `robodine dispatcher`: one
started with a key that is not the dispatcher's, one whose namespace names another robot. The
dispatcher refuses their heartbeats, says why in words that point at the setting, and logs
each refusal once per window, not at every heartbeat."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from orchestrator.bringup import ros_argv
from orchestrator.config import RestaurantConfig
from orchestrator.dispatch.ros_bridge import REFUSAL_LOG_EVERY_S
from orchestrator.settings import DEFAULT_CONFIG
from robot_nodes import auth
from tests.dispatch_support import Kitchen
from tests.ros_helpers import (
    keys_for,
    start_logged,
    start_robot_process,
    stop_process,
    wait_until,
)

pytestmark = pytest.mark.ros
SCALE = 10.0


def _refusals(kitchen: Kitchen, name: str, robot_id: str) -> list[str]:
    lines = kitchen.dispatcher_log(name).splitlines()
    return [line for line in lines if f'refused from {robot_id}:' in line]


def test_misconfigured_robots_are_named_once_with_the_cause(
    demo_config: RestaurantConfig, tmp_path: Path, redis_url: str
) -> None:
    kitchen = Kitchen(demo_config, tmp_path, SCALE)
    ledger = kitchen.ledger_dir
    keys = keys_for(kitchen.robot_ids())
    # wok2 with a key of its own (not the one the dispatcher holds for it).
    wrong_key = start_robot_process(
        'cooking', 'wok2', DEFAULT_CONFIG, SCALE, ledger, key_dir=tmp_path / 'other-keys'
    )
    # A node with robot_id wok1 (and wok1's key) started in grill1's namespace.
    params = {
        'robot_id': 'wok1',
        'config_path': str(DEFAULT_CONFIG),
        'time_scale': SCALE,
        'ledger_dir': str(tmp_path / 'misplaced'),
        'key_file': str(auth.key_path(keys, 'wok1')),
    }
    argv = ros_argv('robot_nodes.cooking_robot', params, '__ns:=/robodine/grill1')
    env = {**os.environ, 'PYTHONUNBUFFERED': '1'}
    misplaced = start_logged(argv, tmp_path / 'misplaced.log', env)
    procs: list[subprocess.Popen[bytes]] = [wrong_key, misplaced]
    try:
        name = kitchen.start_dispatcher(redis_url)
        wait_until(lambda: _refusals(kitchen, name, 'wok2'), 60, what='wok2 refused')
        wait_until(lambda: _refusals(kitchen, name, 'grill1'), 30, what='grill1 refused')
        # Both beat at least twice a second meanwhile.
        time.sleep(min(5.0, REFUSAL_LOG_EVERY_S / 2))
        (wok2,) = _refusals(kitchen, name, 'wok2')
        assert 'bad MAC' in wok2 and 'key_file is not the key this dispatcher' in wok2
        assert 'ROBODINE_ROBOT_KEY_DIR/wok2.key' in wok2
        (grill1,) = _refusals(kitchen, name, 'grill1')
        assert "names robot 'wok1'" in grill1 and 'namespace' in grill1
        assert all(p.poll() is None for p in [*procs, *kitchen.dispatchers.values()])
    finally:
        for proc in procs:
            stop_process(proc)
        kitchen.stop()
