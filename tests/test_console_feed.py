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
    assert await transform([('1-0', older), ('2-0', newer)], None) == [
        ('2-0', {'type': 'heartbeats', 'seen': {'wok1': 2000, 'serve1': 1900}})
    ]


async def test_only_the_kinds_asked_for_are_made(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    """A process with diner menus and no console: an order's events make no ticket (no
    ticket is read), a menu change makes the menu."""
    transform = console_transform(aredis, demo_config)
    entries = [
        ('1-0', entry_fields(event('o1', 'order.placed', {'table_id': 't1'}))),
        ('2-0', entry_fields(event('', 'menu.changed', {'dish_id': 'fries', 'soldout': True}))),
        ('3-0', entry_fields(event('', 'audit', {'action': 'pause'}))),
    ]
    made = await transform(entries, frozenset({'menu'}))
    assert [(i, m['type']) for i, m in made] == [('2-0', 'menu')]
    everything = await transform(entries, None)
    assert [m['type'] for _, m in everything] == ['menu', 'audit']
