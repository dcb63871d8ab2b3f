"""Split and pay at the table in headless Chromium against a real uvicorn: two phones at one
table order, split the bill by item and each pay through the simulated provider's page; the
table closes by itself and the next scan shows an empty visit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from api_helpers import Server, eventually, token_for, uvicorn_server
from browser_support import CHROMIUM, chromium, sign_in
from playwright.async_api import Browser, Page, Route, expect
from redis.asyncio import Redis
from test_diner_browser import choose, phone

from orchestrator import redis_keys as keys
from orchestrator.console.accounts import add_operator
from orchestrator.store import orders, sessions

PASSWORD = 'correct-horse-battery'

pytestmark = pytest.mark.browser


@pytest.fixture
def server(redis_url: str, tmp_path: Path) -> Iterator[Server]:
    if not Path(CHROMIUM).exists():
        pytest.skip('chromium not installed')
    # Time scale 1000: the table closes 0.12 s after it is paid in full (120 simulated s).
    with uvicorn_server(redis_url, tmp_path, {'ROBODINE_TIME_SCALE': '1000'}) as s:
        yield s


@pytest.fixture
async def browser(server: Server) -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


async def order(page: Page, dish: str, options: dict[str, str], quantity: int = 1) -> None:
    await choose(page, dish, options, quantity)
    await page.get_by_test_id('cart-bar').click()
    await page.get_by_test_id('place-order').click()
    await expect(page.locator(f'li.order .items:has-text("×{quantity}")').first).to_be_visible()


async def pay_share(page: Page, label: str, amount: str) -> str:
    """Pay the share shown as `label` for `amount` through the simulated provider's page, and
    come back; its id."""
    shown = page.locator(f'li.share:has-text("{label}")')
    await expect(shown).to_contain_text(amount)
    share = await shown.get_attribute('data-share')
    assert share
    await page.locator(f'[data-testid=pay-share][data-share="{share}"]').click()
    await page.wait_for_url('**/pay/sim/**')
    await expect(page.get_by_test_id('sim-amount')).to_contain_text(amount)
    await page.get_by_test_id('approve').click()
    await page.wait_for_url('**/t/**#bill')
    await expect(page.locator(f'li.share[data-share="{share}"]')).to_have_attribute(
        'data-status', 'paid'
    )
    return share


async def test_two_phones_split_by_item_and_pay_then_the_table_is_free(
    server: Server, browser: Browser, aredis: Redis
) -> None:
    printed = f'{server.url}/t/{token_for("t07")}'
    console = await kitchen(browser, server, aredis)
    card = console.locator('.table-card[data-table="t07"]')
    await expect(card).to_have_attribute('data-state', 'free')
    ana, ben = await phone(browser, 'en-US'), await phone(browser, 'en-US')
    for p in (ana, ben):
        await p.goto(printed)
        assert '/t/' + token_for('t07') + '.1.' in p.url  # on this visit's code
    await order(ana, 'bulgogi', {'size': 'regular'})
    await order(ben, 'mandu', {}, quantity=2)
    await expect(card).to_have_attribute('data-state', 'seated')
    await expect(card).to_contain_text('2 orders')

    # Ana pays for her bulgogi only; the rest stays one share.
    await ana.get_by_test_id('tab-bill').click()
    await expect(ana.get_by_test_id('bill-total')).to_contain_text('32,000')
    await ana.get_by_test_id('split-items').click()
    await ana.locator('[data-claim]:has-text("Bulgogi") [data-testid=claim-plus]').click()
    await ana.get_by_test_id('claim-go').click()
    share = await pay_share(ana, 'My items', '18,000')
    await expect(ana.locator('#toast')).to_contain_text('Payment received')
    await expect(card).to_have_attribute('data-state', 'bill')
    await expect(card).to_contain_text('18,000 paid of ₩32,000')

    # Ben sees Ana's share paid and pays the rest (his two mandu).
    await ben.get_by_test_id('tab-bill').click()
    await expect(ben.locator(f'li.share[data-share="{share}"]')).to_have_attribute(
        'data-status', 'paid'
    )
    await pay_share(ben, 'The rest', '14,000')

    # Paid in full and fed (no dispatcher runs here: served by hand): the table closes by
    # itself; a new scan starts an empty visit.
    for order_id in await aredis.zrange(keys.table_orders('t07'), 0, -1):
        await orders.record(aredis, order_id, 'order.served', {}, status=orders.SERVED)
    await eventually(lambda: _closed(aredis), timeout=20)
    await expect(card).to_have_attribute('data-state', 'free')
    guest = await phone(browser, 'en-US')
    await guest.goto(printed)
    assert '/t/' + token_for('t07') + '.2.' in guest.url
    await guest.get_by_test_id('tab-bill').click()
    await expect(guest.locator('#bill-empty')).to_be_visible()
    await expect(guest.locator('#orders')).to_be_hidden()
    # Within the grace, Ana's phone still shows the paid bill (read-only).
    await ana.reload()
    await expect(ana.get_by_test_id('shares').locator('li.share')).to_have_count(2)
    await expect(ana.get_by_test_id('pay-share')).to_have_count(0)


async def test_the_bill_tab_answers_while_the_menu_is_still_loading(
    server: Server, browser: Browser
) -> None:
    # A diner taps "Bill" before the page has loaded its menu (a slow network; under load the
    # test above tapped it that early): the tab opened nothing, for good.
    page = await phone(browser, 'en-US')
    menu_asked = asyncio.Event()
    release = asyncio.Event()

    async def slow_menu(route: Route) -> None:
        menu_asked.set()
        await release.wait()
        await route.continue_()

    await page.route('**/api/menu', slow_menu)
    await page.goto(f'{server.url}/t/{token_for("t08")}')
    await asyncio.wait_for(menu_asked.wait(), 20)
    await page.get_by_test_id('tab-bill').click()
    await expect(page.locator('#tab-bill')).to_be_visible()
    release.set()
    await expect(page.locator('#bill-empty')).to_be_visible()


async def test_the_bill_total_lines_up_with_the_other_sums(
    server: Server, browser: Browser
) -> None:
    page = await phone(browser, 'en-US')
    await page.goto(f'{server.url}/t/{token_for("t09")}')
    await order(page, 'kungpao', {'spice': 'hot'})
    await page.get_by_test_id('tab-bill').click()
    total = page.get_by_test_id('bill-total')
    await expect(total).to_contain_text('14,500')
    # The cart's total (a flex box) once laid the bill's total row out as one too: its amount
    # sat mid-row, away from the subtotal's and the tax's.
    sub = await page.locator('#bill-sums tr:first-child td:last-child').bounding_box()
    box = await total.bounding_box()
    assert sub and box
    assert abs(sub['x'] + sub['width'] - (box['x'] + box['width'])) < 1


async def test_the_bill_names_options_and_uncharged_dishes_in_the_diners_language(
    server: Server, browser: Browser, aredis: Redis
) -> None:
    page = await phone(browser, 'zh-CN')
    await page.goto(f'{server.url}/t/{token_for("t10")}')
    await order(page, 'kungpao', {'spice': 'hot', 'size': 'large'}, quantity=2)
    oid = await page.locator('li.order').get_attribute('data-order')
    await aredis.hset(
        keys.job(f'{oid}-00-01'), 'status', 'withdrawn'
    )  # cancelled from the console
    await page.get_by_test_id('tab-bill').click()
    # Once the options' ids ('hot, large') and the reason in English.
    await expect(page.locator(f'[data-line="{oid}-0"]')).to_contain_text('特辣, 大份')
    await expect(page.locator(f'[data-line="{oid}-0-xwithdrawn"]')).to_contain_text(
        '特辣, 大份 · 不收费：已取消'
    )


async def kitchen(browser: Browser, server: Server, r: Redis) -> Page:
    """The console, signed in, on its Tables tab."""
    await add_operator(r, 'ana', PASSWORD)
    page = await (await browser.new_context(viewport={'width': 1280, 'height': 800})).new_page()
    await page.goto(f'{server.url}/console')
    await sign_in(page, 'ana', PASSWORD)
    await page.locator('[data-tab="tables"]').click()
    return page


async def _closed(r: Redis) -> bool:
    s = await sessions.current(r, 't07')
    return s is not None and s.status == sessions.CLOSED


async def test_a_korean_phone_puts_in_an_amount_and_pays_it(
    server: Server, browser: Browser
) -> None:
    """A diner puts in 10,000: a share of that amount, the rest what is left of the bill; more
    than is left cannot be asked for."""
    page = await phone(browser, 'ko-KR')
    await page.goto(f'{server.url}/t/{token_for("t09")}')
    await order(page, 'mandu', {}, quantity=2)
    await page.get_by_test_id('tab-bill').click()
    await expect(page.get_by_test_id('bill-total')).to_contain_text('14,000')
    await page.get_by_test_id('split-amount').click()
    await expect(page.locator('#put-in-hint')).to_contain_text('남은 금액 ₩14,000')
    go, amount = page.get_by_test_id('put-in-go'), page.get_by_test_id('put-in-amount')
    await amount.fill('15000')
    await expect(go).to_be_disabled()
    # Won have no fractions: 1000.5 was made a share of 1,001 won.
    await amount.fill('1000.5')
    await expect(go).to_be_disabled()
    await amount.fill('10000')
    await go.click()
    await expect(page.locator('li.share:has-text("나머지")')).to_contain_text('4,000')
    await pay_share(page, '정한 금액', '10,000')


async def test_an_order_cancelled_after_paying_shows_what_was_paid_too_much(
    server: Server, browser: Browser
) -> None:
    """A phone may cancel an order no robot has started, after the bill was paid: the bill
    says how much was paid too much, in the diner's language (the console says to refund)."""
    page = await phone(browser, 'en-US')
    page.on('dialog', lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.goto(f'{server.url}/t/{token_for("t10")}')
    await order(page, 'mandu', {}, quantity=2)
    await page.get_by_test_id('tab-bill').click()
    await pay_share(page, 'Everything', '14,000')
    await expect(page.get_by_test_id('overpaid')).to_be_hidden()
    await page.get_by_test_id('tab-menu').click()
    await page.get_by_test_id('cancel-order').click()
    await expect(page.locator('li.order')).to_have_attribute('data-status', 'cancelled')
    await page.get_by_test_id('tab-bill').click()
    await expect(page.get_by_test_id('overpaid')).to_have_text(
        '₩14,000 was paid too much: the staff will refund it.'
    )
