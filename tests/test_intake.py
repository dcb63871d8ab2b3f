"""The intake script against the real Redis: atomic, idempotent, sold-out checked inside."""

from __future__ import annotations

import asyncio
import json

import pytest
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.pricing import OrderIn, price_order
from orchestrator.store import intake_script, jobs
from orchestrator.store.intake import Intake


def order(*items: tuple[str, int]) -> OrderIn:
    return OrderIn.model_validate({'items': [{'dish_id': d, 'quantity': q} for d, q in items]})


async def test_dish_86d_after_validation_is_refused_inside_the_script(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    intake = Intake(aredis, demo_config)
    o = order(('mochi', 1), ('galbi', 2))
    priced = price_order(demo_config, o)  # validated while galbi was still available
    await aredis.sadd(keys.SOLDOUT, 'galbi')
    outcome = await intake.submit('t01', 'key-000001', o, priced)
    assert (outcome.kind, outcome.value) == ('soldout', 'galbi')
    # Only what start-up wrote (cook streams, the stock's recipes and levels): the order, none.
    setup = [keys.STOCK_LEVELS, keys.STOCK_RECIPES]
    assert sorted(await aredis.keys('*')) == sorted(
        [keys.SOLDOUT, *setup] + [keys.cook_stream(s.id) for s in demo_config.stations]
    )
    assert all([await aredis.xlen(keys.cook_stream(s.id)) == 0 for s in demo_config.stations])


async def test_one_job_per_unit_and_replay(aredis: Redis, demo_config: RestaurantConfig) -> None:
    intake = Intake(aredis, demo_config)
    o = order(('ramyeon', 20), ('mochi', 3))
    priced = price_order(demo_config, o)
    created = await intake.submit('t05', 'key-000002', o, priced)
    assert created.kind == 'created'
    oid = json.loads(created.response)['id']
    noodle = await aredis.xrange(keys.cook_stream('noodle'))
    entries = [jobs.parse_entry(f) for _, f in noodle]
    assert [e.job_id for e in entries if e] == [f'{oid}-00-{u:02d}' for u in range(20)]
    assert await aredis.xlen(keys.cook_stream('dessert')) == 3
    assert await aredis.hget(keys.order(oid), 'jobs_total') == '23'
    replay = await intake.submit('t05', 'key-000002', o, priced)
    assert (replay.kind, replay.response) == ('replay', created.response)
    conflict = await intake.submit('t05', 'key-000002', order(('mochi', 1)), priced)
    assert conflict.kind == 'conflict'
    assert await aredis.zcard(keys.table_orders('t05')) == 1
    assert 0 < await aredis.ttl(keys.idempotency('t05', 'key-000002')) <= 24 * 3600


async def test_groups_are_created_once_and_kept(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    intake = Intake(aredis, demo_config)
    await intake.ensure_groups()
    await aredis.xadd(keys.cook_stream('wok'), {'job_id': 'x'})
    await intake.ensure_groups()  # BUSYGROUP is fine; the group keeps its position
    (group,) = await aredis.xinfo_groups(keys.cook_stream('wok'))
    assert group['name'] == 'dispatch' and group['last-delivered-id'] == '0-0'
    assert group['lag'] == 1


async def test_a_price_change_is_seen_by_the_next_order(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    intake = Intake(aredis, demo_config)
    first = await intake.take('t02', 'key-000010', order(('bulgogi', 1)))
    assert json.loads(first.response)['total'] == 18000
    # The override is cached from the first order; the script notices it changed.
    await aredis.set(keys.price('bulgogi'), 16500)
    second = await intake.take('t02', 'key-000011', order(('bulgogi', 2)))
    assert second.kind == 'created' and json.loads(second.response)['total'] == 33000
    await aredis.delete(keys.price('bulgogi'))
    third = await intake.take('t02', 'key-000012', order(('bulgogi', 1)))
    assert json.loads(third.response)['total'] == 18000


async def test_concurrent_orders_each_stored_once_and_script_reloaded(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    # 40 orders in a moment from one table: beyond the per-table limits, switched off here.
    service = demo_config.service.model_copy(
        update={'orders_per_minute': 0, 'dishes_per_session': 0}
    )
    intake = Intake(aredis, demo_config.model_copy(update={'service': service}))
    keys_ = [f'key-{i:06d}' for i in range(40)]
    outcomes = await asyncio.gather(
        *(intake.take('t03', k, order(('mochi', 1))) for k in keys_ + keys_)
    )
    assert sorted(o.kind for o in outcomes) == ['created'] * 40 + ['replay'] * 40
    assert await aredis.zcard(keys.table_orders('t03')) == 40
    assert await aredis.xlen(keys.cook_stream('dessert')) == 40
    # Redis restarted without its functions (no AOF): the library is loaded again.
    await aredis.function_flush()
    again = await intake.take('t03', 'key-after-flush', order(('mochi', 1)))
    assert again.kind == 'created'


@pytest.mark.parametrize(
    'text', ['KRW', 'it\'s "quoted" \\ 한국어\n\t\0 end', '', '{"line":"0","at":"1"}']
)
async def test_constants_reach_the_script_as_written(aredis: Redis, text: str) -> None:
    assert await aredis.eval(f'return {intake_script.lua_string(text)}', 0) == text


async def test_a_replay_after_its_order_was_trimmed_still_names_the_order(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    intake = Intake(aredis, demo_config)
    o = order(('mochi', 1))
    created = await intake.take('t04', 'key-000020', o)
    oid = json.loads(created.response)['id']
    await aredis.delete(keys.order(oid))  # retention set below the idempotency TTL
    replay = await intake.take('t04', 'key-000020', o)
    assert replay.kind == 'replay'
    assert json.loads(replay.response) == {'id': oid, 'table_id': 't04', 'status': 'received'}
