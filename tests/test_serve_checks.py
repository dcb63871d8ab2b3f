"""What `robodine serve` and `robodine qr` check before they run: no demo table key unless asked
for, a Redis that keeps what it acknowledged; `robodine keys new` makes the key to use."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import redis
from api_helpers import REPO, token_for, uvicorn_server
from pydantic import SecretStr

from orchestrator.redis_server import free_port
from orchestrator.settings import Settings
from table_qr.tokens import verify


def robodine(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process, without the test suite's ROBODINE_DEMO."""
    base = {k: v for k, v in os.environ.items() if k != 'ROBODINE_DEMO'}
    return subprocess.run(
        [sys.executable, '-m', 'orchestrator.cli', *args],
        cwd=REPO,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def serve(redis_url: str, *flags: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`robodine serve` expected to refuse at once (a server that starts would time out)."""
    return robodine('serve', '--redis-url', redis_url, '--port', str(free_port()), *flags, **env)


@contextmanager
def redis_config(redis_url: str, **values: str) -> Iterator[None]:
    """CONFIG SET on the shared test Redis, restored afterwards."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    names = [n.replace('_', '-') for n in values]
    before = client.config_get(*names)
    try:
        for name, value in zip(names, values.values(), strict=True):
            client.config_set(name, value)
        yield
    finally:
        for name in names:
            client.config_set(name, before[name])
        client.close()


def test_keys_new_makes_a_key_and_rotation_keeps_the_old_ones(tmp_path: Path) -> None:
    out = robodine('keys', 'new')
    assert out.returncode == 0, out.stderr
    keys = json.loads(out.stdout)
    assert list(keys) == ['k1'] and len(keys['k1']) >= 40
    assert 'demo' not in out.stdout and 'ROBODINE_TABLE_KEYS' in out.stderr
    rotated = json.loads(
        robodine('keys', 'new', '--rotate', ROBODINE_TABLE_KEYS=out.stdout).stdout
    )
    assert list(rotated) == ['k2', 'k1'] and rotated['k1'] == keys['k1']
    assert rotated['k2'] != keys['k1']
    # The new key signs the codes `qr` prints, which the server verifies.
    qr = robodine(
        'qr',
        '--base-url',
        'https://dine.example',
        '--out',
        str(tmp_path),
        ROBODINE_TABLE_KEYS=json.dumps(rotated),
    )
    assert qr.returncode == 0, qr.stderr
    url = (tmp_path / 'tables.csv').read_text().splitlines()[1].split(',')[2]
    token = url.rsplit('/', 1)[1]
    assert token.startswith('k2.')
    assert verify(token, {k: SecretStr(v) for k, v in rotated.items()}, 'demo').table_id


def test_serve_and_qr_refuse_the_demo_key_unless_asked(redis_url: str, tmp_path: Path) -> None:
    refused = serve(redis_url)
    assert refused.returncode == 1
    assert 'demo key' in refused.stderr and 'robodine keys new' in refused.stderr
    qr = robodine('qr', '--base-url', 'https://dine.example', '--out', str(tmp_path / 'qr'))
    assert qr.returncode == 1 and 'robodine keys new' in qr.stderr
    assert not (tmp_path / 'qr').exists()
    flagged = robodine(
        'qr', '--base-url', 'https://dine.example', '--out', str(tmp_path / 'qr'), '--demo'
    )
    assert flagged.returncode == 0, flagged.stderr


def test_serve_runs_on_a_generated_key(redis_url: str, tmp_path: Path) -> None:
    keys = robodine('keys', 'new').stdout
    env = {'ROBODINE_DEMO': '0', 'ROBODINE_TABLE_KEYS': keys}
    settings = Settings(table_keys=json.loads(keys))
    with uvicorn_server(redis_url, tmp_path, env) as server:
        assert httpx.get(f'{server.url}/api/menu').status_code == 200
        # Codes signed with the demo key are forgeries here.
        res = httpx.get(f'{server.url}/api/tables/{token_for("t01")}/orders')
        assert res.status_code == 401
        res = httpx.get(f'{server.url}/api/tables/{token_for("t01", settings)}/orders')
        assert res.status_code == 200


def test_serve_refuses_a_redis_that_may_evict_orders(redis_url: str) -> None:
    with redis_config(redis_url, maxmemory_policy='allkeys-lru'):
        refused = serve(redis_url, '--demo')
    assert refused.returncode == 1
    assert 'maxmemory-policy is allkeys-lru' in refused.stderr
    assert 'noeviction' in refused.stderr


def test_readyz_reports_what_redis_may_lose(redis_url: str, tmp_path: Path) -> None:
    with (
        redis_config(redis_url, appendfsync='everysec'),
        uvicorn_server(redis_url, tmp_path) as server,
    ):
        ready = httpx.get(f'{server.url}/readyz').json()
        assert ready['status'] == 'ready'
        assert ready['redis']['appendonly'] == 'yes'
        assert ready['redis']['appendfsync'] == 'everysec'
        assert ready['redis']['warnings'] == [
            'appendfsync is everysec: a crash of Redis may lose the last second'
        ]
        assert 'appendfsync is everysec' in server.log.read_text()


def test_a_bad_setting_is_named_not_a_traceback() -> None:
    bad = {
        'ROBODINE_REDIS_MIN_REPLICAS': 'abc',
        'ROBODINE_TIME_SCALE': '0',
        'ROBODINE_REDIS_SENTINELS': 'h1,h2:26379',
        'ROBODINE_ROS_DISCOVERY': 'lan',
        'ROBODINE_LOG_LEVEL': 'LOUD',
    }
    for name, value in bad.items():
        res = robodine('config', 'check', 'seeds/restaurant.yaml', **{name: value})
        assert res.returncode == 2, (name, res.stderr)
        assert res.stderr.startswith(f'error: {name}='), res.stderr
        assert 'Traceback' not in res.stderr
    # A JSON setting that does not parse; a secret is not repeated in the error.
    res = robodine('config', 'check', 'seeds/restaurant.yaml', ROBODINE_TABLE_KEYS='s3cret')
    assert res.returncode == 2
    assert res.stderr.startswith('error: ROBODINE_TABLE_KEYS: not valid JSON'), res.stderr
    assert 's3cret' not in res.stderr


def test_qr_takes_its_base_url_from_the_setting(tmp_path: Path) -> None:
    out = tmp_path / 'qr'
    env = {'ROBODINE_BASE_URL': 'https://dine.example'}
    res = robodine('qr', '--out', str(out), '--demo', **env)
    assert res.returncode == 0, res.stderr
    assert 'https://dine.example/t/' in (out / 'tables.csv').read_text()
    # Without the setting the flag is still required: no codes for the demo's 127.0.0.1.
    res = robodine('qr', '--out', str(tmp_path / 'none'), '--demo')
    assert res.returncode == 2 and '--base-url' in res.stderr, res.stderr


def test_a_time_scale_out_of_range_is_refused_before_anything_starts() -> None:
    for args in (
        ('up', '--time-scale', '0', '--port', str(free_port())),
        ('dispatcher', '--time-scale', '-1', '--redis-url', 'redis://127.0.0.1:1/0'),
        ('dispatcher', '--time-scale', '5000', '--redis-url', 'redis://127.0.0.1:1/0'),
    ):
        res = robodine(*args)
        assert res.returncode == 2, (args, res.stderr)
        assert 'argument --time-scale: must be more than 0 and at most 1000' in res.stderr


def test_serve_reuse_port_on_a_port_taken_says_so(redis_url: str) -> None:
    port = free_port()
    taken = socket.socket()
    taken.bind(('127.0.0.1', port))  # without SO_REUSEPORT: no `serve --reuse-port` may join
    taken.listen()
    try:
        res = robodine(
            'serve', '--redis-url', redis_url, '--port', str(port), '--reuse-port', '--demo'
        )
    finally:
        taken.close()
    assert res.returncode == 1, res.stderr
    assert f'error: cannot listen on 127.0.0.1:{port}: ' in res.stderr
    assert 'Traceback' not in res.stderr
