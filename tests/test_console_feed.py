"""The console's transform of raw feed entries into the deltas that consoles apply."""

from __future__ import annotations

from redis.asyncio import Redis

from orchestrator.config import RestaurantConfig
from orchestrator.console.feed import console_transform
from orchestrator.store.feed import entry_fields, event


async def test_heartbeat_summaries_become_one_message_with_the_latest(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    transform = console_transform(aredis, demo_config)
    older = entry_fields(event('', 'fleet.heartbeats', {'seen': {'wok1': 1000, 'serve1': 900}}))
    newer = entry_fields(event('', 'fleet.heartbeats', {'seen': {'wok1': 2000, 'serve1': 1900}}))
    assert await transform([('1-0', older), ('2-0', newer)]) == [
        ('2-0', {'type': 'heartbeats', 'seen': {'wok1': 2000, 'serve1': 1900}})
    ]
