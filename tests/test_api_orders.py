"""The orchestrator API through its ASGI app (httpx ASGITransport) against the real Redis."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from api_helpers import line, settings_for, token_for
from fastapi import FastAPI
from pydantic import SecretStr
from redis.asyncio import Redis

from orchestrator import ids
from orchestrator import redis_keys as keys
from orchestrator.api.app import create_app
from orchestrator.redis_server import RedisServer
from orchestrator.settings import Settings
from orchestrator.store import jobs
from orchestrator.store import orders as timeline
from orchestrator.store.feed import now_ms
from table_qr.tokens import sign

T01 = token_for('t01')
T02 = token_for('t02')
KEY = 'order-key-0001'
ORDER = {'items': [line('kungpao', 2, spice='hot', size='large'), line('iced-tea', 1, ice='less')]}


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return settings_for(redis_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    # Only our routes: the console's background services are tested with the console.
    app = create_app(settings.model_copy(update={'console_enabled': False}))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url='http://diner.test') as c:
        yield c


async def post(
    client: httpx.AsyncClient, body: Any, key: str | None = KEY, token: str = T01
) -> httpx.Response:
    headers = {'Idempotency-Key': key} if key is not None else {}
    return await client.post(f'/api/tables/{token}/orders', json=body, headers=headers)


async def order_state(r: Redis) -> dict[str, int]:
    """How much order state Redis holds (cook streams exist from startup, maybe empty)."""
    cook = [
        await r.xlen(keys.cook_stream(s))
        for s in ('wok', 'grill', 'fryer', 'noodle', 'drinks', 'dessert')
    ]
    return {
        'orders': len(await r.keys('rd:order:*')),
        'jobs': len(await r.keys('rd:job:*')),
        'idem': len(await r.keys('rd:idem:*')),
        'cook': sum(cook),
        'feed': await r.xlen(keys.FEED),
        'tables': len(await r.keys('rd:table:*')),
    }


EMPTY = {'orders': 0, 'jobs': 0, 'idem': 0, 'cook': 0, 'feed': 0, 'tables': 0}


async def test_order_is_priced_and_stored_with_one_job_per_unit(
    client: httpx.AsyncClient, aredis: Redis
) -> None:
    res = await post(client, ORDER)
    assert res.status_code == 201, res.text
    order = res.json()
    assert order['status'] == 'received' and order['currency'] == 'KRW'
    assert order['table_id'] == 't01'
    kungpao, tea = order['lines']
    assert kungpao['unit_price'] == 14000 + 500 + 2000 and kungpao['line_total'] == 33000
    assert kungpao['options'] == {'spice': 'hot', 'size': 'large'}
    assert tea['unit_price'] == 4000 and tea['options'] == {'ice': 'less'}
    assert order['total'] == 37000

    oid = order['id']
    assert oid.startswith('o') and len(oid) == 11
    h = await aredis.hgetall(keys.order(oid))
    assert h['status'] == 'received' and h['table_id'] == 't01' and h['total'] == '37000'
    assert h['jobs_total'] == '3' and h['jobs_cooked'] == '0'
    assert json.loads(h['lines']) == order['lines']
    assert h['created_at'] == h['updated_at'] == str(order['created_at'])
    assert await aredis.zrange(keys.table_orders('t01'), 0, -1) == [oid]

    wok = await aredis.xrange(keys.cook_stream('wok'))
    # Each entry is one field, the cook entry as JSON (`jobs.packed`).
    assert all(list(f) == [jobs.ENTRY] for _, f in wok)
    assert [json.loads(f[jobs.ENTRY])['job_id'] for _, f in wok] == [
        f'{oid}-00-00',
        f'{oid}-00-01',
    ]
    assert json.loads(wok[0][1][jobs.ENTRY]) == {
        'job_id': f'{oid}-00-00',
        'order_id': oid,
        'table_id': 't01',
        'dish_id': 'kungpao',
        'station': 'wok',
        'line': '0',
        'options': '["spice=hot","size=large"]',
        'cook_time_s': '240.0',
        # 0: the entry's own time is the order's (a remade dish keeps its order's time here).
        'arrived_at': '0',
    }
    drinks = await aredis.xrange(keys.cook_stream('drinks'))
    ((_, drink),) = drinks
    assert json.loads(drink[jobs.ENTRY])['job_id'] == f'{oid}-01-00'
    assert await aredis.hgetall(keys.job(f'{oid}-01-00')) == {
        # The whole cook entry, so a dead letter or requeue never needs the stream entry.
        jobs.ENTRY: drink[jobs.ENTRY],
        'status': 'queued',
        'epoch': '0',
        'attempts': '0',
        # What it took from stock (less ice): given back if it is withdrawn.
        'uses': '{"ice":60,"tea":300}',
    }
    groups = await aredis.xinfo_groups(keys.cook_stream('wok'))
    assert [g['name'] for g in groups] == ['dispatch']

    ((_, ev),) = await aredis.xrange(keys.order_events(oid))
    assert ev['type'] == 'order.accepted' and ev['status'] == 'received'
    assert json.loads(ev['data']) == {'table_id': 't01', 'total': 37000, 'jobs': 3}
    # The first order at a free table also seated it (a dining session, store/sessions.py).
    feed = [f for _, f in await aredis.xrange(keys.FEED)]
    assert [f['type'] for f in feed] == ['table.seated', 'order.accepted'] and feed[1] == ev


async def test_menu_shows_sold_out_and_price_overrides(
    client: httpx.AsyncClient, aredis: Redis
) -> None:
    await aredis.sadd(keys.SOLDOUT, 'galbi')
    await aredis.set(keys.price('bulgogi'), 17000)
    res = await client.get('/api/menu')
    assert res.status_code == 200
    menu = res.json()
    dishes = {d['id']: d for c in menu['categories'] for d in c['dishes']}
    assert len(dishes) == 24
    assert dishes['galbi']['available'] is False and dishes['bulgogi']['available'] is True
    assert dishes['bulgogi']['price'] == 17000 and dishes['kungpao']['price'] == 14000
    assert dishes['kungpao']['name'] == {
        'ko': '궁보계정',
        'en': 'Kung Pao Chicken',
        'zh': '宫保鸡丁',
    }
    spice = dishes['kungpao']['options'][0]
    assert {c['id']: c['price_delta'] for c in spice['choices']} == {
        'mild': 0,
        'medium': 0,
        'hot': 500,
    }
    assert menu['restaurant']['currency'] == 'KRW'

    res = await post(client, {'items': [line('bulgogi', 1)]})
    assert res.json()['total'] == 17000


BIG_NOTE = 'x' * 201


@pytest.mark.parametrize(
    ('body', 'status', 'field'),
    [
        ({'items': [line('pizza')]}, 422, 'items[0].dish_id'),
        ({'items': [line('kungpao', 1, garlic='extra')]}, 422, 'items[0].options.garlic'),
        (
            {'items': [line('iced-tea'), line('kungpao', 1, spice='volcanic')]},
            422,
            'items[1].options.spice',
        ),
        ({'items': [line('kungpao', 0)]}, 422, 'items[0].quantity'),
        ({'items': [line('kungpao', 21)]}, 422, 'items[0].quantity'),
        # Whole numbers only: not JSON's true (read as 1) nor the string "2".
        ({'items': [{'dish_id': 'kungpao', 'quantity': True}]}, 422, 'items[0].quantity'),
        ({'items': [{'dish_id': 'kungpao', 'quantity': '2'}]}, 422, 'items[0].quantity'),
        ({'items': [line('mochi')] * 31}, 422, 'items'),
        ({'items': [line('mochi', note=BIG_NOTE)]}, 422, 'items[0].note'),
        # Shown on the kitchen's tickets: no NULs, escapes or other control characters.
        ({'items': [line('mochi', note='no\x00nuts')]}, 422, 'items[0].note'),
        ({'items': [line('mochi', note='\x1b[2J')]}, 422, 'items[0].note'),
        ({'items': [line('mochi', note='\x9b2J')]}, 422, 'items[0].note'),
        ({'items': [line('mochi', note='no\x85nuts')]}, 422, 'items[0].note'),
        # Nor text-direction overrides: this one reads 'extra peanuts' on a ticket.
        ({'items': [line('mochi', note='\u202estunaep artxe')]}, 422, 'items[0].note'),
        ({'items': [line('mochi', note='a\u2067b\u2069')]}, 422, 'items[0].note'),
        ({'items': []}, 422, 'items'),
        ({'items': [{'quantity': 1}]}, 422, 'items[0].dish_id'),
        ({'items': [line('mochi')], 'tip': 5}, 422, 'tip'),
        ({'items': [line('mochi', note='y' * 70_000)]}, 413, 'body'),
    ],
)
async def test_bad_orders_are_refused_naming_the_field_and_write_nothing(
    client: httpx.AsyncClient, aredis: Redis, body: dict[str, Any], status: int, field: str
) -> None:
    res = await post(client, body)
    assert res.status_code == status, res.text
    assert res.json()['field'] == field
    assert field in res.json()['detail'] or status == 413
    assert await order_state(aredis) == EMPTY


async def test_sold_out_dish_is_refused(client: httpx.AsyncClient, aredis: Redis) -> None:
    await aredis.sadd(keys.SOLDOUT, 'galbi')
    res = await post(client, {'items': [line('mochi'), line('galbi', 2)]})
    assert res.status_code == 422
    assert res.json() == {
        'detail': "items[1].dish_id: 'galbi' is sold out",
        'field': 'items[1].dish_id',
        'reason': 'sold_out',
    }
    assert await order_state(aredis) == EMPTY


async def test_body_over_64_kib_is_refused_before_parsing(client: httpx.AsyncClient) -> None:
    # Not even JSON: the size is checked first.
    res = await client.post(
        f'/api/tables/{T01}/orders',
        content=b'{' * (64 * 1024 + 1),
        headers={'Idempotency-Key': KEY, 'content-type': 'application/json'},
    )
    assert res.status_code == 413 and '65536' in res.json()['detail']
    # Shaped like every other refusal (its reason was missing).
    assert res.json()['field'] == 'body' and res.json()['reason'] == 'too_large'


@pytest.mark.parametrize('key', [None, 'short', 'x' * 65, 'has space1', 'bad/char12', 'ключ12345'])
async def test_missing_or_malformed_idempotency_key(
    client: httpx.AsyncClient, aredis: Redis, key: str | None
) -> None:
    headers = {'Idempotency-Key': key} if key is not None else {}
    res = await client.post(
        f'/api/tables/{T01}/orders',
        json=ORDER,
        headers=[(k.encode(), v.encode()) for k, v in headers.items()],
    )
    assert res.status_code == 400, res.text
    assert res.json()['field'] == 'Idempotency-Key' and 'Idempotency-Key' in res.json()['detail']
    assert await order_state(aredis) == EMPTY


async def test_same_key_replays_first_response_and_different_body_conflicts(
    client: httpx.AsyncClient, aredis: Redis
) -> None:
    first = await post(client, ORDER)
    again = await post(client, json.loads(json.dumps(ORDER)))
    assert again.status_code == first.status_code == 201
    assert again.content == first.content
    other = await post(client, {'items': [line('mochi')]})
    assert other.status_code == 409 and other.json()['field'] == 'Idempotency-Key'
    # The same key at another table is another order.
    t02 = await post(client, ORDER, token=T02)
    assert t02.status_code == 201 and t02.json()['id'] != first.json()['id']
    state = await order_state(aredis)
    assert state['orders'] == 2 * 2 and state['jobs'] == 6 and state['idem'] == 2


async def test_replay_still_answered_after_the_dish_sold_out(
    client: httpx.AsyncClient, aredis: Redis
) -> None:
    first = await post(client, ORDER)
    await aredis.sadd(keys.SOLDOUT, 'kungpao')
    again = await post(client, ORDER)
    assert again.status_code == 201 and again.content == first.content


async def test_50_concurrent_posts_with_one_key_make_one_order(
    client: httpx.AsyncClient, aredis: Redis
) -> None:
    results = await asyncio.gather(*(post(client, ORDER) for _ in range(50)))
    assert {r.status_code for r in results} == {201}
    assert len({r.content for r in results}) == 1
    oid = results[0].json()['id']
    assert await aredis.zrange(keys.table_orders('t01'), 0, -1) == [oid]
    state = await order_state(aredis)
    # Besides the order: the table's dining session and its `table.seated` feed entry.
    assert state == {'orders': 2, 'jobs': 3, 'idem': 1, 'cook': 3, 'feed': 2, 'tables': 2}


def tampered(token: str) -> str:
    kid, rid, table, sig = token.split('.')
    return '.'.join([kid, rid, table, ('A' if sig[0] != 'A' else 'B') + sig[1:]])


@pytest.mark.parametrize(
    ('token', 'status', 'words'),
    [
        ('garbage', 401, 'malformed'),
        ('k1.demo.t01.' + 'A' * 22, 401, 'signature'),
        (tampered(T01), 401, 'signature'),
        # Not ASCII: compared as bytes, refused like any other forgery (was a 500).
        (T01[:-1] + 'é', 401, 'signature'),
        (T01.replace('.t01.', '.t02.'), 401, 'signature'),
        (T01.replace('k1.', 'k9.', 1), 401, 'unknown signing key'),
        (token_for('t01', Settings()).replace('demo', 'other'), 401, 'signature'),
    ],
)
async def test_forged_or_tampered_tokens_are_refused_everywhere(
    client: httpx.AsyncClient, aredis: Redis, token: str, status: int, words: str
) -> None:
    for res in (
        await post(client, ORDER, token=token),
        await client.get(f'/api/tables/{token}/orders'),
        await client.get(f'/api/tables/{token}/orders/o123'),
        await client.post(f'/api/tables/{token}/orders/o123/pickup'),
        await client.get(f'/api/tables/{token}/orders/o123/events'),
    ):
        assert res.status_code == status, res.text
        assert words in res.json()['detail']
    page = await client.get(f'/t/{token}')
    assert page.status_code == status and words in page.text
    assert await order_state(aredis) == EMPTY


async def test_a_stranger_hears_401_before_anything_about_the_body_or_key(
    client: httpx.AsyncClient, aredis: Redis
) -> None:
    forged = T01[:-4] + 'AAAA'
    for content, headers in (
        (b'{not json', {'Idempotency-Key': KEY}),
        (json.dumps({'items': []}).encode(), {}),
        (b'', {'Idempotency-Key': 'bad key'}),
    ):
        res = await client.post(
            f'/api/tables/{forged}/orders',
            content=content,
            headers={**headers, 'content-type': 'application/json'},
        )
        assert res.status_code == 401 and res.json()['field'] == 'token', res.text
    assert await order_state(aredis) == EMPTY


@pytest.mark.parametrize(
    ('content', 'content_type', 'field', 'detail'),
    [
        (b'{"items": [', 'application/json', 'body', 'body: '),
        (b'', 'application/json', 'body', 'body: '),
        (b'[]', 'application/json', 'body', 'body: '),
        (json.dumps(ORDER).encode(), 'text/plain', 'body', 'application/json'),
        (json.dumps(ORDER).encode(), None, 'body', 'application/json'),
        (
            json.dumps({'items': [{'dish_id': 'mochi', 'quantity': '2x'}]}).encode(),
            'application/json; charset=utf-8',
            'items[0].quantity',
            'items[0].quantity: ',
        ),
    ],
)
async def test_bodies_that_are_not_an_order_get_422_naming_the_field(
    client: httpx.AsyncClient,
    aredis: Redis,
    content: bytes,
    content_type: str | None,
    field: str,
    detail: str,
) -> None:
    headers = {'Idempotency-Key': KEY}
    if content_type is not None:
        headers['content-type'] = content_type
    res = await client.post(f'/api/tables/{T01}/orders', content=content, headers=headers)
    assert res.status_code == 422, res.text
    assert res.json()['field'] == field and detail in res.json()['detail']
    assert await order_state(aredis) == EMPTY


async def test_token_of_another_restaurant_is_refused(client: httpx.AsyncClient) -> None:
    res = await post(client, ORDER, token=sign(Settings().table_keys, 'elsewhere', 't01'))
    assert res.status_code == 401 and 'another restaurant' in res.json()['detail']


async def test_revoked_token_is_refused_and_keys_rotate(redis_url: str, aredis: Redis) -> None:
    old = {'k1': SecretStr('robodine-demo-secret-change-me')}
    rotated = {'k2': SecretStr('a-new-secret'), **old}
    settings = settings_for(redis_url, table_keys=rotated, revoked_tokens={T02})
    app = create_app(settings.model_copy(update={'console_enabled': False}))
    new_t03 = token_for('t03', settings)
    assert new_t03.startswith('k2.')
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url='http://diner.test'
        ) as c,
    ):
        res = await post(c, ORDER, token=T02)
        assert res.status_code == 403 and 'revoked' in res.json()['detail']
        assert (await c.get(f'/t/{T02}')).status_code == 403
        # Codes printed under the old key still work; new codes use the new key.
        assert (await post(c, ORDER, token=T01)).status_code == 201
        assert (await post(c, ORDER, token=new_t03)).status_code == 201
        metrics = (await c.get('/metrics')).text
    assert 'robodine_order_rejections_total{reason="token"} 2' in metrics
    assert 'robodine_orders_accepted_total 2' in metrics


async def test_a_table_cannot_see_or_touch_another_tables_orders(
    client: httpx.AsyncClient, aredis: Redis
) -> None:
    oid = (await post(client, ORDER)).json()['id']
    await aredis.hset(keys.order(oid), mapping={'robot_id': 'serve1', 'trip_id': 'trip1'})
    await timeline.record(aredis, oid, 'robot.arrived', {}, status=timeline.ARRIVED)
    assert (await client.get(f'/api/tables/{T02}/orders')).json() == []
    for res in (
        await client.get(f'/api/tables/{T02}/orders/{oid}'),
        await client.get(f'/api/tables/{T02}/orders/{oid}/events'),
        await client.post(f'/api/tables/{T02}/orders/{oid}/pickup'),
        await client.post(f'/api/tables/{T02}/orders/{oid}/redeliver'),
        await client.post(f'/api/tables/{T02}/orders/{oid}/cancel'),
    ):
        assert res.status_code == 404 and res.json()['field'] == 'order_id'
    assert await aredis.xlen(keys.CONTROL) == 0
    assert [o['id'] for o in (await client.get(f'/api/tables/{T01}/orders')).json()] == [oid]


async def test_order_detail_and_list(client: httpx.AsyncClient, aredis: Redis) -> None:
    first = (await post(client, ORDER)).json()
    second = (await post(client, {'items': [line('mochi', 3)]}, key='order-key-0002')).json()
    await timeline.record(
        aredis, first['id'], 'job.cooked', {'job_id': 'x'}, status=timeline.COOKING
    )
    listed = (await client.get(f'/api/tables/{T01}/orders')).json()
    assert [o['id'] for o in listed] == [second['id'], first['id']]
    assert listed[1]['status'] == 'cooking' and listed[1]['jobs_total'] == 3
    detail = (await client.get(f'/api/tables/{T01}/orders/{first["id"]}')).json()
    assert detail['lines'] == first['lines'] and detail['total'] == first['total']
    assert [(e['type'], e['status']) for e in detail['timeline']] == [
        ('order.accepted', 'received'),
        ('job.cooked', 'cooking'),
    ]
    missing = await client.get(f'/api/tables/{T01}/orders/onothere000')
    assert missing.status_code == 404


async def test_pickup_only_when_arrived(client: httpx.AsyncClient, aredis: Redis) -> None:
    oid = (await post(client, ORDER)).json()['id']
    url = f'/api/tables/{T01}/orders/{oid}/pickup'
    early = await client.post(url)
    assert early.status_code == 409 and 'received' in early.json()['detail']
    await aredis.hset(keys.order(oid), mapping={'robot_id': 'serve2', 'trip_id': 'trip-7'})
    await timeline.record(
        aredis, oid, 'robot.arrived', {'robot_id': 'serve2'}, status=timeline.ARRIVED
    )
    res = await client.post(url)
    assert res.status_code == 202 and res.json() == {'order_id': oid, 'status': 'pickup_requested'}
    ((_, command),) = await aredis.xrange(keys.CONTROL)
    assert command == {
        'command': 'confirm_pickup',
        'robot_id': 'serve2',
        'trip_id': 'trip-7',
        'table_id': 't01',
        'order_id': oid,
        'by': 'diner',
    }
    events = await aredis.xrange(keys.order_events(oid))
    assert events[-1][1]['type'] == 'pickup.requested'
    await timeline.record(aredis, oid, 'order.served', {}, status=timeline.SERVED)
    late = await client.post(url)
    assert late.status_code == 409 and 'served' in late.json()['detail']


async def test_food_brought_back_is_brought_again_once_when_the_diner_asks(
    client: httpx.AsyncClient, aredis: Redis
) -> None:
    oid = (await post(client, ORDER)).json()['id']
    url = f'/api/tables/{T01}/orders/{oid}/redeliver'
    early = await client.post(url)
    assert (
        early.status_code == 409 and 'received, not back at the kitchen' in early.json()['detail']
    )
    # A robot brought it back: nobody took it at the table.
    await timeline.set_etas(aredis, {oid: now_ms() + 60_000})
    await aredis.hset(keys.order(oid), 'returned', 1)
    await timeline.record(aredis, oid, 'delivery.returned', {}, status=timeline.READY)
    shown = (await client.get(f'/api/tables/{T01}/orders/{oid}')).json()
    assert shown['returned'] is True and shown['eta_at'] is None and shown['eta_s'] is None
    res = await client.post(url)
    assert res.status_code == 202
    assert res.json() == {'order_id': oid, 'status': 'redelivery_requested'}
    ((_, entry),) = await aredis.xrange(keys.DELIVERIES)
    assert entry['order_id'] == oid and entry['by'] == 'diner'
    again_shown = (await client.get(f'/api/tables/{T01}/orders/{oid}')).json()
    # The estimate from before the first trip is long past: none until the dispatcher's next.
    assert again_shown['returned'] is False and again_shown['eta_at'] is None
    # Once per return: asking again sends no second robot.
    again = await client.post(url)
    assert again.status_code == 409 and again.json()['field'] == 'order_id'
    assert await aredis.xlen(keys.DELIVERIES) == 1


async def test_the_diner_cancels_an_order_no_robot_has_started(
    client: httpx.AsyncClient, aredis: Redis
) -> None:
    oid = (await post(client, ORDER)).json()['id']
    res = await client.post(f'/api/tables/{T01}/orders/{oid}/cancel')
    assert res.status_code == 202 and res.json() == {'order_id': oid, 'status': 'cancelled'}
    shown = (await client.get(f'/api/tables/{T01}/orders/{oid}')).json()
    assert shown['status'] == 'cancelled' and shown['jobs_total'] == 0
    assert {e['type'] for e in shown['timeline']} >= {'dish.cancelled', 'order.cancelled'}
    again = await client.post(f'/api/tables/{T01}/orders/{oid}/cancel')
    assert again.status_code == 409 and 'already cancelled' in again.json()['detail']

    # Once a robot has one of its dishes, only staff can cancel (it would be wasted).
    started = (await post(client, ORDER, key='order-key-0002')).json()['id']
    claim = await jobs.claim(aredis, ids.job_id(started, 0, 0), 'd1', 'wok1', 5)
    assert isinstance(claim, jobs.Claim)
    late = await client.post(f'/api/tables/{T01}/orders/{started}/cancel')
    assert late.status_code == 409 and 'ask the staff' in late.json()['detail']
    assert (await client.get(f'/api/tables/{T01}/orders/{started}')).json()['jobs_total'] == 3


async def test_sse_carries_every_status_change_and_resumes(
    client: httpx.AsyncClient, aredis: Redis
) -> None:
    oid = (await post(client, ORDER)).json()['id']
    for kind, status in (
        ('job.started', 'cooking'),
        ('job.cooked', None),
        ('trip.started', 'delivering'),
        ('order.served', 'served'),
    ):
        await timeline.record(aredis, oid, kind, {}, status=status)
    url = f'/api/tables/{T01}/orders/{oid}/events'
    # The stream ends after the final status, so the ASGI transport returns the whole body.
    res = await client.get(url)
    assert res.status_code == 200
    assert res.headers['content-type'].startswith('text/event-stream')
    events = parse_sse(res.text)
    ids = [eid for eid, _ in await aredis.xrange(keys.order_events(oid))]
    assert [e['id'] for e in events] == ids
    assert [e['data']['status'] for e in events] == [
        'received',
        'cooking',
        None,
        'delivering',
        'served',
    ]
    resumed = parse_sse((await client.get(url, headers={'Last-Event-ID': ids[2]})).text)
    assert [e['id'] for e in resumed] == ids[3:]
    # Resuming after the final event ends at once.
    assert parse_sse((await client.get(url, headers={'Last-Event-ID': ids[-1]})).text) == []


def parse_sse(text: str) -> list[dict[str, Any]]:
    out = []
    for block in text.split('\n\n'):
        fields = dict(
            ln.split(': ', 1)
            for ln in block.splitlines()
            if ln and not ln.startswith(':') and ': ' in ln
        )
        if 'data' in fields:
            out.append({'id': fields['id'], 'data': json.loads(fields['data'])})
    return out


async def test_health_ready_metrics_and_openapi(client: httpx.AsyncClient) -> None:
    assert (await client.get('/healthz')).json() == {'status': 'ok'}
    ready = (await client.get('/readyz')).json()
    # The test Redis is configured as robodine's own: nothing to warn about.
    assert ready['status'] == 'ready' and ready['redis']['maxmemory_policy'] == 'noeviction'
    assert ready['redis']['warnings'] == []
    await post(client, ORDER)
    await post(client, {'items': [line('pizza')]}, key='order-key-0002')
    metrics = (await client.get('/metrics')).text
    assert 'robodine_orders_accepted_total 1' in metrics
    assert 'robodine_order_rejections_total{reason="unknown_dish"} 1' in metrics
    assert 'robodine_intake_seconds_count 1' in metrics
    spec = (await client.get('/openapi.json')).json()
    post_op = spec['paths']['/api/tables/{token}/orders']['post']
    assert {'201', '400', '401', '403', '409', '413', '422', '503'} <= set(post_op['responses'])
    assert 'examples' in spec['components']['schemas']['OrderIn']
    body_schema = post_op['requestBody']['content']['application/json']['schema']
    assert body_schema == {'$ref': '#/components/schemas/OrderIn'}
    assert {p['name'] for p in post_op['parameters']} == {'token', 'Idempotency-Key'}
    assert '/api/tables/{token}/orders/{order_id}/events' in spec['paths']


async def test_an_outage_is_logged_once_not_per_request(
    client: httpx.AsyncClient, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Every phone polls through an outage: its refusals must not bury the log.
    redis_server.kill()
    try:
        with caplog.at_level(logging.WARNING, logger='orchestrator.api.errors'):
            for n in range(20):
                res = await post(client, ORDER, key=f'order-key-{n:04d}')
                assert res.status_code == 503
    finally:
        redis_server.start()
    lines = [r.getMessage() for r in caplog.records if r.name == 'orchestrator.api.errors']
    assert len(lines) == 1, lines


async def test_redis_down_gives_503_and_a_retry_creates_the_order_once(
    client: httpx.AsyncClient, redis_server: RedisServer, redis_url: str
) -> None:
    assert (await post(client, ORDER)).status_code == 201
    redis_server.kill()
    try:
        res = await post(client, ORDER, key='order-key-0002')
        assert res.status_code == 503
        assert 'retry with the same Idempotency-Key' in res.json()['detail']
        assert (await client.get('/readyz')).status_code == 503
        assert (await client.get('/healthz')).status_code == 200
    finally:
        redis_server.start()
    assert (await client.get('/readyz')).status_code == 200
    retried = await post(client, ORDER, key='order-key-0002')
    assert retried.status_code == 201
    assert (await post(client, ORDER, key='order-key-0002')).content == retried.content
    r = Redis.from_url(redis_url, decode_responses=True)
    try:
        # The first order survived the crash (AOF); the retried one exists exactly once.
        assert await r.zcard(keys.table_orders('t01')) == 2
        assert len(await r.keys('rd:job:*')) == 6
        assert await r.xlen(keys.cook_stream('wok')) == 4
    finally:
        await r.aclose()
    metrics = (await client.get('/metrics')).text
    assert 'robodine_order_rejections_total{reason="redis_unavailable"} 1' in metrics
