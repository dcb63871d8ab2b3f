"""The Redis server's own settings that robodine's promises depend on (no key of its own).

An order acknowledged with 201 survives a crash only if Redis writes it to its append-only file
before answering (`appendonly yes`, `appendfsync always`); it stays at all only if Redis never
evicts keys to make room (`maxmemory-policy noeviction`: a full Redis refuses writes, and the
API answers 503, instead of silently dropping orders, jobs or streams).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from redis.asyncio import Redis

PARAMETERS = ('appendonly', 'appendfsync', 'maxmemory-policy')
UNKNOWN = 'unknown'


@dataclass(frozen=True)
class Durability:
    appendonly: str = UNKNOWN
    appendfsync: str = UNKNOWN
    maxmemory_policy: str = UNKNOWN

    @property
    def evicts(self) -> bool:
        """Redis may delete keys under memory pressure: orders and jobs could vanish."""
        return self.maxmemory_policy not in ('noeviction', UNKNOWN)

    def warnings(self) -> list[str]:
        """What an operator should know, one sentence each (empty when all is as it should)."""
        if self.maxmemory_policy == UNKNOWN:
            return [
                'cannot read the Redis configuration (CONFIG GET refused): check appendonly, '
                'appendfsync and maxmemory-policy by hand'
            ]
        out = []
        if self.evicts:
            out.append(
                f'maxmemory-policy is {self.maxmemory_policy}: Redis may evict orders and jobs '
                'when memory is full; set it to noeviction'
            )
        if self.appendonly != 'yes':
            out.append(
                'appendonly is not yes: every order since the last snapshot is lost if Redis '
                'crashes'
            )
        elif self.appendfsync == 'everysec':
            out.append('appendfsync is everysec: a crash of Redis may lose the last second')
        elif self.appendfsync != 'always':
            out.append(
                f'appendfsync is {self.appendfsync}: a crash of the host may lose acknowledged '
                'orders'
            )
        return out

    def view(self) -> dict[str, object]:
        return {
            'appendonly': self.appendonly,
            'appendfsync': self.appendfsync,
            'maxmemory_policy': self.maxmemory_policy,
            'warnings': self.warnings(),
        }


def _parse(config: dict[str, str]) -> Durability:
    return Durability(
        appendonly=str(config.get('appendonly', UNKNOWN)),
        appendfsync=str(config.get('appendfsync', UNKNOWN)),
        maxmemory_policy=str(config.get('maxmemory-policy', UNKNOWN)),
    )


async def durability(r: Redis) -> Durability:
    """The server's persistence and eviction settings (all unknown where CONFIG is refused,
    as on some managed services)."""
    try:
        return _parse(await r.config_get(*PARAMETERS))
    except redis.ResponseError:
        return Durability()


def durability_sync(client: redis.Redis) -> Durability:
    try:
        return _parse(client.config_get(*PARAMETERS))
    except redis.ResponseError:
        return Durability()
