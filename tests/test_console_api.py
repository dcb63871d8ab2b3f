"""The console's HTTP API on the real app and a real Redis: sign-in, rights and every control,
refusals included."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from functools import partial
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.api.app import create_app
from orchestrator.config import RestaurantConfig
from orchestrator.console import alert_checks, feed
from orchestrator.console.accounts import hasher
from orchestrator.dispatch import delivery
from orchestrator.dispatch.delivery import ReadyOrder
from orchestrator.settings import OperatorSeed, Settings
from orchestrator.store import alerts, commands, duties, jobs, orders, trips
from orchestrator.store.alerts import raise_alert
from orchestrator.store.feed import now_ms
from orchestrator.texts import Said
from tests.api_helpers import eventually
from tests.console_support import PASSWORD, place_order, robot_state, sign_in, table_token


@pytest.fixture
def settings(redis_url: str) -> Settings:
    boss = OperatorSeed(role='manager', password_hash=SecretStr(hasher.hash(PASSWORD)))
    return Settings(redis_url=redis_url, operators={'boss': boss})


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url='http://test') as c:
            yield c


@pytest.fixture
async def csrf(client: httpx.AsyncClient, aredis: Redis) -> str:
    token = await sign_in(client, aredis)
    client.headers['X-CSRF-Token'] = token
    return token


OrderAt = Callable[[str, list[dict[str, Any]]], Awaitable[str]]


@pytest.fixture
def order_at(
    client: httpx.AsyncClient, settings: Settings, demo_config: RestaurantConfig
) -> OrderAt:
    """Place an order for a table through the diner API; returns its id."""

    async def place(table_id: str, items: list[dict[str, Any]]) -> str:
        token = table_token(settings, demo_config, table_id)
        return str((await place_order(client, token, items))['id'])

    return place


async def last_audit(r: Redis) -> dict[str, str]:
    ((_, entry),) = await r.xrevrange(keys.AUDIT, count=1)
    return dict(entry)


async def test_anonymous_and_diner_tokens_are_refused(
    client: httpx.AsyncClient, settings: Settings, demo_config: RestaurantConfig
) -> None:
    assert (await client.get('/console/api/snapshot')).status_code == 401
    assert (await client.post('/console/api/robots/serve1/pause')).status_code == 401
    token = table_token(settings, demo_config, 't01')
    for res in (
        await client.get('/console/api/snapshot', params={'token': token}),
        await client.get('/console/api/snapshot', headers={'Authorization': f'Bearer {token}'}),
    ):
        assert res.status_code == 403
        assert 'table tokens' in res.json()['detail']
    page = await client.get('/console')
    assert page.status_code == 200 and 'console.js' in page.text
    assert "frame-ancestors 'none'" in page.headers['content-security-policy']


async def test_sign_in_sets_a_strict_cookie_and_csrf_is_required(
    client: httpx.AsyncClient, aredis: Redis
) -> None:
    await sign_in(client, aredis)
    cookie = (
        (await client.post('/console/api/login', json={'name': 'ana', 'password': PASSWORD}))
        .headers['set-cookie']
        .lower()
    )
    assert 'httponly' in cookie and 'samesite=strict' in cookie and 'path=/console' in cookie
    assert 'secure' not in cookie
    await robot_state(aredis, 'serve1', 'idle')
    res = await client.post('/console/api/robots/serve1/pause')
    assert res.status_code == 403 and 'CSRF' in res.json()['detail']
    res = await client.post('/console/api/robots/serve1/pause', headers={'X-CSRF-Token': 'forged'})
    assert res.status_code == 403
    assert (await last_audit(aredis))['result'].startswith('refused: missing or wrong CSRF')
    assert await aredis.xlen(keys.CONTROL) == 0
    over_tls = await client.post(
        'https://test/console/api/login', json={'name': 'ana', 'password': PASSWORD}
    )
    assert '; secure' in over_tls.headers['set-cookie'].lower()


async def test_failed_sign_ins_are_rate_limited(client: httpx.AsyncClient, aredis: Redis) -> None:
    await sign_in(client, aredis)
    for _ in range(5):
        res = await client.post('/console/api/login', json={'name': 'ana', 'password': 'nope'})
        assert res.status_code == 401
    res = await client.post('/console/api/login', json={'name': 'ana', 'password': PASSWORD})
    assert res.status_code == 429 and int(res.headers['retry-after']) > 0
    assert (await last_audit(aredis))['result'].startswith('refused: too many failed sign-ins')


async def test_sign_out_ends_the_session(client: httpx.AsyncClient, csrf: str) -> None:
    assert (await client.get('/console/api/me')).json()['name'] == 'ana'
    assert (await client.post('/console/api/logout')).status_code == 204
    assert (await client.get('/console/api/me')).status_code == 401


async def test_pause_resume_dock_and_their_refusals(
    client: httpx.AsyncClient, csrf: str, aredis: Redis
) -> None:
    assert (await client.post('/console/api/robots/nobot/pause')).status_code == 404
    res = await client.post('/console/api/robots/serve1/pause')
    assert res.status_code == 409 and 'offline' in res.json()['detail']
    await robot_state(aredis, 'serve1', 'idle')
    assert (await client.post('/console/api/robots/serve1/pause')).status_code == 200
    ((_, cmd),) = await aredis.xrange(keys.CONTROL)
    assert cmd == {'command': 'pause', 'robot_id': 'serve1', 'by': 'ana'}
    audit_entry = await last_audit(aredis)
    assert (audit_entry['who'], audit_entry['action'], audit_entry['result']) == (
        'ana',
        'robot.pause',
        'ok',
    )
    await robot_state(aredis, 'serve1', 'paused')
    res = await client.post('/console/api/robots/serve1/pause')
    assert res.status_code == 409 and 'already paused' in res.json()['detail']
    assert (await last_audit(aredis))['result'] == 'refused: serve1 is already paused'
    assert (await client.post('/console/api/robots/serve1/resume')).status_code == 200
    await robot_state(aredis, 'serve1', 'idle', x=6.0, y=4.0)  # idle away from its dock
    assert (await client.post('/console/api/robots/serve1/resume')).status_code == 409
    assert (await client.post('/console/api/robots/serve1/dock')).status_code == 200
    # Back on it: told so (it said "sent to its dock", and only the robot knew better).
    await robot_state(aredis, 'serve1', 'idle')  # at dock1
    res = await client.post('/console/api/robots/serve1/dock')
    assert res.status_code == 409 and res.json()['detail'] == 'serve1 is already at dock1'
    await robot_state(aredis, 'wok1', 'busy')
    res = await client.post('/console/api/robots/wok1/dock')
    assert res.status_code == 409 and 'cooking robot' in res.json()['detail']
    await robot_state(aredis, 'serve2', 'busy', jobs=json.dumps(['o1']))
    assert (await client.post('/console/api/robots/serve2/dock')).status_code == 409
    # A robot gone quiet: no advice to resume it (that is refused too).
    await robot_state(aredis, 'serve3', 'unreachable')
    for command, what in (('dock', 'sent to its dock'), ('resume', 'resumed')):
        res = await client.post(f'/console/api/robots/serve3/{command}')
        assert res.json()['detail'] == f'serve3 is unreachable; it cannot be {what}', res.text
    commands = [f['command'] for _, f in await aredis.xrange(keys.CONTROL)]
    assert commands == ['pause', 'resume', 'dock']


async def test_a_robot_in_fault_is_paused_and_resumed_but_not_docked(
    client: httpx.AsyncClient, csrf: str, aredis: Redis
) -> None:
    """A robot in fault retries by itself: the operator pauses it (it stops retrying) and
    resumes it later; a dock order would be one more goal for the driver that fails them."""
    fault = 'Nav2 aborted the goal to (6.00, 4.00)'
    await robot_state(aredis, 'serve1', 'fault', detail=fault, jobs=json.dumps(['o1']))
    res = await client.post('/console/api/robots/serve1/resume')
    assert res.status_code == 409 and res.json()['detail'] == 'serve1 is not paused (it is fault)'
    res = await client.post('/console/api/robots/serve1/dock')
    assert res.status_code == 409, res.text
    assert res.json()['detail'] == (
        'serve1 is in fault and cannot drive by itself; pause it, fix the cause, then resume it'
    )
    assert (await client.post('/console/api/robots/serve1/pause')).status_code == 200
    await robot_state(aredis, 'serve1', 'paused', detail=f'paused by operator ({fault})')
    res = await client.post('/console/api/robots/serve1/dock')
    assert res.status_code == 409 and 'resume it first' in res.json()['detail']
    assert (await client.post('/console/api/robots/serve1/resume')).status_code == 200
    commands = [f['command'] for _, f in await aredis.xrange(keys.CONTROL)]
    assert commands == ['pause', 'resume']
    # E-stopped, gone quiet or lost, it is still refused.
    for mode in ('estopped', 'unreachable', 'lost'):
        await robot_state(aredis, 'serve1', mode)
        assert (await client.post('/console/api/robots/serve1/pause')).status_code == 409
    assert len(await aredis.xrange(keys.CONTROL)) == 2


async def test_stop_all_and_resume_all(
    client: httpx.AsyncClient, csrf: str, aredis: Redis, demo_config: RestaurantConfig
) -> None:
    assert (await client.post('/console/api/fleet/resume')).status_code == 409
    res = await client.post('/console/api/fleet/stop')
    # Honest: queued, not applied; each robot's answer comes in the audit log.
    assert res.status_code == 200 and 'queued for 8 robots' in res.json()['detail'], res.text
    robots = {r.id for r in demo_config.cooking_robots} | {
        r.id for r in demo_config.serving_robots
    }
    sent = await aredis.xrange(keys.CONTROL)
    assert {f['robot_id'] for _, f in sent} == robots
    assert {f['command'] for _, f in sent} == {'estop'}
    await robot_state(aredis, 'serve1', 'estopped')
    res = await client.post('/console/api/robots/serve1/resume')
    assert res.status_code == 409 and 'resume all' in res.json()['detail']
    assert (await client.post('/console/api/fleet/resume')).status_code == 200
    ((_, last),) = await aredis.xrevrange(keys.CONTROL, count=1)
    assert (last['command'], last['robot_id']) == ('release', 'serve1')


async def test_cancel_an_order_a_line_and_refusals(
    client: httpx.AsyncClient, csrf: str, aredis: Redis, order_at: OrderAt
) -> None:
    oid = await order_at(
        't02', [{'dish_id': 'kungpao', 'quantity': 2}, {'dish_id': 'iced-tea', 'quantity': 1}]
    )
    # One kung pao is on a robot already: cancelling wastes it and tells the robot.
    await aredis.hset(keys.job(f'{oid}-00-00'), mapping={'status': 'cooking', 'robot': 'wok1'})
    res = await client.post(f'/console/api/orders/{oid}/cancel', json={'line': 0})
    assert res.status_code == 200, res.text
    assert '1 wasted' in res.json()['detail'] and '1 withdrawn' in res.json()['detail']
    ((_, cmd),) = await aredis.xrange(keys.CONTROL)
    assert (cmd['command'], cmd['robot_id'], cmd['job_id']) == ('cancel', 'wok1', f'{oid}-00-00')
    res = await client.post(f'/console/api/orders/{oid}/cancel', json={'line': 0})
    assert res.status_code == 409 and 'nothing left' in res.json()['detail']
    assert (
        await client.post(f'/console/api/orders/{oid}/cancel', json={'line': 7})
    ).status_code == 404
    assert await aredis.hget(keys.order(oid), 'status') == 'received'
    assert (await client.post(f'/console/api/orders/{oid}/cancel', json={})).status_code == 200
    assert await aredis.hget(keys.order(oid), 'status') == 'cancelled'
    res = await client.post(f'/console/api/orders/{oid}/cancel', json={})
    assert res.status_code == 409 and 'already cancelled' in res.json()['detail']
    assert (await client.post('/console/api/orders/onope/cancel', json={})).status_code == 404


async def test_bump_moves_the_order_on_and_served_orders_refuse(
    client: httpx.AsyncClient,
    csrf: str,
    aredis: Redis,
    order_at: OrderAt,
    demo_config: RestaurantConfig,
) -> None:
    oid = await order_at('t03', [{'dish_id': 'fries', 'quantity': 1}])
    res = await client.post(f'/console/api/orders/{oid}/dishes/{oid}-00-00/bump')
    assert res.status_code == 200, res.text
    assert await aredis.hget(keys.job(f'{oid}-00-00'), 'cooked_by') == 'ana'
    assert await aredis.hget(keys.order(oid), 'status') == 'ready'
    res = await client.post(f'/console/api/orders/{oid}/dishes/{oid}-00-00/bump')
    assert res.status_code == 409 and 'already cooked' in res.json()['detail']
    assert (
        await client.post(f'/console/api/orders/{oid}/dishes/other-00-00/bump')
    ).status_code == 404
    await aredis.hset(keys.order(oid), 'status', 'served')
    res = await client.post(f'/console/api/orders/{oid}/cancel', json={})
    assert res.status_code == 409 and 'already served' in res.json()['detail']
    await aredis.hset(keys.order(oid), mapping={'status': 'delivering', 'robot_id': 'serve2'})
    res = await client.post(f'/console/api/orders/{oid}/cancel', json={})
    assert res.status_code == 409 and 'serve2' in res.json()['detail']


async def test_redeliver_returned_food_and_refusals(
    client: httpx.AsyncClient,
    csrf: str,
    aredis: Redis,
    order_at: OrderAt,
    demo_config: RestaurantConfig,
) -> None:
    oid = await order_at('t05', [{'dish_id': 'fries', 'quantity': 1}])
    url = f'/console/api/orders/{oid}/redeliver'
    assert (await client.post(f'/console/api/orders/{oid}/dishes/{oid}-00-00/bump')).is_success
    res = await client.post(url)
    assert res.status_code == 409 and 'only returned food' in res.json()['detail']
    assert (await last_audit(aredis))['result'].startswith('refused: order')
    await orders.set_etas(aredis, {oid: now_ms() + 60_000})
    # serve1 took it to t05, nobody took it off the tray: back at the pass.
    ((entry_id, _),) = await aredis.xrange(keys.DELIVERIES)
    held = ReadyOrder(oid, 't05', entry_id, 0.0)
    assert await trips.create(
        aredis,
        'trback',
        'serve1',
        'test',
        10.0,
        {oid: entry_id},
        lambda ids: delivery.stops(demo_config, [held]),
    )
    assert await trips.returned(
        aredis, 'trback', 1, [oid], 't05', 'nobody took the food', 'pickup_timeout'
    )
    ticket = next(
        t
        for t in (await client.get('/console/api/snapshot')).json()['tickets']['open']
        if t['id'] == oid
    )
    # The estimate it had no longer holds (the console showed it, long past, until sent again).
    assert ticket['returned'] and ticket['status'] == 'ready' and ticket['eta_at'] is None
    res = await client.post(url)
    assert res.status_code == 200, res.text
    assert 't05' in res.json()['detail']
    audit_entry = await last_audit(aredis)
    assert (audit_entry['action'], audit_entry['target'], audit_entry['result']) == (
        'order.redeliver',
        oid,
        'ok',
    )
    *_, (_, again) = await aredis.xrange(keys.DELIVERIES)
    assert (again['order_id'], again['by']) == (oid, 'ana')
    assert await aredis.hget(keys.order(oid), 'returned') is None
    # Sent once: a second click is refused, as is an unknown order.
    res = await client.post(url)
    assert res.status_code == 409 and 'not back at the pass' in res.json()['detail']
    assert (await client.post('/console/api/orders/onope/redeliver')).status_code == 404


async def test_requeue_a_dead_letter(
    client: httpx.AsyncClient,
    csrf: str,
    aredis: Redis,
    order_at: OrderAt,
    demo_config: RestaurantConfig,
) -> None:
    oid = await order_at('t04', [{'dish_id': 'mochi', 'quantity': 1}])
    job_id = f'{oid}-00-00'
    await aredis.hset(
        keys.job(job_id), mapping={'status': 'cooking', 'attempts': 3, 'robot': 'bar1'}
    )
    assert await jobs.fail(aredis, job_id, 0, 'bar1', 'gripper jam', 3) == 'dead'
    ((dead_id, _),) = await aredis.xrange(keys.DEAD)
    snap = (await client.get('/console/api/snapshot')).json()
    assert [d['job_id'] for d in snap['dead']] == [job_id]
    assert any(a['kind'] == 'job_dead' for a in snap['alerts'])
    assert (await client.post(f'/console/api/dead/{dead_id}/requeue')).status_code == 200
    assert await aredis.hget(keys.job(job_id), 'status') == 'queued'
    assert (await client.post(f'/console/api/dead/{dead_id}/requeue')).status_code == 404


async def kill_dish(r: Redis, job_id: str) -> None:
    """The dish failed on its last attempt: dead-lettered, its order still open."""
    await r.hset(keys.job(job_id), mapping={'status': 'cooking', 'attempts': 3, 'robot': 'bar1'})
    assert await jobs.fail(r, job_id, 0, 'bar1', 'gripper jam', 3) == 'dead'


async def test_a_dead_dish_is_cooked_by_hand_dropped_or_its_order_cancelled(
    client: httpx.AsyncClient, csrf: str, aredis: Redis, order_at: OrderAt
) -> None:
    # Cooked by hand: Bump takes the dead dish, which leaves the dead letters.
    oid = await order_at('t04', [{'dish_id': 'mochi', 'quantity': 1}])
    await kill_dish(aredis, f'{oid}-00-00')
    (alert,) = [a for a in await alerts.recent(aredis) if a['kind'] == 'job_dead']
    assert 'cook it by hand' in alert['message'] and 'drop' in alert['message']
    res = await client.post(f'/console/api/orders/{oid}/dishes/{oid}-00-00/bump')
    assert res.status_code == 200, res.text
    assert await aredis.hget(keys.order(oid), 'status') == 'ready'
    assert await aredis.xlen(keys.DEAD) == 0

    # Dropped: the order goes on without it, and is ready when the rest is cooked.
    oid = await order_at(
        't05', [{'dish_id': 'mochi', 'quantity': 1}, {'dish_id': 'iced-tea', 'quantity': 1}]
    )
    await kill_dish(aredis, f'{oid}-00-00')
    assert await jobs.complete(aredis, f'{oid}-01-00', None, 'op') == 'cooked'
    assert await aredis.hget(keys.order(oid), 'status') == 'cooking'
    res = await client.post(f'/console/api/orders/{oid}/dishes/{oid}-00-00/drop')
    assert res.status_code == 200 and 'withdrawn' in res.json()['detail'], res.text
    order = await aredis.hgetall(keys.order(oid))
    assert (order['status'], order['jobs_total']) == ('ready', '1')
    assert await aredis.xlen(keys.DEAD) == 0
    res = await client.post(f'/console/api/orders/{oid}/dishes/{oid}-01-00/drop')
    assert res.status_code == 409, res.text
    assert (await last_audit(aredis))['action'] == 'dish.drop'

    # Cancelled: the whole order ends, its dead dish withdrawn.
    oid = await order_at('t06', [{'dish_id': 'mochi', 'quantity': 2}])
    await kill_dish(aredis, f'{oid}-00-01')
    assert (await client.post(f'/console/api/orders/{oid}/cancel', json={})).status_code == 200
    assert await aredis.hget(keys.order(oid), 'status') == 'cancelled'
    assert await jobs.statuses(aredis, [f'{oid}-00-00', f'{oid}-00-01']) == [
        'withdrawn',
        'withdrawn',
    ]
    assert await aredis.xlen(keys.DEAD) == 0


async def test_alerts_are_acknowledged(
    client: httpx.AsyncClient, csrf: str, aredis: Redis
) -> None:
    lost = Said('alert.texts.robot_lost', {'robot': 'serve3', 'seconds': 5})
    await raise_alert(aredis, 'robot_lost', 'critical', lost, robot_id='serve3')
    (alert,) = (await client.get('/console/api/snapshot')).json()['alerts']
    assert not alert['acked']
    assert (await client.post(f'/console/api/alerts/{alert["id"]}/ack')).status_code == 200
    (alert,) = (await client.get('/console/api/snapshot')).json()['alerts']
    assert alert['acked']
    assert (await client.post('/console/api/alerts/1-0/ack')).status_code == 404


async def test_alerts_about_an_order_resolve_once_it_is_over(
    client: httpx.AsyncClient,
    csrf: str,
    aredis: Redis,
    order_at: OrderAt,
    demo_config: RestaurantConfig,
) -> None:
    """A pickup timeout and a late order ask for the order to move on: once it is over they
    resolve by themselves; a staff call, which only an operator can answer, stays open."""
    oid = await order_at('t05', [{'dish_id': 'fries', 'quantity': 1}])
    food = Said('alert.texts.food_returned', {'order': oid, 'table': 't05', 'reason': 'x'})
    await raise_alert(aredis, 'pickup_timeout', 'warning', food, order_id=oid)
    late = Said(
        'alert.texts.order_late', {'table': 't05', 'order': oid, 'minutes': 9, 'status': 'ready'}
    )
    await raise_alert(aredis, 'order_late', 'warning', late, order_id=oid)
    call = Said('alert.texts.staff_call.water', {'table': 'Table 5'})
    await raise_alert(aredis, 'staff_call', 'info', call, order_id=oid, table_id='t05')
    assert await alert_checks.resolve_gone(aredis, demo_config) == 0
    assert (await client.post(f'/console/api/orders/{oid}/cancel', json={})).is_success
    assert await alert_checks.resolve_gone(aredis, demo_config) == 2
    assert await alert_checks.resolve_gone(aredis, demo_config) == 0
    shown = {a['kind']: a for a in (await client.get('/console/api/snapshot')).json()['alerts']}
    assert [k for k, a in shown.items() if a['resolved']] == ['order_late', 'pickup_timeout']
    assert not any(a['acked'] for a in shown.values())
    assert not alerts.handled(shown['staff_call'])
    (_, event), *_ = await aredis.xrevrange(keys.FEED, count=1)
    assert event['type'] == 'alert.resolved', event


async def test_late_orders_raise_one_alert(
    aredis: Redis, order_at: OrderAt, demo_config: RestaurantConfig
) -> None:
    oid = await order_at('t05', [{'dish_id': 'galbi', 'quantity': 1}])
    assert await alert_checks.raise_late_orders(aredis, demo_config) == 0
    # Ages are simulated time: at time scale 10, a tenth of age_late_s (real) is late.
    late = now_ms() - int(demo_config.service.age_late_s * 100) - 1000
    await aredis.hset(keys.order(oid), 'created_at', late)
    await aredis.zadd(keys.table_orders('t05'), {oid: late})
    assert await alert_checks.raise_late_orders(aredis, demo_config) == 0
    assert await alert_checks.raise_late_orders(aredis, demo_config, 10) == 1
    assert await alert_checks.raise_late_orders(aredis, demo_config, 10) == 0
    (alert,) = await alerts.recent(aredis)
    assert (alert['kind'], alert['order_id']) == ('order_late', oid)
    minutes = int(demo_config.service.age_late_s // 60)
    assert f'is {minutes} min old' in alert['message'], alert


async def test_the_late_check_reads_each_order_once(
    aredis: Redis, demo_config: RestaurantConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The background check reads the orders that turned late since its last look, never the
    whole day's again: reading them every look made the API process's memory grow with every
    order placed (issue 14)."""
    read: list[str] = []
    statuses = orders.statuses

    async def counted(r: Redis, order_ids: Iterable[str]) -> list[str | None]:
        read.extend(order_ids := list(order_ids))
        return await statuses(r, order_ids)

    clock = [now_ms()]
    monkeypatch.setattr(orders, 'statuses', counted)
    monkeypatch.setattr(alert_checks, 'now_ms', lambda: clock[0])
    t0, late = clock[0], int(demo_config.service.age_late_s * 1000)
    tables = [t.id for t in demo_config.tables]

    async def place(name: str, at: int, status: str = 'received') -> str:
        table = tables[len(name) % len(tables)]
        record = {'id': name, 'table_id': table, 'status': status, 'created_at': at}
        await aredis.hset(keys.order(name), mapping=record)
        await aredis.zadd(keys.table_orders(table), {name: at})
        return name

    for n in range(300):  # earlier in the day, served
        await place(f'served{n}', t0 - late - 3_600_000 + n, 'served')
    stuck = [await place(f'stuck{n}', t0 - late - 60_000 + n) for n in range(20)]
    soon = [await place(f'soon{n}', t0 - late + 5000 + n) for n in range(5)]
    check = alert_checks.LateOrders(aredis, demo_config)
    assert await check.raise_late() == 20
    assert len(read) == 320
    read.clear()
    clock[0] += 1000
    assert await check.raise_late() == 0
    assert read == []  # nothing turned late: no order read again

    # An order whose intake took two seconds lands behind the last cut-off (still found); one
    # served before it turned late raises nothing.
    slow = await place('slow', t0 - late - 2000)
    await place('quick', t0 - late + 3000, 'served')
    clock[0] = t0 + 6000
    assert await check.raise_late() == 6
    assert sorted(read) == sorted([*soon, slow, 'quick'])
    read.clear()
    clock[0] += 1000
    assert await check.raise_late() == 0
    assert read == []
    late_alerts = {a['order_id'] for a in await alerts.recent(aredis) if a['kind'] == 'order_late'}
    assert late_alerts == {*stuck, *soon, slow}
    # What it remembers is the last few seconds' orders only.
    clock[0] += alert_checks.LateOrders.OVERLAP_MS + 1000
    assert await check.raise_late() == 0
    assert check.looked_at == {}


