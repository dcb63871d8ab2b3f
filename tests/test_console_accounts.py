"""Operator accounts: the `robodine operator add` command and password checks."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.console.accounts import Operator, Verifier, add_operator, authenticate, hasher
from orchestrator.settings import OperatorSeed, Settings


def robodine(*args: str, stdin: str = '') -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, '-m', 'orchestrator.cli', *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_operator_add_stores_an_argon2_hash(redis_url: str, aredis: Redis) -> None:
    out = robodine(
        'operator',
        'add',
        'ana',
        '--role',
        'manager',
        '--redis-url',
        redis_url,
        '--password-stdin',
        stdin='s3cret-enough\n',
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'added manager ana'
    stored = await aredis.hgetall(keys.operator('ana'))
    assert stored['role'] == 'manager' and stored['password_hash'].startswith('$argon2')
    assert 's3cret' not in str(stored)
    settings = Settings(redis_url=redis_url)
    assert await authenticate(aredis, settings, Verifier(1), 'ana', 's3cret-enough') == Operator(
        'ana', 'manager'
    )
    assert await authenticate(aredis, settings, Verifier(1), 'ana', 'wrong-password') is None
    out = robodine(
        'operator',
        'add',
        'ana',
        '--redis-url',
        redis_url,
        '--password-stdin',
        stdin='another-password\n',
    )
    assert out.stdout.strip() == 'updated operator ana'
    assert await authenticate(
        aredis, settings, Verifier(1), 'ana', 'another-password'
    ) == Operator('ana', 'operator')


@pytest.mark.parametrize(
    ('name', 'password', 'message'),
    [
        ('Ana!', 'long-enough-pw', 'name:'),
        ('ana', 'short', 'password: at least 8'),
    ],
)
def test_operator_add_refuses_bad_input(
    redis_url: str, name: str, password: str, message: str
) -> None:
    out = robodine(
        'operator',
        'add',
        name,
        '--redis-url',
        redis_url,
        '--password-stdin',
        stdin=password + '\n',
    )
    assert out.returncode == 1 and message in out.stderr


def test_operator_add_says_when_redis_is_unreachable() -> None:
    out = robodine(
        'operator',
        'add',
        'ana',
        '--redis-url',
        'redis://127.0.0.1:1/0',
        '--password-stdin',
        stdin='long-enough-pw\n',
    )
    assert out.returncode == 1 and 'cannot reach Redis' in out.stderr


async def test_configured_accounts_and_redis_accounts(aredis: Redis, redis_url: str) -> None:
    seed = OperatorSeed(role='manager', password_hash=SecretStr(hasher.hash('from-config-1')))
    settings = Settings(redis_url=redis_url, operators={'boss': seed})
    assert await authenticate(aredis, settings, Verifier(1), 'boss', 'from-config-1') == Operator(
        'boss', 'manager'
    )
    assert await authenticate(aredis, settings, Verifier(1), 'nobody', 'from-config-1') is None
    # A password set with the CLI replaces the configured one.
    await add_operator(aredis, 'boss', 'from-redis-22', 'manager')
    assert await authenticate(aredis, settings, Verifier(1), 'boss', 'from-config-1') is None
    assert await authenticate(aredis, settings, Verifier(1), 'boss', 'from-redis-22') is not None
