"""The console's Tables view on the real app and Redis: seat, the bill, close (refused while
something is owed), refund (managers only), each audited."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from console_support import PASSWORD, place_order, sign_in, table_token
from pydantic import SecretStr
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.api.app import create_app
from orchestrator.config import RestaurantConfig
from orchestrator.console.accounts import hasher
from orchestrator.payments import make_provider
from orchestrator.settings import OperatorSeed, Settings


@pytest.fixture
def settings(redis_url: str) -> Settings:
    boss = OperatorSeed(role='manager', password_hash=SecretStr(hasher.hash(PASSWORD)))
    return Settings(redis_url=redis_url, operators={'boss': boss})


@pytest.fixture
async def client(
    settings: Settings, demo_config: RestaurantConfig
) -> AsyncIterator[httpx.AsyncClient]:
    # Paid tables stay paid until an operator closes them (no automatic close in a day).
    service = demo_config.service.model_copy(update={'close_after_paid_s': 86_400})
    app = create_app(settings, config=demo_config.model_copy(update={'service': service}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url='http://test') as c:
            yield c


async def row(client: httpx.AsyncClient, table_id: str) -> dict:
    res = await client.get('/console/api/tables')
    assert res.status_code == 200, res.text
    return next(t for t in res.json() if t['id'] == table_id)


async def last_audit(r: Redis) -> dict[str, str]:
    ((_, entry),) = await r.xrevrange(keys.AUDIT, count=1)
    return dict(entry)


async def test_seat_bill_pay_close_and_refund(
    client: httpx.AsyncClient, aredis: Redis, settings: Settings, demo_config: RestaurantConfig
) -> None:
    client.headers['X-CSRF-Token'] = await sign_in(client, aredis)
    assert (await row(client, 't02'))['state'] == 'free'
    res = await client.post('/console/api/tables/t02/seat', json={'party_size': 3})
    assert res.status_code == 200, res.text
    seated = await row(client, 't02')
    assert seated['state'] == 'seated' and seated['session']['party_size'] == 3
    assert seated['session']['opened_by'] == 'ana'
    # The party orders: their order joins the visit the operator opened.
    token = table_token(settings, demo_config, 't02')
    await place_order(client, token, [{'dish_id': 'udon', 'quantity': 1}])
    seated = await row(client, 't02')
    assert (seated['orders'], seated['food_waiting'], seated['total']) == (1, 1, 10000)
    refused = await client.post('/console/api/tables/t02/close')
    assert refused.status_code == 409 and '10000 still to pay' in refused.json()['detail']
    assert (await last_audit(aredis))['result'].startswith('refused: 10000 still to pay')

    pay = await client.post(
        f'/api/tables/{token}/payments',
        json={'share_id': 'all'},
        headers={'Idempotency-Key': 'pay-key-0001'},
    )
    assert pay.status_code == 201, pay.text
    pid = pay.json()['id']
    assert (await row(client, 't02'))['state'] == 'bill'
    body, headers = make_provider(settings).webhook(pid, 10000, True)
    assert (await client.post('/api/payments/webhook', content=body, headers=headers)).json()[
        'result'
    ] == 'paid'
    assert (await row(client, 't02'))['state'] == 'paid'
    bill = (await client.get('/console/api/tables/t02/bill')).json()
    assert bill['paid'] == 10000 and [p['status'] for p in bill['payments']] == ['paid']

    # Refunds are for managers only, and audited.
    denied = await client.post(f'/console/api/payments/{pid}/refund')
    assert denied.status_code == 403
    await client.post('/console/api/logout')
    client.headers['X-CSRF-Token'] = (
        await client.post('/console/api/login', json={'name': 'boss', 'password': PASSWORD})
    ).json()['csrf']
    res = await client.post(f'/console/api/payments/{pid}/refund')
    assert res.status_code == 200, res.text
    entry = await last_audit(aredis)
    assert (entry['who'], entry['action'], entry['result']) == ('boss', 'payment.refund', 'ok')
    again = await client.post(f'/console/api/payments/{pid}/refund')
    assert again.status_code == 409 and 'refunded' in again.json()['detail']
    bill = (await client.get('/console/api/tables/t02/bill')).json()
    assert [p['status'] for p in bill['payments']] == ['refunded']

    res = await client.post('/console/api/tables/t02/close')
    assert res.status_code == 200, res.text
    assert (await row(client, 't02'))['state'] == 'free'
    assert (await client.post('/console/api/tables/t99/close')).status_code == 404
