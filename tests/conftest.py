"""Shared fixtures: a real redis-server per test session, ROS 2 isolation, the demo config."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from playwright.async_api import Browser
from redis.asyncio import Redis

from orchestrator.config import RestaurantConfig, load_restaurant
from orchestrator.redis_server import RedisServer
from orchestrator.settings import DEFAULT_CONFIG, Settings
from orchestrator.store import connection
from tests.browser_support import chromium


def _own_ros_domain() -> str:
    """A DDS domain that no other test run on this machine holds: one lock file per domain,
    held until this process exits (the robots, dispatchers and servers it starts inherit the
    domain), so parallel runs never see each other's robots."""
    for domain in range(10, 233):
        path = Path(tempfile.gettempdir()) / f'robodine-test-ros-domain-{domain}.lock'
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _DOMAIN_LOCKS.append(fd)
        return str(domain)
    raise RuntimeError('every ROS domain from 10 to 232 is held by another test run')


_DOMAIN_LOCKS: list[int] = []
# Each test run gets its own DDS domain on loopback, and so does each pytest-xdist worker (a
# worker inherits its controller's domain, which it must not share with the other workers).
if 'ROS_DOMAIN_ID' not in os.environ or 'PYTEST_XDIST_WORKER' in os.environ:
    os.environ['ROS_DOMAIN_ID'] = _own_ros_domain()
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
# Robots started by tests drive without the traffic controller, unless a test starts one.
os.environ.setdefault('ROBODINE_TRAFFIC_CONTROL', 'false')
# Tests sign table codes with the demo key: `serve` and `qr` must accept it here.
os.environ.setdefault('ROBODINE_DEMO', '1')
# Apps and servers started by tests keep their archive (SQLite) out of the repository's var/,
# in a directory of this run's that goes when it ends (each xdist worker has its own).
if 'ROBODINE_DATA_DIR' not in os.environ:
    os.environ['ROBODINE_DATA_DIR'] = tempfile.mkdtemp(prefix='robodine-test-data-')
    atexit.register(shutil.rmtree, os.environ['ROBODINE_DATA_DIR'], ignore_errors=True)


# Processes tests start (robots, dispatchers, servers, `robodine up`): `python -m <these>`.
_OUR_MODULES = ('robot_nodes.', 'orchestrator.cli')


def _ours_left_running() -> dict[int, str]:
    """pid -> command line of every process of ours on this run's DDS domain, orphans too."""
    found = {}
    domain = f'ROS_DOMAIN_ID={os.environ["ROS_DOMAIN_ID"]}'.encode()
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / 'cmdline').read_bytes().split(b'\0')
            environ = (entry / 'environ').read_bytes().split(b'\0')
        except OSError:
            continue
        module = argv[argv.index(b'-m') + 1].decode() if b'-m' in argv[:-1] else ''
        if module.startswith(_OUR_MODULES) and domain in environ:
            found[int(entry.name)] = ' '.join(a.decode(errors='replace') for a in argv)[:200]
    return found


@pytest.fixture(autouse=True, scope='module')
def _no_process_left_behind() -> Iterator[None]:
    """A robot or dispatcher a test module leaves running stays on the DDS domain and confuses
    every later module (a second `serve1` standing in an aisle blocks the next fleet's for
    good): end them and fail the module's teardown with their names."""
    yield
    left = _ours_left_running()
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f'processes left running after the module: {sorted(left.values())}'


@pytest.fixture(scope='session')
def demo_config() -> RestaurantConfig:
    return load_restaurant(DEFAULT_CONFIG)


@pytest.fixture(scope='session')
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp('redis')).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A clean database on the session's real redis-server (restarted if a test killed it)."""
    if redis_server.proc is None or redis_server.proc.poll() is not None:
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
async def aredis(redis_url: str) -> AsyncIterator[Redis]:
    # The processes' own client (commands packed in C), so every store test goes through it.
    client = connection.connect(Settings(redis_url=redis_url))
    yield client
    await client.aclose()


@pytest.fixture
def seeds_dir() -> Path:
    return DEFAULT_CONFIG.parent


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium for one test (a module may override it, e.g. to start its server
    first)."""
    async with chromium() as b:
        yield b
