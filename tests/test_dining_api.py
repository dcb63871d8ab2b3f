"""Dining sessions, the bill, split and pay, receipts, staff calls and limits: the diner API on
the real app and Redis (in-process), and the payment races on a real uvicorn."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import Server, eventually, line, settings_for, token_for, uvicorn_server
from redis.asyncio import Redis
from sqlalchemy import select

from orchestrator import billing
from orchestrator import redis_keys as keys
from orchestrator.api.app import create_app
from orchestrator.archive import schema
from orchestrator.archive.archiver import Archiver
from orchestrator.archive.db import open_engine
from orchestrator.config import LANGS, RestaurantConfig
from orchestrator.payments import DECLINE_REASONS, SIGNATURE_HEADER, make_provider
from orchestrator.reports import day
from orchestrator.settings import Settings
from orchestrator.store import orders, sessions
from orchestrator.store.feed import now_ms
from orchestrator.texts import texts

T04 = token_for('t04')
ENDED = 'your visit has ended'
GRACE_S = 60


def with_service(cfg: RestaurantConfig, **service: Any) -> RestaurantConfig:
    return cfg.model_copy(update={'service': cfg.service.model_copy(update=service)})


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return settings_for(redis_url, console_enabled=False)


@asynccontextmanager
async def diner_api(settings: Settings, cfg: RestaurantConfig) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, config=cfg)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url='http://diner.test') as c:
            yield c


@pytest.fixture
async def client(
    settings: Settings, demo_config: RestaurantConfig
) -> AsyncIterator[httpx.AsyncClient]:
    # Tables close 0.3 s after the last payment; visit codes read for a minute after closing
    # (a test ages a closed visit past it rather than wait: under load a read takes a while).
    cfg = with_service(demo_config, close_after_paid_s=0.3, visit_grace_s=GRACE_S)
    async with diner_api(settings, cfg) as c:
        yield c


async def order(
    client: httpx.AsyncClient, token: str, *items: dict[str, Any], status: int = 201
) -> httpx.Response:
    res = await client.post(
        f'/api/tables/{token}/orders',
        json={'items': list(items)},
        headers={'Idempotency-Key': secrets.token_hex(8)},
    )
    assert res.status_code == status, res.text
    return res


async def bill(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    res = await client.get(f'/api/tables/{token}/bill')
    assert res.status_code == 200, res.text
    return dict(res.json())


async def pay(
    client: httpx.AsyncClient, token: str, share_id: str, key: str | None = None
) -> httpx.Response:
    return await client.post(
        f'/api/tables/{token}/payments',
        json={'share_id': share_id},
        headers={'Idempotency-Key': key or secrets.token_hex(8)},
    )


def webhook(
    settings: Settings, payment_id: str, amount: int, approved: bool = True, **kw: Any
) -> tuple[bytes, dict[str, str]]:
    return make_provider(settings).webhook(payment_id, amount, approved, **kw)


async def deliver(
    client: httpx.AsyncClient, hook: tuple[bytes, dict[str, str]], status: int = 200
) -> dict[str, Any]:
    res = await client.post('/api/payments/webhook', content=hook[0], headers=hook[1])
    assert res.status_code == status, res.text
    return dict(res.json())


async def serve_all(client: httpx.AsyncClient, code: str, r: Redis) -> None:
    """Every order of the visit served (no dispatcher runs here)."""
    for o in (await client.get(f'/api/tables/{code}/orders')).json():
        await orders.record(r, o['id'], 'order.served', {}, status=orders.SERVED)


async def visit_code(client: httpx.AsyncClient, token: str) -> str:
    res = await client.get(f'/t/{token}')
    assert res.status_code == 303
    return str(res.headers['location']).removeprefix('/t/')


async def test_a_visit_from_first_order_to_paid_closed_and_free_again(
    client: httpx.AsyncClient,
    aredis: Redis,
    settings: Settings,
    demo_config: RestaurantConfig,
    tmp_path: Path,
) -> None:
    code = await visit_code(client, T04)
    assert code.startswith(T04 + '.1.')
    empty = await bill(client, code)
    assert empty['session'] is None and empty['lines'] == [] and empty['total'] == 0
    # The party says it is two (the page asks once a visit): two covers in the day's report.
    assert (await client.post(f'/api/tables/{code}/party', json={'size': 2})).is_success
    first = (await order(client, code, line('kungpao', 2, spice='hot'))).json()
    await order(client, T04, line('iced-tea', 1))  # the printed code: the same visit
    b = await bill(client, code)
    assert b['session']['status'] == 'seated' and b['session']['orders'] == 2
    assert [(ln['dish_id'], ln['quantity'], ln['unit_price']) for ln in b['lines']] == [
        ('kungpao', 2, 14500),
        ('iced-tea', 1, 4000),
    ]
    # Korean prices include 10 % VAT: 33,000 of which 3,000 is VAT; nothing added.
    assert (b['subtotal'], b['tax']['amount'], b['tax']['added'], b['total']) == (
        33000,
        3000,
        0,
        33000,
    )
    assert [(s['id'], s['amount'], s['status']) for s in b['shares']] == [('all', 33000, 'open')]
    listed = (await client.get(f'/api/tables/{code}/orders')).json()
    assert [o['id'] for o in listed][-1] == first['id']

    res = await pay(client, code, 'all')
    assert res.status_code == 201, res.text
    p = res.json()
    assert p['amount'] == 33000 and p['status'] == 'pending'
    assert p['checkout_url'].startswith(f'/pay/sim/{p["id"]}?')
    assert (await bill(client, code))['session']['status'] == 'closing'
    assert (await deliver(client, webhook(settings, p['id'], 33000)))['result'] == 'paid'
    b = await bill(client, code)
    assert b['paid'] == 33000 and b['due'] == 0 and b['shares'][0]['status'] == 'paid'
    # Paid before the food came: the table stays the party's while an order is open (its
    # phones follow the food; the next party would get the table a robot is driving to).
    await asyncio.sleep(1.0)  # over three times close_after_paid_s
    assert not await _closed(aredis, 't04')
    await serve_all(client, code, aredis)
    # Paid in full and fed: closed by itself close_after_paid_s later; the table is free.
    await eventually(lambda: _closed(aredis, 't04'), timeout=10)
    assert not await aredis.zcard(keys.PAID_TABLES)  # the sweeper's index forgets it
    feed = [f['type'] for _, f in await aredis.xrange(keys.FEED)]
    assert [t for t in feed if t.startswith(('table.', 'payment.'))] == [
        'table.seated',
        'payment.started',
        'payment.paid',
        'table.closed',
    ]
    audit = [(e['who'], e['action']) for _, e in await aredis.xrange(keys.AUDIT)]
    assert audit == [('diner:t04', 'payment.start'), ('provider:simulated', 'payment.paid')]
    # Within the grace the old code still reads (the receipt) but cannot order.
    assert (await bill(client, code))['session']['status'] == 'closed'
    receipt = await client.get(f'/api/tables/{code}/receipt', headers={'Accept-Language': 'en'})
    assert receipt.status_code == 200 and 'Robodine Seoul' in receipt.text
    assert 'VAT 10% (included)' in receipt.text and p['id'] in receipt.text
    await order(client, code, line('mochi'), status=403)
    # A new scan shows an empty visit; after the grace the old code has ended.
    fresh = await visit_code(client, T04)
    assert fresh.startswith(T04 + '.2.')
    assert (await bill(client, fresh))['lines'] == []
    assert (await client.get(f'/api/tables/{T04}/orders')).json() == []
    # The grace over: closed longer ago than it lasts.
    aged = now_ms() - (GRACE_S + 1) * 1000
    await aredis.hset(keys.table_visit('t04'), 'closed_at', aged)
    for res in (
        await client.get(f'/api/tables/{code}/orders'),
        await client.get(f'/api/tables/{code}/bill'),
        await client.get(f'/api/tables/{code}/orders/{first["id"]}'),
        await order(client, code, line('mochi'), status=403),
    ):
        assert res.status_code == 403 and ENDED in res.json()['detail']
    # The page says it in the diner's language.
    page = await client.get(f'/t/{code}', headers={'Accept-Language': 'en'})
    assert page.status_code == 403 and 'Your visit has ended' in page.text
    page = await client.get(f'/t/{code}', headers={'Accept-Language': 'zh-CN'})
    assert page.status_code == 403 and '本次用餐已结束' in page.text
    engine = open_engine(f'sqlite:///{tmp_path / "archive.sqlite"}')
    await Archiver(aredis, engine, demo_config, margin_ms=0).run_once()
    with engine.connect() as conn:
        (visit,) = conn.execute(select(schema.sessions)).all()
    hourly = day.build(engine, demo_config, visit.day).section('hourly')
    engine.dispose()
    assert hourly is not None and sum(row[2] for row in hourly.rows) == 2, hourly


async def feed_types(r: Redis) -> list[str]:
    return [f['type'] for _, f in await r.xrange(keys.FEED)]


async def _closed(r: Redis, table_id: str) -> bool:
    s = await sessions.current(r, table_id)
    return s is not None and s.status == sessions.CLOSED


async def test_the_sweeper_reads_only_paid_tables_and_finds_those_paid_before_its_index(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    # Paid in full long ago, as an earlier version left it: no entry in the paid index.
    async with aredis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.table_visit('t04'), mapping=sessions._open_fields('t04', 1, 'order', 2, 0))
        sessions.put(pipe, 't04', status=sessions.PAID, paid_at=1, last_payment_at=1)
        await pipe.execute()
    billing = demo_config.billing
    assert await sessions.close_due(aredis, billing, 0) == []
    await sessions.index_paid(aredis, [t.id for t in demo_config.tables])
    assert await aredis.zrange(keys.PAID_TABLES, 0, -1) == ['t04']
    # Not due yet: not read (a due table that owes again is read and left open).
    assert await sessions.close_due(aredis, billing, int(time.time() * 1000)) == []
    assert [s.table_id for s in await sessions.close_due(aredis, billing, 0)] == ['t04']
    assert await _closed(aredis, 't04') and not await aredis.zcard(keys.PAID_TABLES)


async def test_the_party_gives_its_size_bounded_by_the_seats(
    client: httpx.AsyncClient, aredis: Redis
) -> None:
    """Asked on the diner page once a visit: 1 up to the table's seats (t04 has 2), else a
    422 naming `size` and nothing written; answering at a free table seats the party."""
    code = await visit_code(client, T04)
    url = f'/api/tables/{code}/party'
    for bad in (0, 3, 21, '2', 2.5, None):
        res = await client.post(url, json={'size': bad})
        assert (res.status_code, res.json()['field']) == (422, 'size'), res.text
    assert 'seats at most 2' in (await client.post(url, json={'size': 3})).json()['detail']
    visit = (await client.get(f'/api/tables/{code}/visit')).json()
    assert visit['session'] is None and visit['table']['seats'] == 2
    res = await client.post(url, json={'size': 2})
    assert res.status_code == 200, res.text
    assert (res.json()['session']['party_size'], res.json()['session']['opened_by']) == (
        2,
        'diner',
    )
    await order(client, code, line('mochi'))
    # Told again (a retry, another phone): nothing written, nothing on the feed.
    seated = (await feed_types(aredis)).count('table.seated')
    assert (await client.post(url, json={'size': 2})).status_code == 200
    assert (await feed_types(aredis)).count('table.seated') == seated == 1
    # Another phone of the party corrects it: the same visit, one session.
    assert (await client.post(f'/api/tables/{T04}/party', json={'size': 1})).status_code == 200
    s = await sessions.current(aredis, 't04')
    assert s is not None and (s.party_size, s.orders, s.n) == (1, 1, 1)


async def test_the_party_size_is_rate_limited_per_table(
    client: httpx.AsyncClient, aredis: Redis
) -> None:
    """Each size set is a session write and a feed event: a table's phones get a few a minute,
    then a 429 with Retry-After and nothing written; another table is not held back."""
    code = await visit_code(client, T04)
    url = f'/api/tables/{code}/party'
    sizes = [1, 2] * sessions.PARTY_SIZES_PER_MINUTE
    for size in sizes[: sessions.PARTY_SIZES_PER_MINUTE]:
        assert (await client.post(url, json={'size': size})).status_code == 200
    seated = (await feed_types(aredis)).count('table.seated')
    res = await client.post(f'/api/tables/{T04}/party', json={'size': 1})
    assert (res.status_code, res.json()['reason'], res.json()['field']) == (
        429,
        'party_limited',
        'size',
    ), res.text
    retry_s = int(res.headers['retry-after'])
    assert 0 < retry_s <= 60 and f'please wait {retry_s} s' in res.json()['detail']
    s = await sessions.current(aredis, 't04')
    assert s is not None and s.party_size == sizes[sessions.PARTY_SIZES_PER_MINUTE - 1]
    assert (await feed_types(aredis)).count('table.seated') == seated
    # A size out of range is still told what to fix, not to wait.
    assert (await client.post(url, json={'size': 3})).status_code == 422
    other = f'/api/tables/{token_for("t05")}/party'
    assert (await client.post(other, json={'size': 2})).status_code == 200


async def test_the_next_party_ends_the_old_code_at_once(
    client: httpx.AsyncClient, aredis: Redis, settings: Settings
) -> None:
    code = await visit_code(client, T04)
    await order(client, code, line('mochi'))
    p = (await pay(client, code, 'all')).json()
    await deliver(client, webhook(settings, p['id'], p['amount']))
    await serve_all(client, code, aredis)
    await eventually(lambda: _closed(aredis, 't04'), timeout=10)
    # Within the old visit's grace, the next party orders with the printed code.
    await order(client, T04, line('fries'))
    res = await client.get(f'/api/tables/{code}/bill')
    assert res.status_code == 403 and ENDED in res.json()['detail']
    res = await client.post(f'/api/tables/{code}/party', json={'size': 2})
    assert res.status_code == 403 and ENDED in res.json()['detail']
    assert [
        o['lines'][0]['dish_id'] for o in (await client.get(f'/api/tables/{T04}/orders')).json()
    ] == ['fries']


async def test_split_pay_decline_retry_and_one_charge_per_share(
    client: httpx.AsyncClient, aredis: Redis, settings: Settings
) -> None:
    code = await visit_code(client, T04)
    await order(client, code, line('galbi', 1), line('mandu', 3))
    b = await bill(client, code)
    total = b['total']
    even = await client.post(f'/api/tables/{code}/bill/split', json={'mode': 'even', 'ways': 3})
    assert even.status_code == 200, even.text
    amounts = [s['amount'] for s in even.json()['shares']]
    assert sum(amounts) == total and max(amounts) - min(amounts) <= 1
    # By item instead: one diner takes one mandu; the rest is one share.
    mandu = next(ln['key'] for ln in b['lines'] if ln['dish_id'] == 'mandu')
    res = await client.post(
        f'/api/tables/{code}/bill/split',
        json={'mode': 'items', 'items': [{'line': mandu, 'units': 1}]},
    )
    assert res.status_code == 200, res.text
    mine = res.json()['share_id']
    shares = {s['id']: s for s in res.json()['shares']}
    assert shares[mine]['amount'] == 7000 and sum(s['amount'] for s in shares.values()) == total
    too_many = await client.post(
        f'/api/tables/{code}/bill/split',
        json={'mode': 'items', 'items': [{'line': mandu, 'units': 3}]},
    )
    assert too_many.status_code == 422 and too_many.json()['field'] == 'items[0].units'
    # Most often another phone's claim came first: a reason the page tells in its language.
    assert too_many.json()['reason'] == 'units_taken'

    # Two phones pay my share with their own keys: one payment, one charge.
    key = secrets.token_hex(8)
    a, again, other = await pay(client, code, mine, key), await pay(client, code, mine, key), None
    other = await pay(client, code, mine)
    assert (a.status_code, again.status_code, other.status_code) == (201, 200, 200)
    assert a.json()['id'] == again.json()['id'] == other.json()['id']
    # An order placed now goes on the open share, never on the one being paid.
    await order(client, code, line('iced-tea'))
    b = await bill(client, code)
    shares = {s['id']: s for s in b['shares']}
    assert shares[mine]['amount'] == 7000 and shares[mine]['status'] == 'paying'
    assert sum(s['amount'] for s in shares.values()) == b['total'] == total + 4000

    # Declined: the share is open again with the reason, and can be paid again.
    pid = a.json()['id']
    hook = webhook(settings, pid, 7000, approved=False, reason='insufficient funds')
    assert (await deliver(client, hook))['result'] == 'declined'
    shares = {s['id']: s for s in (await bill(client, code))['shares']}
    assert shares[mine]['status'] == 'open' and shares[mine]['declined'] == 'insufficient funds'
    assert (await client.get(f'/api/tables/{code}/payments/{pid}')).json()['status'] == 'declined'
    retry = await pay(client, code, mine)
    assert retry.status_code == 201 and retry.json()['id'] != pid
    hook = webhook(settings, retry.json()['id'], 7000)
    before = await feed_types(aredis)
    results = [(await deliver(client, hook))['result'] for _ in range(5)]
    assert results == ['paid'] + ['duplicate'] * 4
    paid_again = await pay(client, code, mine)
    assert paid_again.status_code == 409 and paid_again.json()['reason'] == 'share_taken'
    # One state change: its event, and its audit entry.
    assert (await feed_types(aredis))[len(before) :] == ['payment.paid', 'audit']
    # A forged or stale webhook is refused and changes nothing.
    rest = next(s for s in (await bill(client, code))['shares'] if s['status'] == 'open')
    started = (await pay(client, code, rest['id'])).json()
    body, headers = webhook(settings, started['id'], started['amount'])
    forged = {**headers, SIGNATURE_HEADER: headers[SIGNATURE_HEADER][:-4] + 'beef'}
    stale = webhook(settings, started['id'], started['amount'], at_s=int(time.time()) - 3600)
    before = await aredis.xlen(keys.FEED)
    for h in ((body, forged), stale, (body, {'content-type': 'application/json'})):
        res = await client.post('/api/payments/webhook', content=h[0], headers=h[1])
        assert res.status_code == 400 and res.json()['field'] == 'signature'
    assert await aredis.xlen(keys.FEED) == before
    assert (await client.get(f'/api/tables/{code}/payments/{started["id"]}')).json()[
        'status'
    ] == 'pending'
    assert (await deliver(client, (body, headers)))['result'] == 'paid'
    b = await bill(client, code)
    assert b['due'] == 0 and b['paid'] == b['total']
    receipt = await client.get(f'/api/tables/{code}/payments/{started["id"]}/receipt')
    assert receipt.status_code == 200 and started['id'] in receipt.text
    # In the language the page shows (its switch), whatever the browser's.
    receipt = await client.get(
        f'/api/tables/{code}/payments/{started["id"]}/receipt',
        params={'lang': 'zh'},
        headers={'Accept-Language': 'ko'},
    )
    assert '<html lang="zh">' in receipt.text and '付款' in receipt.text and '打印' in receipt.text
    assert 'Payment' not in receipt.text
    # The visit's receipt, with the declined payment: its title is not the page's link to it
    # ("View receipt"), its state is not the API's English word.
    receipt = await client.get(f'/api/tables/{code}/receipt', params={'lang': 'zh'})
    assert '<p class="meta">收据<br>' in receipt.text and '查看收据' not in receipt.text
    # The provider's reason too, when it is one the pages know (payments.DECLINE_REASONS).
    assert f'{pid} (simulated) 付款被拒: 余额不足' in receipt.text
    assert 'declined' not in receipt.text and 'insufficient' not in receipt.text
    for lang in LANGS:
        assert set(texts(lang)['decline_reasons']) == set(DECLINE_REASONS.values()), lang
    bad = await client.get(f'/api/tables/{code}/receipt', params={'lang': 'fr'})
    assert bad.status_code == 422 and bad.json()['field'] == 'lang'


async def test_a_diner_puts_in_an_amount_and_pays_it(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """A diner puts in 10,000: a share of that amount out of what nobody claimed; the rest is what
    is left of it, and the share is paid like any other."""
    code = await visit_code(client, T04)
    await order(client, code, line('galbi', 1), line('mandu', 3))
    total = (await bill(client, code))['total']
    missing = await client.post(f'/api/tables/{code}/bill/split', json={'mode': 'amount'})
    assert missing.status_code == 422 and missing.json()['field'] == 'amount'
    # A number Python's JSON will not read (over 4,300 digits) is named as the body.
    huge = b'{"mode": "amount", "amount": 1' + b'0' * 5000 + b'}'
    res = await client.post(
        f'/api/tables/{code}/bill/split',
        content=huge,
        headers={'Content-Type': 'application/json'},
    )
    assert res.status_code == 400, res.text
    assert (res.json()['field'], res.json()['reason']) == ('body', 'body')
    # Whole numbers only: JSON's true or "100" is not an amount (nor 100.0).
    for sloppy in (True, '100', 100.0):
        res = await client.post(
            f'/api/tables/{code}/bill/split', json={'mode': 'amount', 'amount': sloppy}
        )
        assert res.status_code == 422 and res.json()['field'] == 'amount', (sloppy, res.text)
    res = await client.post(
        f'/api/tables/{code}/bill/split', json={'mode': 'amount', 'amount': 10_000}
    )
    assert res.status_code == 200, res.text
    mine = res.json()['share_id']
    shares = {s['id']: s for s in res.json()['shares']}
    assert shares[mine]['kind'] == 'amount' and shares[mine]['amount'] == 10_000
    (rest,) = [s for s in shares.values() if s['kind'] == 'rest']
    assert rest['amount'] == total - 10_000
    over = await client.post(
        f'/api/tables/{code}/bill/split', json={'mode': 'amount', 'amount': total}
    )
    assert over.status_code == 422 and over.json()['reason'] == 'bill_changed'
    assert f'between 1 and {total - 10_000}' in over.json()['detail']
    started = await pay(client, code, mine)
    assert started.status_code == 201 and started.json()['amount'] == 10_000
    hook = webhook(settings, started.json()['id'], 10_000)
    assert (await deliver(client, hook))['result'] == 'paid'
    b = await bill(client, code)
    assert b['paid'] == 10_000 and b['due'] == total - 10_000


async def test_putting_in_1_won_at_a_time_stops_at_max_shares(
    client: httpx.AsyncClient, aredis: Redis
) -> None:
    """Found attacking the demo: 3,000 claims of 1 won made a bill of 340 KB that every phone
    reads, each claim slower than the last. Past MAX_SHARES a claim is a 422 saying what to
    do, and the bill stays as it was."""
    code = await visit_code(client, T04)
    await order(client, code, line('galbi', 1))
    for _ in range(billing.MAX_SHARES):
        res = await client.post(
            f'/api/tables/{code}/bill/split', json={'mode': 'amount', 'amount': 1}
        )
        assert res.status_code == 200, res.text
    before = await bill(client, code)
    assert len(before['shares']) == billing.MAX_SHARES + 1  # and the rest
    for body in ({'mode': 'amount', 'amount': 1}, {'mode': 'items', 'items': [{'line': 'x'}]}):
        res = await client.post(f'/api/tables/{code}/bill/split', json=body)
        assert res.status_code == 422, res.text
        assert res.json()['reason'] == 'too_many_shares'
        assert f'{billing.MAX_SHARES} shares' in res.json()['detail']
    assert await bill(client, code) == before
    # Starting again from one share is always possible.
    res = await client.post(f'/api/tables/{code}/bill/split', json={'mode': 'none'})
    assert res.status_code == 200 and len(res.json()['shares']) == 1


async def test_a_checkout_form_not_utf8_is_refused_with_400(client: httpx.AsyncClient) -> None:
    # Not UTF-8, on the simulated provider's checkout form: once a 500 and a traceback.
    res = await client.post(
        '/pay/sim/p1',
        content=b'\xff\xfeamount=1',
        headers={'content-type': 'application/x-www-form-urlencoded'},
    )
    assert res.status_code == 400 and 'not valid' in res.text


@pytest.mark.parametrize(
    'signature',
    [
        b't=NOW,v1=\xc3\xa9',
        b't=' + b'9' * 400 + b',v1=ab',
        b't=-' + b'9' * 4000 + b',v1=ab',
    ],
)
async def test_a_webhook_signature_not_ascii_or_of_a_huge_time_is_refused_with_400(
    client: httpx.AsyncClient, aredis: Redis, signature: bytes
) -> None:
    # Each was a 500 and a traceback: compare_digest refuses non-ASCII str, and a timestamp of
    # 400 digits is no float.
    signature = signature.replace(b'NOW', str(int(time.time())).encode())
    before = await aredis.xlen(keys.FEED)
    body = b'{"id":"evt_x","type":"payment.approved","payment_id":"p1","amount":1}'
    res = await client.post(
        '/api/payments/webhook',
        content=body,
        headers=[(SIGNATURE_HEADER.encode(), signature), (b'content-type', b'application/json')],
    )
    assert res.status_code == 400 and res.json()['field'] == 'signature', res.text
    assert await aredis.xlen(keys.FEED) == before


async def test_a_checkout_signature_not_ascii_is_refused_with_400(
    client: httpx.AsyncClient,
) -> None:
    # Once a 500 and a traceback, on the page and on its form alike.
    page = await client.get(
        '/pay/sim/p1', params={'amount': 1, 'currency': 'KRW', 'back': '/t/x', 'sig': 'é'}
    )
    assert page.status_code == 400 and 'not valid' in page.text
    form = await client.post(
        '/pay/sim/p1',
        content='amount=1&currency=KRW&back=/t/x&sig=%C3%A9&decision=approve',
        headers={'content-type': 'application/x-www-form-urlencoded'},
    )
    assert form.status_code == 400 and 'not valid' in form.text


async def test_a_body_not_json_is_named_as_the_body(client: httpx.AsyncClient) -> None:
    # Like an order's, not as '[0]' (the character it failed on).
    await order(client, T04, line('mochi'))
    res = await client.post(
        f'/api/tables/{T04}/bill/split',
        content='{"mode": even}',
        headers={'content-type': 'application/json'},
    )
    assert res.status_code == 422
    assert res.json() == {
        'detail': 'body: Invalid JSON: Expecting value',
        'field': 'body',
        'reason': 'invalid',
    }


async def test_staff_calls_raise_an_alert_and_are_rate_limited(
    client: httpx.AsyncClient, aredis: Redis, demo_config: RestaurantConfig
) -> None:
    res = await client.post(f'/api/tables/{T04}/staff-calls', json={'reason': 'water'})
    assert res.status_code == 201, res.text
    ((_, alert),) = await aredis.xrange(keys.ALERTS)
    assert alert['kind'] == 'staff_call' and alert['table_id'] == 't04'
    assert alert['message'] == 'Table 4 asks for water'
    again = await client.post(f'/api/tables/{T04}/staff-calls', json={'reason': 'help'})
    assert again.status_code == 429 and 'call again in' in again.json()['detail']
    assert 0 < int(again.headers['Retry-After']) <= demo_config.service.staff_call_interval_s
    bad = await client.post(f'/api/tables/{T04}/staff-calls', json={'reason': 'dance'})
    assert bad.status_code == 422 and bad.json()['field'] == 'reason'


async def test_limits_per_table_code(settings: Settings, demo_config: RestaurantConfig) -> None:
    cfg = with_service(demo_config, orders_per_minute=2, dishes_per_session=5)
    async with diner_api(settings, cfg) as c:
        if int(time.time()) % 60 > 55:  # the two orders must fall in one clock minute
            await asyncio.sleep(5)
        await order(c, T04, line('mochi', 2))
        res = await order(c, T04, line('mochi', 4), status=422)
        assert res.json()['field'] == 'items' and '(3 left)' in res.json()['detail']
        await order(c, T04, line('mochi', 3))
        res = await order(c, T04, line('mochi'), status=429)
        assert 'orders this minute' in res.json()['detail']


# -- races on a real uvicorn ---------------------------------------------------------------


@pytest.fixture
def server(redis_url: str, tmp_path: Path) -> Iterator[Server]:
    with uvicorn_server(redis_url, tmp_path) as s:
        yield s


async def test_20_concurrent_payments_of_one_share_make_one_charge_and_5_webhooks_one_change(
    server: Server, aredis: Redis, redis_url: str
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        await order(c, T04, line('bulgogi', 2))
        results = await asyncio.gather(*(pay(c, T04, 'all') for _ in range(20)))
        assert sorted(r.status_code for r in results) == [200] * 19 + [201]
        assert len({r.json()['id'] for r in results}) == 1
        assert all(r.json()['checkout_url'] for r in results)
        assert len(await aredis.keys(keys.payment('*'))) == 1
        feed = [f['type'] for _, f in await aredis.xrange(keys.FEED)]
        assert feed.count('payment.started') == 1
        p = results[0].json()
        hook = webhook(settings_for(redis_url), p['id'], p['amount'])
        answers = await asyncio.gather(
            *(c.post('/api/payments/webhook', content=hook[0], headers=hook[1]) for _ in range(5))
        )
        assert sorted(a.json()['result'] for a in answers) == ['duplicate'] * 4 + ['paid']
        feed = [f['type'] for _, f in await aredis.xrange(keys.FEED)]
        assert feed.count('payment.paid') == 1
        s = await sessions.current(aredis, 't04')
        assert s is not None and s.status == sessions.PAID and s.paid_total == p['amount']


@pytest.mark.parametrize(
    'suffix', ['.1.' + 'A' * 16, '.x.' + 'A' * 16, '.1.é' + 'A' * 15, '.².AA']
)
async def test_forged_visit_codes_are_refused(client: httpx.AsyncClient, suffix: str) -> None:
    for res in (
        await client.get(f'/api/tables/{T04}{suffix}/bill'),
        await client.get(f'/api/tables/{T04}{suffix}/orders'),
        await order(client, T04 + suffix, line('mochi'), status=401),
    ):
        assert res.status_code == 401 and 'not valid' in res.json()['detail']