async def test_sold_out_and_prices(
    client: httpx.AsyncClient,
    csrf: str,
    aredis: Redis,
    settings: Settings,
    demo_config: RestaurantConfig,
) -> None:
    assert (
        await client.put('/console/api/dishes/nope/soldout', json={'soldout': True})
    ).status_code == 404
    assert (
        await client.put('/console/api/dishes/bingsu/soldout', json={'soldout': True})
    ).status_code == 200
    assert await aredis.sismember(keys.SOLDOUT, 'bingsu')
    ((_, event),) = await aredis.xrevrange(keys.FEED, count=1)
    assert event['type'] == 'audit'
    menu_events = [f for _, f in await aredis.xrange(keys.FEED) if f['type'] == 'menu.changed']
    assert json.loads(menu_events[-1]['data'])['soldout'] is True
    assert (
        await client.put('/console/api/dishes/bingsu/soldout', json={'soldout': True})
    ).status_code == 409
    menu = (await client.get('/api/menu')).json()
    dish = next(d for c in menu['categories'] for d in c['dishes'] if d['id'] == 'bingsu')
    assert dish['available'] is False
    token = table_token(settings, demo_config, 't06')
    res = await client.post(
        f'/api/tables/{token}/orders',
        json={'items': [{'dish_id': 'bingsu', 'quantity': 1}]},
        headers={'Idempotency-Key': 'soldout-try-1'},
    )
    assert res.status_code == 422 and 'sold out' in res.text
    assert (
        await client.put('/console/api/dishes/bingsu/soldout', json={'soldout': False})
    ).status_code == 200
    # An operator may 86 a dish but not change its price; a manager may.
    res = await client.put('/console/api/dishes/bingsu/price', json={'price': 9500})
    assert res.status_code == 403 and 'manager' in res.json()['detail']
    boss = await client.post('/console/api/login', json={'name': 'boss', 'password': PASSWORD})
    assert boss.json()['role'] == 'manager'
    client.headers['X-CSRF-Token'] = boss.json()['csrf']
    assert (
        await client.put('/console/api/dishes/bingsu/price', json={'price': 9500})
    ).status_code == 200
    assert await aredis.get(keys.price('bingsu')) == '9500'
    assert (
        await client.put('/console/api/dishes/bingsu/price', json={'price': -1})
    ).status_code == 422
    assert (
        await client.put('/console/api/dishes/bingsu/price', json={'price': None})
    ).status_code == 200
    assert await aredis.get(keys.price('bingsu')) is None


