"""Every robodine process's way to Redis: straight to `settings.redis_url`, or through Sentinel.

With `settings.redis_sentinels` set, the address of `redis_url` is replaced by the primary the
sentinels name for `settings.redis_master` (the URL still gives the database, user and
password). redis-py's Sentinel pools ask the sentinels again whenever a connection is made, and
drop a connection that reaches a demoted primary (READONLY), so a process follows a failover by
itself: commands during the switch fail with ConnectionError (the API answers 503, the
dispatcher's loops wait it out), the next ones reach the new primary.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import hiredis
import redis
import redis.sentinel
from redis.asyncio import BlockingConnectionPool, Connection, Redis
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection
from redis.exceptions import DataError

from orchestrator.settings import Settings

# How long a sentinel may take to answer "who is the primary?".
SENTINEL_TIMEOUT_S = 1.0
# Through an outage every waiting write, loop and request retries or is refused, several a
# second: a process logs one line per kind this often, with the count since.
OUTAGE_LOG_EVERY_S = 5.0


# redis is Any to mypy here (pyproject.toml): nothing to check in the subclassing.
class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):  # type: ignore[misc, unused-ignore]
    """A Sentinel pool that waits for a free connection (up to its `timeout`) instead of
    failing at once when all `max_connections` are busy: the API's pool behaviour."""


class _PackedInC:
    """Commands packed by hiredis's C packer instead of redis-py's asyncio one, which is pure
    Python, joins bytes per argument and cost ~1 µs an argument: the intake script's call alone
    took ~25 µs of an order's API CPU. Floats keep redis-py's form (repr), bools and None stay
    errors (DataError)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str) and ' ' in args[0]:  # 'CONFIG GET' and the like
            args = (*args[0].split(), *args[1:])
        if not _PLAIN.issuperset(map(type, args)):  # checked in C: most commands are plain
            args = tuple(_packable(a) for a in args)
        try:
            return [hiredis.pack_command(args)]
        except TypeError as e:
            raise DataError(f'invalid argument to a Redis command: {e}') from e


# What hiredis packs as redis-py does (subclasses, floats and buffers go through _packable).
_PLAIN = frozenset({str, bytes, int})


def _packable(arg: Any) -> Any:
    """`arg` as redis-py's encoder would send it (a bool stays, for hiredis to refuse)."""
    if isinstance(arg, int | float) and not isinstance(arg, bool):
        return repr(arg)
    return bytes(arg) if isinstance(arg, bytearray | memoryview) else arg


class _TcpConnection(_PackedInC, Connection):  # type: ignore[misc, unused-ignore]
    pass


class _SentinelConnection(_PackedInC, SentinelManagedConnection):  # type: ignore[misc, unused-ignore]
    pass


def sentinel_addresses(settings: Settings) -> list[tuple[str, int]]:
    """`settings.redis_sentinels` as (host, port) pairs; empty without Sentinel."""
    out = []
    for item in settings.redis_sentinels:
        host, _, port = item.strip().rpartition(':')
        out.append((host.strip('[]') or '127.0.0.1', int(port)))
    return out


def _url_options(url: str) -> dict[str, Any]:
    """What of a redis:// URL still applies under Sentinel: database, user, password."""
    parts = urlsplit(url)
    db = parts.path.strip('/')
    return {
        'db': int(db) if db else 0,
        'username': unquote(parts.username) if parts.username else None,
        'password': unquote(parts.password) if parts.password else None,
    }


def connect(
    settings: Settings, url: str | None = None, *, blocking_pool: bool = False, **options: Any
) -> Redis:
    """An asyncio client (decode_responses unless told otherwise) for `url` (default
    `settings.redis_url`) or, under Sentinel, for the current primary. `blocking_pool`: a pool
    that waits for a free connection, sized by `redis_max_connections` / `redis_pool_timeout_s`
    unless `max_connections` / `timeout` are given."""
    url = url or settings.redis_url
    options.setdefault('decode_responses', True)
    if blocking_pool:
        options.setdefault('max_connections', settings.redis_max_connections)
        options.setdefault('timeout', settings.redis_pool_timeout_s)
    sentinels = sentinel_addresses(settings)
    if not sentinels:
        if urlsplit(url).scheme == 'redis':  # unix:// and rediss:// keep their own classes
            options.setdefault('connection_class', _TcpConnection)
        if blocking_pool:
            return Redis.from_pool(BlockingConnectionPool.from_url(url, **options))
        return Redis.from_url(url, **options)
    options.setdefault('connection_class', _SentinelConnection)
    manager = Sentinel(
        sentinels,
        sentinel_kwargs={
            'socket_timeout': SENTINEL_TIMEOUT_S,
            'socket_connect_timeout': SENTINEL_TIMEOUT_S,
        },
    )
    pool_class = _BlockingSentinelPool if blocking_pool else SentinelConnectionPool
    return manager.master_for(
        settings.redis_master,
        redis_class=Redis,
        connection_pool_class=pool_class,
        **_url_options(url),
        **options,
    )


def connect_sync(settings: Settings, url: str | None = None, **options: Any) -> redis.Redis:
    """The blocking client, for commands and supervisors that are not asyncio."""
    url = url or settings.redis_url
    options.setdefault('decode_responses', True)
    sentinels = sentinel_addresses(settings)
    if not sentinels:
        return redis.Redis.from_url(url, **options)
    manager = redis.sentinel.Sentinel(
        sentinels,
        sentinel_kwargs={
            'socket_timeout': SENTINEL_TIMEOUT_S,
            'socket_connect_timeout': SENTINEL_TIMEOUT_S,
        },
    )
    return manager.master_for(
        settings.redis_master, redis_class=redis.Redis, **_url_options(url), **options
    )


def describe(settings: Settings, url: str | None = None) -> str:
    """Where the process's Redis is, for log lines and errors."""
    if settings.redis_sentinels:
        return f'Sentinel {",".join(settings.redis_sentinels)} (primary {settings.redis_master!r})'
    return url or settings.redis_url
