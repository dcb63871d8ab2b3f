"""Recipes and stock on a real Redis: the config's checks, intake taking ingredients in its one
script (refusing with 409 what stock cannot make, 86-ing what it can no longer make, live on
the diner's menu stream), cancellations giving stock back or recording waste, restocks and
counts, and 50 concurrent orders for the last 10 portions on a real uvicorn."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import ConfigError, RestaurantConfig, load_restaurant, parse_amount
from orchestrator.pricing import OrderIn
from orchestrator.recipes import kitchen
from orchestrator.store import jobs, menu, stock
from orchestrator.store.intake import Intake
from tests.api_helpers import config_with, token_for, uvicorn_server


def order(*items: tuple[str, int], **options: str) -> OrderIn:
    return OrderIn.model_validate(
        {'items': [{'dish_id': d, 'quantity': q, 'options': options} for d, q in items]}
    )


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ({'recipes.0.uses': {'chiken': 150}}, "recipes[0].uses: unknown id 'chiken'"),
        (
            {'recipes.0.uses': {'chicken': '150 ml'}},
            "recipes[0].uses.chicken: '150 ml' is in ml but the ingredient is counted in g",
        ),
        ({'recipes.0.dish': 'pizza'}, "recipes[0].dish: unknown id 'pizza'"),
        (
            {'recipes.0.options': [{'option': 'ice', 'choice': 'none', 'set': {'ice': 0}}]},
            "recipes[0].options[0].option: 'kungpao' has no option 'ice'",
        ),
        (
            {'recipes.0.options': [{'option': 'size', 'choice': 'huge', 'add': {}}]},
            "recipes[0].options[0].choice: unknown id 'huge'",
        ),
        ({'ingredients.0.par': '2.5 g'}, "ingredients[0].par: '2.5 g' is not a whole number of g"),
        (
            {'ingredients.0.low_stock': '3 lb'},
            "ingredients[0].low_stock: '3 lb': unknown unit 'lb'",
        ),
    ],
)
def test_config_check_names_the_bad_reference_or_unit(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as e:
        load_restaurant(config_with(tmp_path, change))
    assert message in str(e.value)


def test_recipes_resolve_options_to_exact_amounts(demo_config: RestaurantConfig) -> None:
    k = kitchen(demo_config)
    assert k.uses('kungpao') == {'chicken': 150, 'chili-sauce': 20, 'peanuts': 20}
    # Large adds chicken, hot adds sauce, mild takes some away; no ice sets it to nothing.
    assert k.uses('kungpao', {'size': 'large', 'spice': 'hot'})['chicken'] == 225
    assert k.uses('kungpao', {'spice': 'mild'})['chili-sauce'] == 10
    assert k.uses('iced-tea', {'ice': 'none'}) == {'tea': 300}
    assert parse_amount('1.5 l', 'ml') == 1500 and parse_amount('2 kg', 'g') == 2000
    assert k.uses('galbi') == {'short-rib': 2}


async def take(intake: Intake, table: str, o: OrderIn) -> str:
    outcome = await intake.take(table, secrets.token_hex(8), o)
    return outcome.kind if outcome.kind == 'created' else f'{outcome.kind}:{outcome.value}'


async def test_intake_takes_stock_refuses_what_it_cannot_make_and_86es(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    intake = Intake(aredis, demo_config)
    await intake.ensure_groups()
    before = await stock.levels(aredis)
    assert before['chicken'] == 150_000  # the opening level: `par`
    assert await take(intake, 't01', order(('kungpao', 2), size='large', spice='hot')) == 'created'
    after = await stock.levels(aredis)
    assert before['chicken'] - after['chicken'] == 2 * 225
    assert before['chili-sauce'] - after['chili-sauce'] == 2 * 35

    # Three short ribs left: one galbi (two ribs) fits, two do not; nothing is written then.
    await stock.count(aredis, demo_config, 'short-rib', 3, 'ana', 'counted the fridge')
    moves_before = await aredis.xlen(keys.STOCK_MOVES)
    assert await take(intake, 't02', order(('mochi', 1), ('galbi', 2))) == 'nostock:galbi'
    assert await aredis.xlen(keys.STOCK_MOVES) == moves_before
    assert (await stock.levels(aredis))['short-rib'] == 3
    assert not await menu.is_soldout(aredis, 'galbi')
    # One fits: the one rib left cannot make another, so galbi is 86'd at once, live.
    feed_before = await aredis.xlen(keys.FEED)
    assert await take(intake, 't02', order(('galbi', 1))) == 'created'
    assert await menu.is_soldout(aredis, 'galbi')
    assert await stock.auto_out(aredis) == {'galbi'}
    changed = [
        json.loads(f['data'])
        for _, f in await aredis.xrange(keys.FEED)
        if f.get('type') == 'menu.changed'
    ]
    assert changed[-1] == {
        'dish_id': 'galbi',
        'by': 'stock',
        'soldout': True,
        'ingredient': 'short-rib',
    }
    assert await aredis.xlen(keys.FEED) > feed_before
    assert await take(intake, 't03', order(('galbi', 1))) == 'soldout:galbi'

    # A restock brings it back by itself.
    assert await stock.restock(aredis, demo_config, 'short-rib', 10, 'ana', 'delivery') == 11
    assert not await menu.is_soldout(aredis, 'galbi')
    kinds = [m['kind'] for m in reversed(await stock.moves(aredis, 10))]
    assert kinds == ['sale', 'count', 'sale', 'out', 'restock', 'back']


async def test_a_sale_86es_the_other_dishes_an_ingredient_no_longer_makes(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    """Intake looks at the dishes of an ingredient only once its level falls below the most any
    dish needs of it (its floor, fried chicken's 400 g here), and then at all of them."""
    intake = Intake(aredis, demo_config)
    await intake.ensure_groups()
    assert stock.floors(demo_config)['chicken'] == 400
    await stock.count(aredis, demo_config, 'chicken', 850, 'ana', 'counted the fridge')
    assert await take(intake, 't01', order(('kungpao', 1))) == 'created'  # 700 g: above
    assert not await aredis.smembers(keys.SOLDOUT)
    assert await take(intake, 't01', order(('kungpao', 2))) == 'created'  # 400 g: at the floor
    assert not await aredis.smembers(keys.SOLDOUT)
    assert await take(intake, 't01', order(('chicken-skewer', 1))) == 'created'  # 280 g
    assert await stock.auto_out(aredis) == {'fried-chicken'}
    assert await take(intake, 't02', order(('kungpao', 1))) == 'created'  # 130 g
    assert await stock.auto_out(aredis) == {'fried-chicken', 'kungpao'}
    assert await take(intake, 't02', order(('chicken-skewer', 1))) == 'created'  # 10 g
    assert await stock.auto_out(aredis) == {'fried-chicken', 'kungpao', 'chicken-skewer'}


async def test_an_operators_86_is_not_undone_by_a_restock(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    intake = Intake(aredis, demo_config)
    await intake.ensure_groups()
    await stock.count(aredis, demo_config, 'mackerel', 0, 'ana', 'none delivered')
    assert await stock.auto_out(aredis) == {'grilled-mackerel'}
    # The operator takes it over (86 it themselves): a delivery does not bring it back. Once
    # theirs, an 86 more changes nothing (a double tap).
    assert await menu.set_soldout(aredis, 'grilled-mackerel', True, 'ana')
    assert not await menu.set_soldout(aredis, 'grilled-mackerel', True, 'ana')
    await stock.restock(aredis, demo_config, 'mackerel', 5, 'ana', 'late delivery')
    assert await menu.is_soldout(aredis, 'grilled-mackerel')
    # A dish without enough stock that an operator put back is still refused by intake.
    await stock.count(aredis, demo_config, 'mackerel', 0, 'ana', 'fish was off')
    await menu.set_soldout(aredis, 'grilled-mackerel', False, 'ana')
    assert await take(intake, 't04', order(('grilled-mackerel', 1))) == 'nostock:grilled-mackerel'


async def test_cancelled_dishes_give_stock_back_or_are_waste(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    intake = Intake(aredis, demo_config)
    await intake.ensure_groups()
    await stock.count(aredis, demo_config, 'mackerel', 2, 'ana', 'two left')
    outcome = await intake.take('t05', 'key-cancel-1', order(('grilled-mackerel', 2)))
    oid = json.loads(outcome.response)['id']
    assert await menu.is_soldout(aredis, 'grilled-mackerel')
    first, second = f'{oid}-00-00', f'{oid}-00-01'
    # Not started: its fish goes back (and the dish is on the menu again).
    assert (await jobs.cancel(aredis, first, 'ana')).result == jobs.WITHDRAWN
    assert (await stock.levels(aredis))['mackerel'] == 1
    assert not await menu.is_soldout(aredis, 'grilled-mackerel')
    # Being cooked: the fish is gone, recorded as waste.
    await aredis.hset(keys.job(second), mapping={'status': jobs.COOKING, 'robot': 'grill1'})
    assert (await jobs.cancel(aredis, second, 'ana')).result == jobs.WASTED
    assert (await stock.levels(aredis))['mackerel'] == 1
    (waste,) = await stock.moves(aredis, 10, kinds=[stock.WASTE])
    assert waste['items'] == {'mackerel': 1}
    assert (waste['job_id'], waste['by'], waste['dish_id']) == (second, 'ana', 'grilled-mackerel')
    (back,) = await stock.moves(aredis, 10, kinds=[stock.RETURN])
    assert back['items'] == {'mackerel': 1} and back['job_id'] == first


async def test_counts_and_restocks_are_checked(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    await stock.sync(aredis, demo_config)
    for work, field in (
        (stock.restock(aredis, demo_config, 'chicken', 0, 'ana', ''), 'amount'),
        (stock.count(aredis, demo_config, 'chicken', -1, 'ana', 'x'), 'level'),
        (stock.count(aredis, demo_config, 'chicken', 5, 'ana', '  '), 'why'),
        (stock.restock(aredis, demo_config, 'unobtainium', 5, 'ana', ''), 'ingredient'),
    ):
        with pytest.raises(stock.StockRefused) as e:
            await work
        assert e.value.field == field
    # Start-up again (a restart) keeps the levels Redis has.
    await stock.count(aredis, demo_config, 'chicken', 1234, 'ana', 'counted')
    await stock.sync(aredis, demo_config)
    assert (await stock.levels(aredis))['chicken'] == 1234


def test_fifty_concurrent_orders_for_the_last_ten_portions(
    redis_url: str, tmp_path: Path, demo_config: RestaurantConfig
) -> None:
    with uvicorn_server(redis_url, tmp_path) as server:

        async def run() -> list[httpx.Response]:
            r = Redis.from_url(redis_url, decode_responses=True)
            await stock.count(r, demo_config, 'mackerel', 10, 'ana', 'ten left')
            await r.aclose()
            tables = [t.id for t in demo_config.tables]
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:

                async def post(i: int) -> httpx.Response:
                    token = token_for(tables[i % len(tables)])
                    return await client.post(
                        f'/api/tables/{token}/orders',
                        json={'items': [{'dish_id': 'grilled-mackerel', 'quantity': 1}]},
                        headers={'Idempotency-Key': f'oversell-{i:04d}'},
                    )

                return await asyncio.gather(*(post(i) for i in range(50)))

        responses = asyncio.run(run())

    accepted = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    assert len(accepted) == 10
    # Refused because stock ran out (409) or because the dish had been 86'd by then (422).
    assert {r.status_code for r in refused} <= {409, 422}
    assert all(r.json()['field'] == 'items[0].dish_id' for r in refused)
    assert all('grilled-mackerel' in r.json()['detail'] for r in refused)

    async def check() -> None:
        r = Redis.from_url(redis_url, decode_responses=True)
        assert (await stock.levels(r))['mackerel'] == 0
        assert await menu.is_soldout(r, 'grilled-mackerel')
        sales = await stock.moves(r, 100, kinds=[stock.SALE])
        assert len(sales) == 10 and all(m['items'] == {'mackerel': -1} for m in sales)
        assert await r.xlen(keys.cook_stream('grill')) == 10
        await r.aclose()

    asyncio.run(check())


async def test_multi_unit_order_beyond_stock_is_a_409_naming_the_dish(
    redis_url: str, tmp_path: Path, aredis: Redis, demo_config: RestaurantConfig
) -> None:
    await Intake(aredis, demo_config).ensure_groups()
    await stock.count(aredis, demo_config, 'mackerel', 2, 'ana', 'two left')
    with uvicorn_server(redis_url, tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            res = await client.post(
                f'/api/tables/{token_for("t01")}/orders',
                json={
                    'items': [
                        {'dish_id': 'mochi', 'quantity': 1},
                        {'dish_id': 'grilled-mackerel', 'quantity': 3},
                    ]
                },
                headers={'Idempotency-Key': 'too-much-fish'},
            )
            menu_now = (await client.get('/api/menu')).json()
    assert res.status_code == 409
    assert res.json() == {
        'detail': "items[1].dish_id: not enough stock left for 'grilled-mackerel'",
        'field': 'items[1].dish_id',
        'reason': 'no_stock',
    }
    assert (await stock.levels(aredis))['mackerel'] == 2
    # Two can still be made: the dish stays on the menu.
    dishes = {d['id']: d for c in menu_now['categories'] for d in c['dishes']}
    assert dishes['grilled-mackerel']['available']