async def test_snapshot_has_tickets_fleet_and_map(
    client: httpx.AsyncClient,
    csrf: str,
    aredis: Redis,
    order_at: OrderAt,
    demo_config: RestaurantConfig,
) -> None:
    oid = await order_at(
        't07', [{'dish_id': 'kungpao', 'quantity': 1, 'options': {'spice': 'hot'}}]
    )
    await robot_state(aredis, 'serve1', 'busy', x=5.5, y=9.5)
    snap = (await client.get('/console/api/snapshot')).json()
    assert snap['time_scale'] == 1.0  # ticket ages are real age × this
    (ticket,) = snap['tickets']['open']
    assert ticket['id'] == oid and ticket['table']['en'] == 'Table 7'
    (line,) = ticket['lines']
    assert line['options'] == ['Spice level: Hot', 'Size: Regular']
    assert line['allergens'] == ['peanut', 'soy', 'chicken']
    assert line['units'][0]['status'] == 'queued'
    serve1 = next(r for r in snap['robots'] if r['id'] == 'serve1')
    assert (serve1['mode'], serve1['x'], serve1['y']) == ('busy', 5.5, 9.5)
    assert next(r for r in snap['robots'] if r['id'] == 'serve2')['mode'] == 'offline'
    assert len(snap['map']['tables']) == len(demo_config.tables)
    assert snap['me']['csrf'] == csrf
    assert snap['service']['age_late_s'] == demo_config.service.age_late_s


