"""Food lost with its robot, in a real headless Chromium against `robodine serve` and a real
redis-server (no robots: the trip is lost through the store as the dispatcher loses it): the
diner's page says so, the console's ticket offers the three choices and applies them."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.console.accounts import add_operator
from orchestrator.dispatch import delivery
from orchestrator.settings import get_settings
from orchestrator.store import jobs, orders, trips
from tests.api_helpers import uvicorn_server
from tests.browser_support import sign_in
from tests.console_support import PASSWORD, table_token
from tests.dispatch_support import ensure_groups, write_order

pytestmark = pytest.mark.browser

TABLE = 't05'


async def lost_orders(r: Redis, cfg: RestaurantConfig, n: int) -> list[str]:
    """`n` orders for TABLE on one trip of serve1, set off and then lost with it."""
    await ensure_groups(r, cfg)
    placed = [await write_order(r, cfg, TABLE, [('iced-tea', 1)]) for _ in range(n)]
    for _, (job_id,) in placed:
        assert await jobs.complete(r, job_id, epoch=None, by='test') == jobs.COOKED
    order_ids = [o for o, _ in placed]
    entries = {f['order_id']: i for i, f in await r.xrange(keys.DELIVERIES)}
    ready = [delivery.ReadyOrder(o, TABLE, entries[o], 0.0) for o in order_ids]
    await trips.create(
        r, 'trlost', 'serve1', 'test', 10.0, entries, lambda _: delivery.stops(cfg, ready)
    )
    assert await trips.record(r, 'trlost', 1, order_ids, 'delivery.started', {}, orders.DELIVERING)
    assert await trips.lost(r, 'trlost', 1, 'at (5.5, 7.0) m near stop-t05') == order_ids
    return order_ids


async def choose(console: Page, order_id: str, choice: str) -> None:
    ticket = console.locator(f'[data-column="pass"] .ticket[data-order="{order_id}"]')
    await ticket.locator(f'[data-action="lost"][data-choice="{choice}"]').click()
    await console.locator('#confirm-yes').click()
    await expect(console.locator('#confirm')).not_to_be_visible()


async def test_lost_orders_on_the_diner_page_and_the_console(
    browser: Browser, redis_url: str, aredis: Redis, demo_config: RestaurantConfig, tmp_path: Path
) -> None:
    order_ids = await lost_orders(aredis, demo_config, 3)
    await add_operator(aredis, 'ana', PASSWORD)
    with uvicorn_server(redis_url, tmp_path) as server:
        diner = await (await browser.new_context(locale='en-US')).new_page()
        await diner.goto(f'{server.url}/t/{table_token(get_settings(), demo_config, TABLE)}')
        badge = diner.locator(f'li[data-order="{order_ids[0]}"] [data-testid="order-status"]')
        await expect(badge).to_have_text('Delivery problem — staff are on it')

        console = await (
            await browser.new_context(viewport={'width': 1280, 'height': 800})
        ).new_page()
        await console.goto(f'{server.url}/console')
        await sign_in(console, 'ana', PASSWORD)
        await expect(console.locator('#live')).to_have_text('live')
        for order_id in order_ids:
            ticket = console.locator(f'[data-column="pass"] .ticket[data-order="{order_id}"]')
            await expect(ticket).to_have_attribute('data-status', 'lost_in_transit')
            await expect(ticket.locator('[data-action="lost"]')).to_have_count(3)
        alert = console.locator('#alerts', has_text='serve1 was lost mid-trip')
        await expect(alert).to_be_attached()

        served, cancelled, remade = order_ids
        await choose(console, served, 'delivered')
        await expect(console.locator(f'#finished [data-order="{served}"]')).to_have_attribute(
            'data-status', 'served'
        )
        await choose(console, cancelled, 'cancel')
        await expect(console.locator(f'#finished [data-order="{cancelled}"]')).to_have_attribute(
            'data-status', 'cancelled'
        )
        await choose(console, remade, 'remake')
        # Back on its station's column, to be cooked again.
        await expect(
            console.locator(f'[data-column="drinks"] .ticket[data-order="{remade}"]')
        ).to_have_attribute('data-status', 'cooking')
        await expect(badge).to_have_text('Served — enjoy!')
    assert [await aredis.hget(keys.order(o), 'status') for o in order_ids] == [
        'served',
        'cancelled',
        'cooking',
    ]
