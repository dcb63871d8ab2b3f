"""`robodine config check`: the demo passes; broken files fail naming the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from orchestrator.cli import main
from orchestrator.config import MAX_WAYPOINTS
from orchestrator.settings import DEFAULT_CONFIG


def check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(['config', 'check', str(path)])
    out = capsys.readouterr()
    return code, out.out, out.err


def demo() -> dict:
    return yaml.safe_load(DEFAULT_CONFIG.read_text(encoding='utf-8'))


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / 'restaurant.yaml'
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding='utf-8')
    return path


def test_demo_config_is_ok(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check(DEFAULT_CONFIG, capsys)
    assert code == 0
    assert '16 tables, 24 dishes, 6 stations' in out


def test_the_harbor_config_is_ok(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check(DEFAULT_CONFIG.parent / 'harbor.yaml', capsys)
    assert code == 0
    assert '11 tables, 20 dishes, 5 stations, 5 cooking and 2 serving robots' in out


def test_unknown_station(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = demo()
    data['dishes'][3]['station'] = 'teppanyaki'
    path = write(tmp_path, data)
    code, _, err = check(path, capsys)
    assert code == 1
    assert str(path) in err and 'dishes[3].station' in err and 'teppanyaki' in err


def test_too_many_waypoints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = demo()
    data['floor']['waypoints'] += [
        {'id': f'extra{i}', 'x': 1.0, 'y': 1.0} for i in range(MAX_WAYPOINTS)
    ]
    path = write(tmp_path, data)
    code, _, err = check(path, capsys)
    assert code == 1 and str(path) in err and 'floor.waypoints' in err
    assert f'at most {MAX_WAYPOINTS} items' in err


def test_bad_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / 'broken.yaml'
    path.write_text('restaurant: {id: demo\ntables: [\n', encoding='utf-8')
    code, _, err = check(path, capsys)
    assert code == 1 and str(path) in err and 'not valid YAML' in err


def test_missing_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = demo()
    del data['tables'][2]['seats']
    path = write(tmp_path, data)
    code, _, err = check(path, capsys)
    assert code == 1 and str(path) in err and 'tables.2.seats' in err and 'required' in err.lower()


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / 'nowhere.yaml'
    code, _, err = check(path, capsys)
    assert code == 1 and str(path) in err and 'cannot read' in err


def test_unreachable_after_lost(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = demo()
    data['service'].update(robot_unreachable_after_s=10, robot_lost_after_s=5)
    path = write(tmp_path, data)
    code, _, err = check(path, capsys)
    assert code == 1 and str(path) in err
    assert 'service.robot_unreachable_after_s' in err and 'robot_lost_after_s' in err
