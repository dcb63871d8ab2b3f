"""Shared fixtures: a real redis-server per test session, ROS 2 isolation, the demo config."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from redis.asyncio import Redis

from orchestrator.config import RestaurantConfig, load_restaurant
from orchestrator.redis_server import RedisServer
from orchestrator.settings import DEFAULT_CONFIG

# Each test run gets its own DDS domain on loopback, so parallel runs never see each other.
os.environ.setdefault('ROS_DOMAIN_ID', str(10 + os.getpid() % 90))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
# Tests sign table codes with the demo key: `serve` and `qr` must accept it here.
os.environ.setdefault('ROBODINE_DEMO', '1')
# Apps and servers started by tests keep their archive (SQLite) out of the repository's var/.
os.environ.setdefault('ROBODINE_DATA_DIR', tempfile.mkdtemp(prefix='robodine-test-data-'))


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
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def seeds_dir() -> Path:
    return DEFAULT_CONFIG.parent