async def test_a_robot_fault_raises_one_alert_per_fault(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    check = alert_checks.RobotAlerts(aredis, demo_config).check
    await robot_state(aredis, 'grill1', 'fault', detail='burner ignition failed')
    assert await check() == 1
    assert await check() == 0
    (alert,) = await alerts.recent(aredis)
    assert (alert['kind'], alert['robot_id'], alert['severity']) == (
        'robot_fault',
        'grill1',
        'critical',
    )
    assert 'burner ignition failed' in alert['message']
    # Over once a heartbeat heard after the alert says so (not one mirrored before it).
    resolve = partial(alert_checks.resolve_gone, aredis, demo_config)
    await robot_state(aredis, 'grill1', 'idle', seen_at=int(alert['at']) - 1)
    assert await resolve() == 0
    await robot_state(aredis, 'grill1', 'fault', seen_at=int(alert['at']) + 1)
    assert await resolve() == 0
    await robot_state(aredis, 'grill1', 'idle', seen_at=int(alert['at']) + 2)
    assert await resolve() == 1
    assert (await alerts.recent(aredis))[0]['resolved']
    assert await check() == 0
    await robot_state(aredis, 'grill1', 'fault')
    assert await check() == 1


async def test_a_serving_robot_warns_before_it_leaves_to_charge(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    """Serving robots leave for the charger, for hours, without warning: the complaint
    restaurants make of them. The console warns while there is time to charge it in a lull
    (the dispatcher announces it when it goes, `test_battery`)."""
    check = alert_checks.RobotAlerts(aredis, demo_config).check
    low = demo_config.battery.low  # 20 %, charged at 90 % at 25 % an hour
    await robot_state(aredis, 'serve1', 'busy', battery=low + 0.06)
    await robot_state(aredis, 'wok1', 'busy', battery=0.0)  # cooking robots have no battery
    assert await check() == 0
    await robot_state(aredis, 'serve1', 'busy', battery=low + 0.04)
    assert await check() == 1
    assert await check() == 0
    (warned,) = await alerts.recent(aredis)
    assert (warned['kind'], warned['severity'], warned['robot_id']) == (
        'battery_low',
        'info',
        'serve1',
    )
    assert warned['message'] == (
        'serve1 battery at 24%: below 20% it leaves service to charge, for about 2 h 48 min; '
        'charge it in a lull if you can'
    )
    # Charging, then charged and serving again: it warns afresh next time.
    await robot_state(aredis, 'serve1', 'charging', battery=low - 0.01)
    assert await check() == 0
    await robot_state(aredis, 'serve1', 'idle', battery=0.9)
    assert await check() == 0
    await robot_state(aredis, 'serve1', 'busy', battery=low + 0.01)
    assert await check() == 1


async def test_a_robot_held_up_too_long_raises_one_alert_per_wait(
    aredis: Redis, demo_config: RestaurantConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A serving robot that another robot keeps from driving on (CI once had one stopped for a
    robot idle on its dock, for good) is the operator's to sort out."""
    clock = [now_ms()]
    monkeypatch.setattr(alert_checks, 'now_ms', lambda: clock[0])
    # At 60x, traffic_stuck_s (300 simulated s) is 5 real seconds.
    check = alert_checks.RobotAlerts(aredis, demo_config, time_scale=60).check
    stuck_ms = int(demo_config.service.traffic_stuck_s * 1000 / 60)

    async def look(detail: str, after_ms: int) -> int:
        await robot_state(aredis, 'serve1', 'busy', detail=detail)
        clock[0] += after_ms
        return await check()

    stopped = 'to pass pass, stopped for serve2'
    assert await look(stopped, 0) == 0
    for _ in range(stuck_ms // 1000 - 1):
        assert await look(stopped, 1000) == 0
    assert await look('to pass pass, waiting for serve3', 1000) == 1  # held up all along
    assert await look(stopped, 1000) == 0  # once per wait
    (alert,) = await alerts.recent(aredis)
    assert (alert['kind'], alert['robot_id'], alert['severity']) == (
        'robot_stuck',
        'serve1',
        'warning',
    )
    waiting = 'to pass pass, waiting for serve3'
    assert alert['message'] == f'serve1 has been held up by serve3 for 5 min ({waiting})'
    # It drives on; held up again, it is timed afresh.
    assert await look('to pass pass', 1000) == 0
    for _ in range(stuck_ms // 1000):
        assert await look(stopped, 1000) == 0
    assert await look(stopped, 1000) == 1
    # Nobody looked for a while (another process held the check): what it saw is forgotten.
    await look('to pass pass', 0)
    await look(stopped, 2000)
    clock[0] += stuck_ms
    assert await look(stopped, 2000) == 0
    # Waiting for pickup, or idle, is no wait for another robot.
    await look('waiting for pickup at t05', 0)
    await robot_state(aredis, 'serve2', 'idle', detail='stopped for serve1')
    for _ in range(stuck_ms // 1000 + 2):
        assert await look('waiting for pickup at t05', 1000) == 0


async def test_one_process_holds_a_duty_until_it_stops_or_lapses(aredis: Redis) -> None:
    assert await duties.hold(aredis, 'robot_fault', 'api-a', 60_000)
    assert not await duties.hold(aredis, 'robot_fault', 'api-b', 60_000)
    assert await duties.hold(aredis, 'order_late', 'api-b', 60_000)  # checks apart
    assert await duties.hold(aredis, 'robot_fault', 'api-a', 60_000)  # renewed
    await duties.release(aredis, 'robot_fault', 'api-b')  # not b's to release
    assert not await duties.hold(aredis, 'robot_fault', 'api-b', 60_000)
    await duties.release(aredis, 'robot_fault', 'api-a')
    assert await duties.hold(aredis, 'robot_fault', 'api-b', 100)
    # b stops renewing without a word (killed): a takes over once the hold lapses.
    while await aredis.pttl(keys.duty('robot_fault')) > 0:
        await asyncio.sleep(0.02)
    assert await duties.hold(aredis, 'robot_fault', 'api-a', 60_000)


async def test_of_two_api_processes_one_runs_the_checks_and_the_other_takes_over(
    aredis: Redis,
) -> None:
    """Each API process starts the checks; one runs them (both did, every round: twice the
    reads), the other when it stops."""
    ran: list[str] = []  # who ran the check, in turn

    def counting(holder: str) -> Callable[[], Awaitable[int]]:
        async def check() -> int:
            ran.append(holder)
            return 0

        return check

    loops = {
        h: asyncio.create_task(alert_checks.periodic(aredis, 'robot_fault', counting(h), 0.2, h))
        for h in ('a', 'b')
    }

    async def twelve_rounds() -> bool:
        return len(ran) >= 12

    try:
        await eventually(twelve_rounds, 30)
        # An event loop stalled past the hold (3 periods) may hand it over now and then; both
        # running every round would switch at almost every turn.
        switches = sum(x != y for x, y in itertools.pairwise(ran))
        assert switches <= 2, ran
        holder, other = ran[-1], 'b' if ran[-1] == 'a' else 'a'
        loops[holder].cancel()
        await asyncio.gather(loops[holder], return_exceptions=True)
        before = ran.count(other)

        async def taken_over() -> bool:
            return ran.count(other) >= before + 3

        await eventually(taken_over, 30)
    finally:
        for task in loops.values():
            task.cancel()
        await asyncio.gather(*loops.values(), return_exceptions=True)


async def test_a_double_tap_cancels_a_line_or_drops_a_dish_once(
    client: httpx.AsyncClient, csrf: str, order_at: OrderAt
) -> None:
    """Two taps at once (or two operators): one cancels, the other is told it is done."""
    order_id = await order_at(
        't02', [{'dish_id': d, 'quantity': 1} for d in ('jeyuk', 'iced-tea')]
    )
    taps = await asyncio.gather(
        *(client.post(f'/console/api/orders/{order_id}/cancel', json={'line': 0}) for _ in '12')
    )
    assert sorted(t.status_code for t in taps) == [200, 409], [t.text for t in taps]
    refused = next(t for t in taps if t.status_code == 409)
    assert 'nothing left to cancel (all withdrawn)' in refused.json()['detail']
    dish = f'{order_id}-01-00'
    taps = await asyncio.gather(
        *(client.post(f'/console/api/orders/{order_id}/dishes/{dish}/drop') for _ in '12')
    )
    assert sorted(t.status_code for t in taps) == [200, 409], [t.text for t in taps]


async def test_a_double_tap_of_pause_dock_or_86_applies_once(
    client: httpx.AsyncClient, csrf: str, aredis: Redis
) -> None:
    """Two taps at once: the robot is sent one command (the other tap is told it is on its
    way, until a dispatcher ran it), a dish is 86'd once; each audited once ok, once refused."""

    async def taps(method: str, path: str, body: dict[str, Any] | None = None) -> list[int]:
        answers = await asyncio.gather(
            *(client.request(method, f'/console/api/{path}', json=body) for _ in '12')
        )
        return sorted(a.status_code for a in answers)

    await robot_state(aredis, 'serve1', 'idle', x=6.0, y=4.0)  # away from its dock
    assert await taps('POST', 'robots/serve1/dock') == [200, 409]
    assert await taps('POST', 'robots/serve1/pause') == [200, 409]
    queued = await aredis.xrange(keys.CONTROL)
    assert [c['command'] for _, c in queued] == ['dock', 'pause']
    res = await client.post('/console/api/robots/serve1/pause')
    assert res.json()['detail'] == 'a pause is already on its way to serve1; waiting for the robot'
    # Once a dispatcher has run it, the robot's own state says: paused, so resume it.
    for entry_id, fields in queued:
        await commands.done(aredis, entry_id, commands.parse(fields))
    await robot_state(aredis, 'serve1', 'paused')
    assert await taps('POST', 'robots/serve1/resume') == [200, 409]
    await robot_state(aredis, 'serve1', 'idle', x=6.0, y=4.0)
    assert (await client.post('/console/api/robots/serve1/pause')).status_code == 200

    for soldout in (True, False):
        assert await taps('PUT', 'dishes/bingsu/soldout', {'soldout': soldout}) == [200, 409]
    changes = [f for _, f in await aredis.xrange(keys.FEED) if f['type'] == 'menu.changed']
    assert len(changes) == 2, changes
    audited = Counter((a['action'], a['result'][:7]) for _, a in await aredis.xrange(keys.AUDIT))
    for action in ('robot.dock', 'robot.resume', 'dish.soldout', 'dish.available'):
        assert (audited[action, 'ok'], audited[action, 'refused']) == (1, 1), audited
    assert (audited['robot.pause', 'ok'], audited['robot.pause', 'refused']) == (2, 2), audited


async def test_a_day_is_written_as_the_document_declares(
    client: httpx.AsyncClient, csrf: str
) -> None:
    """YYYY-MM-DD only: the other ISO forms Python reads are refused as the schema says."""
    for path in ('reports/20261205', 'reports/2026-W49-6', 'prep?which=2026-02-30'):
        res = await client.get(f'/console/api/{path}')
        assert (res.status_code, res.json()['reason']) == (422, 'bad_date'), res.text
    assert (await client.get('/console/api/reports/2026-12-05')).status_code == 200


async def test_close_and_reopen_aisles_and_waypoints_and_refusals(
    client: httpx.AsyncClient,
    csrf: str,
    aredis: Redis,
    settings: Settings,
    demo_config: RestaurantConfig,
) -> None:
    """Re-route: what the operator closes is kept, shown and followed live; what the fleet
    cannot work without is refused with why."""
    lane = '/console/api/floor/aisles/c5_5/stop-t01'

    async def refused(path: str, status: int, reason: str, *named: str) -> None:
        res = await client.post(path)
        assert res.status_code == status, res.text
        body = res.json()
        assert body['reason'] == reason and all(n in body['detail'] for n in named), body

    # Without traffic control nothing would keep the robots out.
    await refused(f'{lane}/close', 409, 'closure_no_traffic', 'c5_5~stop-t01')
    settings.traffic_control = True
    await refused('/console/api/floor/waypoints/nowhere/close', 404, 'no_waypoint', 'nowhere')
    await refused('/console/api/floor/aisles/c1_5/stop-t05/close', 404, 'no_aisle', 'c1_5')
    assert (await client.post(f'/console/api/floor/waypoints/{"x" * 41}/close')).status_code == 422
    await refused(f'{lane}/shut', 404, 'unknown_command', 'shut')
    await refused('/console/api/floor/waypoints/pass/close', 409, 'closure_pass', 'pass')
    await refused('/console/api/floor/aisles/c10_0/c9_5/close', 409, 'closure_cuts_dock', 'dock1')
    assert await aredis.get(keys.CLOSURES) is None  # nothing half-written

    started_ms = now_ms()
    res = await client.post(f'{lane}/close')
    assert res.status_code == 200, res.text
    versions = [json.loads(await aredis.get(keys.CLOSURES))['version']]
    assert res.json()['said'] == 'done.floor_closed'
    entry = await last_audit(aredis)
    assert (entry['action'], entry['target'], entry['result']) == (
        'floor.close',
        'c5_5~stop-t01',
        'ok',
    )
    snap = (await client.get('/console/api/snapshot')).json()
    assert [(c['name'], c['by']) for c in snap['closures']] == [('c5_5~stop-t01', 'ana')]
    # The lane's tables wait at the pass, each with the closure that cuts it off.
    assert snap['unreachable']['t05'] == 'c5_5~stop-t01' and 't02' not in snap['unreachable']
    # Every open console follows it live.
    entries = (await aredis.xrevrange(keys.FEED, count=2))[::-1]
    made = await feed.console_transform(aredis, demo_config)(entries, frozenset({'closures'}))
    ((_, msg),) = made
    assert msg['type'] == 'closures' and msg['unreachable'] == snap['unreachable']
    # Twice is refused, consistently both ways; the same aisle named the other way round.
    await refused('/console/api/floor/aisles/stop-t01/c5_5/close', 409, 'already_closed')
    assert (await client.post(f'{lane}/reopen')).status_code == 200
    versions.append(json.loads(await aredis.get(keys.CLOSURES))['version'])
    await refused(f'{lane}/reopen', 409, 'not_closed', 'c5_5~stop-t01')
    snap = (await client.get('/console/api/snapshot')).json()
    assert snap['closures'] == [] and snap['unreachable'] == {}
    # A waypoint: a table's stop cuts off that table and the lane's tables behind it.
    assert (await client.post('/console/api/floor/waypoints/stop-t05/close')).status_code == 200
    snap = (await client.get('/console/api/snapshot')).json()
    assert [c['name'] for c in snap['closures']] == ['stop-t05']
    assert snap['unreachable'] == {'t05': 'stop-t05', 't09': 'stop-t05', 't13': 'stop-t05'}
    # Raised by each of the three changes, to at least the wall clock: a set made after Redis
    # lost its data still passes for newer with a controller that took one before.
    versions.append(json.loads(await aredis.get(keys.CLOSURES))['version'])
    assert versions[0] < versions[1] < versions[2] and versions[0] >= started_ms


async def test_a_robot_waiting_before_a_closure_raises_one_alert_per_wait(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    check = alert_checks.RobotAlerts(aredis, demo_config).check
    waiting = 'to table t05, waiting at closed c5_5~stop-t01'
    await robot_state(aredis, 'serve1', 'busy', detail=waiting)
    assert await check() == 1
    assert await check() == 0
    (alert,) = await alerts.recent(aredis)
    assert (alert['kind'], alert['robot_id']) == ('robot_at_closure', 'serve1')
    assert alert['message'] == (
        f'serve1 waits before c5_5~stop-t01: there is no way around it ({waiting})'
    )
    await robot_state(aredis, 'serve1', 'busy', detail='to table t05')
    assert await check() == 0
    await robot_state(aredis, 'serve1', 'busy', detail=waiting)
    assert await check() == 1
