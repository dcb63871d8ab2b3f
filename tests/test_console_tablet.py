"""The console on a 10-inch tablet (1024x768 landscape, 768x1024 portrait, touch) in a real
headless Chromium, against `robodine serve` under uvicorn and a real redis-server: what an
operator reads (refusals, the Tables view) is legible, every control and the pass can be
reached without scrolling the page sideways, a price field left empty is refused rather than
sent as 0, every console shows a stopped fleet and an aisle closed on another's floor map, and
a robot in fault can be paused but not sent to its dock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.console.accounts import add_operator
from tests.api_helpers import uvicorn_server
from tests.browser_support import MIN_CONTRAST, confirm, contrast, sign_in
from tests.console_support import PASSWORD, robot_state

pytestmark = pytest.mark.browser

LANDSCAPE: ViewportSize = {'width': 1024, 'height': 768}
PORTRAIT: ViewportSize = {'width': 768, 'height': 1024}


@pytest.fixture
async def server_url(redis_url: str, aredis: Redis, tmp_path: Path) -> AsyncIterator[str]:
    await add_operator(aredis, 'boss', PASSWORD, 'manager')
    # Under traffic control, so that the operator may close aisles (re-route).
    with uvicorn_server(redis_url, tmp_path, {'ROBODINE_TRAFFIC_CONTROL': 'true'}) as server:
        yield server.url


async def console(browser: Browser, url: str, viewport: ViewportSize) -> Page:
    context = await browser.new_context(viewport=viewport, has_touch=True)
    page = await context.new_page()
    await page.goto(f'{url}/console')
    await sign_in(page, 'boss', PASSWORD)
    await expect(page.locator('#live')).to_have_text('live')
    return page


async def test_a_refusal_pops_up_legibly(browser: Browser, server_url: str) -> None:
    page = await console(browser, server_url, LANDSCAPE)
    await page.locator('[data-tab="tables"]').tap()
    await page.locator('[data-party-of="t04"]').fill('99')
    await page.locator('[data-action="seat"][data-table="t04"]').tap()
    await confirm(page)
    refusal = page.locator('.toast.error', has_text='Refused: party_size')
    await expect(refusal).to_be_visible()
    # It was red text on the red toast: every refusal and alert pop-up (the same toast) was
    # unreadable.
    assert await contrast(refusal) >= MIN_CONTRAST


async def test_the_tables_view_is_legible(browser: Browser, server_url: str) -> None:
    page = await console(browser, server_url, PORTRAIT)
    await page.locator('[data-tab="tables"]').tap()
    await page.locator('[data-party-of="t04"]').fill('3')
    await page.locator('[data-action="seat"][data-table="t04"]').tap()
    await confirm(page)
    seated = page.locator('.table-card[data-table="t04"]')
    await expect(seated).to_have_attribute('data-state', 'seated')
    await expect(seated).to_contain_text('party of 3')
    free = page.locator('.table-card[data-table="t05"]')
    # The cards were white with the console's light text on them.
    for text in (
        seated.locator('header b'),
        seated.locator('.state'),
        seated.locator('p').first,
        free.locator('header b'),
        free.locator('.state'),
        free.locator('p.muted'),
    ):
        assert await contrast(text) >= MIN_CONTRAST, await text.inner_text()


@pytest.mark.parametrize('viewport', [LANDSCAPE, PORTRAIT], ids=['landscape', 'portrait'])
async def test_every_robot_control_is_on_screen(
    browser: Browser, server_url: str, aredis: Redis, viewport: ViewportSize
) -> None:
    # Busy robots, as in a service: two dishes and a detail each.
    jobs = '["ounrb4yxho6-00-01", "ounrb4yxho6-00-00"]'
    for rid in ('wok1', 'wok2', 'grill1', 'noodle1', 'bar1', 'serve1', 'serve2', 'serve3'):
        await robot_state(aredis, rid, 'busy', jobs=jobs, detail='cooking 2/2, 0 queued')
    page = await console(browser, server_url, viewport)
    await page.locator('[data-tab="fleet"]').tap()
    buttons = page.locator('#robots button')
    # Pause for each robot, Dock for the serving ones.
    await expect(buttons).to_have_count(8 + 3)
    for i in range(await buttons.count()):
        box = await buttons.nth(i).bounding_box()
        assert box is not None and box['x'] + box['width'] <= viewport['width']
    assert await page.evaluate(
        'document.documentElement.scrollWidth <= document.documentElement.clientWidth'
    )


async def test_a_robot_in_fault_can_be_paused_not_docked(
    browser: Browser, server_url: str, aredis: Redis
) -> None:
    """A faulted robot's Pause was greyed out as for a robot out of reach: the operator could
    not stop its retries. Its Dock stays greyed out, as do an e-stopped robot's controls."""
    await robot_state(aredis, 'serve1', 'fault', detail='Nav2 aborted the goal to (6.00, 4.00)')
    await robot_state(aredis, 'serve2', 'estopped')
    page = await console(browser, server_url, LANDSCAPE)
    await page.locator('[data-tab="fleet"]').tap()
    faulted, stopped = (page.locator(f'tr[data-robot="{r}"]') for r in ('serve1', 'serve2'))
    await expect(faulted.locator('[data-action="dock"]')).to_be_disabled()
    for action in ('pause', 'dock'):
        await expect(stopped.locator(f'[data-action="{action}"]')).to_be_disabled()
    await faulted.locator('[data-action="pause"]').tap()
    await confirm(page)
    await expect(page.locator('.toast', has_text='pause sent to serve1')).to_be_visible()
    ((_, sent),) = await aredis.xrange(keys.CONTROL)
    assert (sent['command'], sent['robot_id']) == ('pause', 'serve1')


