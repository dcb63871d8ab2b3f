"""Helpers for the API tests: an app bound to the test Redis, tokens, a real uvicorn process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from orchestrator.redis_server import free_port
from orchestrator.settings import DEFAULT_CONFIG, Settings
from table_qr.tokens import sign

REPO = Path(__file__).resolve().parent.parent
T = TypeVar('T')


def config_with(directory: Path, change: dict[str, object]) -> Path:
    """The demo restaurant's config with `change` ('service.robot_lost_after_s': 2, a list
    item by its index) written to `directory`/restaurant.yaml; its path."""
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding='utf-8'))
    raw = {k: v for k, v in raw.items() if not str(k).startswith('x-')}
    for path, value in change.items():
        *parents, last = path.split('.')
        node: object = raw
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]  # type: ignore[index]
        node[int(last) if isinstance(node, list) else last] = value  # type: ignore[index]
    out = directory / 'restaurant.yaml'
    out.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding='utf-8')
    return out


def settings_for(redis_url: str, **overrides: Any) -> Settings:
    return Settings(redis_url=redis_url, config_path=DEFAULT_CONFIG, **overrides)


def token_for(table_id: str, settings: Settings | None = None) -> str:
    s = settings or Settings()
    return sign(s.table_keys, 'demo', table_id)


def line(dish_id: str, quantity: int = 1, note: str = '', **options: str) -> dict[str, Any]:
    """One order line (options as keyword arguments: spice='hot')."""
    return {'dish_id': dish_id, 'quantity': quantity, 'options': options, 'note': note}


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


def wait_until(
    predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.02, what: str = ''
) -> T:
    """Poll `predicate` until it returns something truthy; that value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f'timed out after {timeout:g} s waiting for {what or predicate}')
        time.sleep(interval)


async def eventually(probe: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    """The first truthy result of `probe`, polled until `timeout`."""
    deadline = time.monotonic() + timeout
    while not (value := await probe()):
        if time.monotonic() > deadline:
            raise TimeoutError(f'condition not met within {timeout}s')
        await asyncio.sleep(0.05)
    return value


@contextmanager
def uvicorn_server(
    redis_url: str,
    log_dir: Path,
    extra_env: dict[str, str] | None = None,
    config: Path = DEFAULT_CONFIG,
) -> Iterator[Server]:
    """`robodine serve` of the restaurant `config` in a child process on a free port, stopped
    at exit."""
    port = free_port()
    log = log_dir / f'serve-{port}.log'
    env = {**os.environ, **(extra_env or {})}
    with log.open('wb') as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                '-m',
                'orchestrator.cli',
                'serve',
                '--config',
                str(config),
                '--redis-url',
                redis_url,
                '--port',
                str(port),
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f'http://127.0.0.1:{port}'

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f'server exited: {log.read_text()}')
        try:
            return httpx.get(f'{url}/healthz', timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, timeout=30)
        yield Server(url, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


KEY_HEADER = {'Idempotency-Key': 'same-key-for-all-50'}
