"""The console in a real headless Chromium against the real kitchen: the API under uvicorn,
a `robodine dispatcher` process, every robot node process over DDS and a real redis-server.

An operator signs in, watches an order cooked by the robots move from the station columns to
the pass and on to recall, pauses a serving robot and sees it change on the floor map, and
marks a dish sold out while a diner's page, open in a second browser context, greys it out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.console.accounts import add_operator
from tests.browser_support import confirm, sign_in
from tests.console_support import PASSWORD
from tests.dispatch_support import Diners, Kitchen, kitchen_running, restaurant_open

pytestmark = [pytest.mark.browser, pytest.mark.ros]

# Fries cook in 150 s: 5 s at this scale, long enough to see the ticket at the fryer.
TIME_SCALE = 30.0
# Generous: a loaded 2-core machine runs eight robot processes, a dispatcher and Chromium.
WAIT_MS = 60_000


@pytest.fixture(scope='module')
def fleet(
    tmp_path_factory: pytest.TempPathFactory, demo_config: RestaurantConfig
) -> Iterator[Kitchen]:
    with kitchen_running(demo_config, tmp_path_factory.mktemp('kitchen'), TIME_SCALE, 3000.0) as k:
        yield k


@pytest.fixture
async def diners(
    fleet: Kitchen, redis_url: str, aredis: Redis, tmp_path: Path
) -> AsyncIterator[tuple[str, Diners]]:
    """The API and a dispatcher up, every robot heard, diners confirming pickups."""
    async with restaurant_open(fleet, redis_url, aredis, tmp_path) as restaurant:
        yield restaurant


async def test_console_follows_the_kitchen_and_controls_it(
    diners: tuple[str, Diners], browser: Browser, aredis: Redis
) -> None:
    url, d = diners
    await add_operator(aredis, 'ana', PASSWORD)
    expect.set_options(timeout=WAIT_MS)
    console = await (await browser.new_context(viewport={'width': 1280, 'height': 800})).new_page()
    await console.goto(f'{url}/console')
    await sign_in(console, 'ana', PASSWORD)
    await expect(console.locator('#who')).to_have_text('ana (operator)')
    await expect(console.locator('#live')).to_have_text('live')

    # An order appears at its stations, moves to the pass once cooked, then to recall.
    order_id = await d.order('t06', [('fries', 1), ('iced-tea', 1)])
    assert order_id
    # The food waits on the robot at the table until the console has shown it at the pass
    # (from the pass to t06 takes a fraction of a second at this scale).
    d.held.add(order_id)
    ticket = f'.ticket[data-order="{order_id}"]'
    await expect(console.locator(f'[data-column="fryer"] {ticket}')).to_be_visible()
    await expect(console.locator(f'[data-column="fryer"] {ticket} .allergen')).to_have_count(0)
    await expect(console.locator(f'[data-column="pass"] {ticket}')).to_be_visible()
    await expect(console.locator(f'[data-column="fryer"] {ticket}')).to_have_count(0)
    d.held.discard(order_id)
    await expect(console.locator(f'#finished {ticket}[data-status="served"]')).to_be_attached()
    await expect(console.locator(f'.columns {ticket}')).to_have_count(0)

    # Pausing a serving robot shows on the floor map once the robot itself reports it.
    await console.locator('[data-tab="fleet"]').click()
    robot = console.locator('#map [data-robot="serve3"]')
    await expect(robot).not_to_have_attribute('data-mode', 'offline')
    await console.locator('tr[data-robot="serve3"] [data-action="pause"]').click()
    await confirm(console)
    await expect(robot).to_have_attribute('data-mode', 'paused')
    assert await aredis.hget(keys.robot('serve3'), 'mode') == 'paused'
    await console.locator('tr[data-robot="serve3"] [data-action="resume"]').click()
    await confirm(console)
    await expect(robot).not_to_have_attribute('data-mode', 'paused')

    # A dish marked sold out greys out on a diner's page that is already open.
    diner = await (await browser.new_context(viewport={'width': 400, 'height': 800})).new_page()
    await diner.goto(f'{url}/t/{d.token("t02")}')
    dish = diner.locator('button.dish[data-dish="bingsu"]')
    await expect(dish).to_be_enabled()
    await console.locator('[data-tab="menu"]').click()
    await console.locator('li[data-dish="bingsu"] [data-action="sold-out"]').click()
    await confirm(console)
    await expect(console.locator('li[data-dish="bingsu"]')).to_have_class('dish soldout')
    await expect(dish).to_be_disabled()

    # Everything the operator did is in the audit trail the console shows.
    await console.locator('[data-tab="audit"]').click()
    for action in ('sign-in', 'robot.pause', 'robot.resume', 'dish.soldout'):
        await expect(console.locator('#audit td', has_text=action).first).to_be_visible()