async def test_an_empty_price_is_refused_not_zero(
    browser: Browser, server_url: str, aredis: Redis
) -> None:
    page = await console(browser, server_url, LANDSCAPE)
    await page.locator('[data-tab="menu"]').tap()
    await page.locator('[data-price-of="fries"]').fill('')
    await page.locator('[data-action="price"][data-dish="fries"]').tap()
    await expect(page.locator('.toast.error', has_text='whole number')).to_be_visible()
    await expect(page.locator('#confirm')).not_to_be_visible()
    assert await aredis.get(keys.price('fries')) is None
    await expect(page.locator('li[data-dish="fries"] .price')).to_have_text('₩5,000')


async def test_every_console_shows_a_stopped_fleet(
    browser: Browser, server_url: str, aredis: Redis
) -> None:
    """STOP ALL's status was only on the console that pressed it, and gone on a reload: an
    operator elsewhere had no cue that the robots were stopped."""
    for robot_id in ('serve1', 'wok1'):
        await robot_state(aredis, robot_id, 'estopped')
    await robot_state(aredis, 'serve2', 'idle')
    for viewport in (LANDSCAPE, PORTRAIT):  # two operators' tablets
        page = await console(browser, server_url, viewport)
        status = page.locator('#estop-status')
        await expect(status).to_be_visible()
        await expect(status).to_have_text('E-STOPPED: 2/8 robots (wok1, serve1)')


@pytest.mark.parametrize('viewport', [LANDSCAPE, PORTRAIT], ids=['landscape', 'portrait'])
async def test_the_pass_column_stays_in_view(
    browser: Browser, server_url: str, viewport: ViewportSize
) -> None:
    """Seven 230 px columns: the pass, where food waits for a robot, was off screen."""
    page = await console(browser, server_url, viewport)
    box = await page.locator('.column[data-column="pass"]').bounding_box()
    assert box is not None and box['x'] >= 0 and box['x'] + box['width'] <= viewport['width']
    # Scrolled to the first station and to the last, it is still there.
    for left in (0, 10_000):
        await page.locator('#columns').evaluate('(el, x) => { el.scrollLeft = x; }', left)
        box = await page.locator('.column[data-column="pass"]').bounding_box()
        assert box is not None and box['x'] + box['width'] <= viewport['width'] + 1


async def test_an_aisle_closed_on_one_tablet_shows_on_every_map(
    browser: Browser, server_url: str
) -> None:
    """Re-route: tap the aisle into t01's lane on the floor map, close it; another operator's
    map draws it closed, lists it and names the tables it cuts off."""
    here = await console(browser, server_url, LANDSCAPE)
    there = await console(browser, server_url, PORTRAIT)
    for page in (here, there):
        await page.locator('[data-tab="fleet"]').tap()
    await here.locator('#map line[data-a="c5_5"][data-b="stop-t01"]').dispatch_event('click')
    close = here.locator('#closures [data-action="close"]')
    box = await close.bounding_box()
    assert box is not None and box['height'] >= 44 and box['x'] + box['width'] <= 1024
    await close.tap()
    await confirm(here)
    closed = there.locator('#map-closures .closed[data-closure="c5_5~stop-t01"]')
    await expect(closed).to_have_count(1)
    await expect(there.locator('#closed-list li[data-closure="c5_5~stop-t01"]')).to_contain_text(
        'aisle c5_5–stop-t01'
    )
    await expect(there.locator('#closures li.held[data-table="t05"]')).to_be_visible()
    # Reopened from the list on the other tablet: gone from both maps.
    await there.locator('#closed-list [data-action="reopen"]').tap()
    await confirm(there)
    await expect(here.locator('#map-closures .closed')).to_have_count(0)
