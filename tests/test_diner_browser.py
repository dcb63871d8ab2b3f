"""The diner page in headless Chromium against a real uvicorn: order, live status, languages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import Server, eventually, token_for, uvicorn_server
from browser_support import CHROMIUM, MIN_CONTRAST, chromium, contrast, word_break
from console_support import place_order
from playwright.async_api import APIResponse, Browser, Page, Route, expect
from redis.asyncio import Redis

from orchestrator import ids
from orchestrator import redis_keys as keys
from orchestrator.store import jobs, sessions
from orchestrator.store import menu as menu_store
from orchestrator.store import orders as timeline
from orchestrator.store.feed import now_ms

pytestmark = pytest.mark.browser


@pytest.fixture
def server(redis_url: str, tmp_path: Path) -> Iterator[Server]:
    if not Path(CHROMIUM).exists():
        pytest.skip('chromium not installed')
    with uvicorn_server(redis_url, tmp_path) as s:
        yield s


@pytest.fixture
async def browser(server: Server) -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


async def phone(browser: Browser, locale: str) -> Page:
    """A page on a phone-sized touch screen whose browser prefers `locale`."""
    context = await browser.new_context(
        viewport={'width': 390, 'height': 844}, has_touch=True, locale=locale
    )
    context.set_default_timeout(20_000)
    return await context.new_page()


@pytest.fixture
async def page(browser: Browser) -> Page:
    return await phone(browser, 'en-US')


async def fries_received(
    server: Server, browser: Browser, table: str
) -> tuple[dict[str, Any], Page]:
    """An order of fries at `table` and a Korean phone showing it received."""
    token = token_for(table)
    async with httpx.AsyncClient(base_url=server.url) as client:
        fries = await place_order(client, token, [{'dish_id': 'fries', 'quantity': 1}])
    page = await phone(browser, 'ko-KR')
    await page.goto(f'{server.url}/t/{token}')
    await expect(page.locator('li.order')).to_have_attribute('data-status', 'received')
    return fries, page


async def choose(page: Page, dish: str, options: dict[str, str], quantity: int = 1) -> None:
    await page.click(f'button.dish[data-dish="{dish}"]')
    sheet = page.get_by_test_id('dish-sheet')
    await expect(sheet).to_be_visible()
    for option, choice in options.items():
        await sheet.locator(f'input[data-option="{option}"][data-choice="{choice}"]').check()
    for _ in range(quantity - 1):
        await page.click('#qty-plus')
    await page.get_by_test_id('add-to-cart').click()
    await expect(sheet).to_be_hidden()


async def fill_cart(page: Page, reload: bool = False) -> None:
    """Two large hot Kung Pao and a milk tea in the cart (reloading the page in between), the
    cart open."""
    await choose(page, 'kungpao', {'spice': 'hot', 'size': 'large'}, quantity=2)
    await choose(page, 'milk-tea', {'ice': 'less'})
    if reload:
        await page.reload()
    await expect(page.locator('#cart-count')).to_have_text('3')
    await page.get_by_test_id('cart-bar').click()
    # 2 x (14000 + 500 + 2000) + 5500
    await expect(page.locator('#cart-sheet-total')).to_contain_text('38,500')


async def test_order_and_follow_it_live(server: Server, page: Page, aredis: Redis) -> None:
    await aredis.sadd(keys.SOLDOUT, 'galbi')
    await page.goto(f'{server.url}/t/{token_for("t06")}')
    await expect(page.locator('button.dish[data-dish="kungpao"]')).to_contain_text(
        'Kung Pao Chicken'
    )
    # Sold-out dishes are shown but cannot be chosen.
    await expect(page.locator('button.dish[data-dish="galbi"]')).to_be_disabled()

    await fill_cart(page)
    await page.get_by_test_id('place-order').click()

    card = page.locator('li.order')
    await expect(card).to_have_attribute('data-status', 'received')
    await expect(card.get_by_test_id('order-status')).to_have_text('Received')
    oid = await card.get_attribute('data-order')
    assert oid
    order = await aredis.hgetall(keys.order(oid))
    assert order['table_id'] == 't06' and order['total'] == '38500'
    assert await aredis.xlen(keys.cook_stream('wok')) == 2

    # Status changes written by "the kitchen" show up without reloading.
    await aredis.hset(keys.order(oid), 'jobs_cooked', 1)
    await timeline.record(aredis, oid, 'job.cooked', {}, status=timeline.COOKING)
    await expect(card.get_by_test_id('order-status')).to_have_text('Cooking 1/3')
    # The dispatcher's estimate of when the food reaches the table, counted down live.
    await timeline.set_etas(aredis, {oid: now_ms() + (9 * 60 + 10) * 1000})
    await expect(card.get_by_test_id('order-eta')).to_have_text('About 9 min to your table')
    # Nobody took it at the table: the food is back at the pass, no estimate is shown (it would
    # say "any moment" for good), and the diner may have it brought again.
    await aredis.hset(keys.order(oid), 'returned', 1)
    await timeline.record(aredis, oid, 'delivery.returned', {}, status=timeline.READY)
    await expect(card.get_by_test_id('order-status')).to_have_text(
        'Back at the kitchen — nobody took it'
    )
    await expect(card.get_by_test_id('order-eta')).to_have_count(0)
    await card.get_by_test_id('bring-again').click()
    await expect(card.get_by_test_id('order-status')).to_have_text('Ready — waiting for a robot')
    await expect(card.get_by_test_id('bring-again')).to_have_count(0)
    ((_, again),) = await aredis.xrange(keys.DELIVERIES)
    assert again['order_id'] == oid and again['by'] == 'diner'
    await aredis.hset(keys.order(oid), mapping={'robot_id': 'serve1', 'trip_id': 'trip-1'})
    await timeline.record(aredis, oid, 'robot.arrived', {}, status=timeline.ARRIVED)
    await expect(card).to_have_attribute('data-status', 'arrived')
    await expect(card.get_by_test_id('order-eta')).to_have_count(0)
    await card.get_by_test_id('picked-up').click()
    ((_, command),) = await eventually(lambda: aredis.xrange(keys.CONTROL))
    assert command['command'] == 'confirm_pickup' and command['order_id'] == oid
    await timeline.record(aredis, oid, 'order.served', {}, status=timeline.SERVED)
    await expect(card).to_have_attribute('data-status', 'served')

    await page.get_by_test_id('lang-zh').click()
    await expect(page.locator('button.dish[data-dish="kungpao"]')).to_contain_text('宫保鸡丁')
    await expect(card.get_by_test_id('order-status')).to_have_text('已上菜')


async def test_a_slow_menu_answer_never_hides_a_newer_change(
    server: Server, page: Page, aredis: Redis
) -> None:
    """Two changes close together: the page's reload for the first is answered after the one
    for the second (seen under load as an 86'd dish staying orderable for good)."""
    held: list[tuple[Route, APIResponse]] = []
    hold = asyncio.Event()

    async def menu(route: Route) -> None:
        answer = await route.fetch()  # the menu as the server has it now
        if hold.is_set():
            hold.clear()
            held.append((route, answer))
        else:
            await route.fulfill(response=answer)

    await page.route('**/api/menu', menu)
    await page.goto(f'{server.url}/t/{token_for("t03")}')
    galbi = page.locator('button.dish[data-dish="galbi"]')
    await expect(galbi).to_be_enabled()
    hold.set()
    await menu_store.set_soldout(aredis, 'mandu', True, 'op:kim')

    async def stale_one_held() -> bool:
        return bool(held)

    await eventually(stale_one_held)
    await menu_store.set_soldout(aredis, 'galbi', True, 'op:kim')
    await expect(galbi).to_be_disabled()
    # The answer read before galbi was 86'd arrives last: the page keeps the newer menu.
    ((route, stale),) = held
    async with page.expect_response('**/api/menu'):
        await route.fulfill(response=stale)
    for _ in range(10):
        assert await galbi.is_disabled()
        await asyncio.sleep(0.1)
    await expect(page.locator('button.dish[data-dish="mandu"]')).to_be_disabled()


async def test_a_slow_order_answer_never_takes_its_status_back(
    server: Server, page: Page, aredis: Redis
) -> None:
    token = token_for('t04')
    async with httpx.AsyncClient(base_url=server.url) as client:
        oid = (await place_order(client, token, [{'dish_id': 'kungpao', 'quantity': 1}]))['id']
    held: list[tuple[Route, APIResponse]] = []

    async def first_list_held(route: Route) -> None:
        answer = await route.fetch()  # the order as it is now: received
        if held:
            await route.fulfill(response=answer)
        else:
            held.append((route, answer))

    await page.route(lambda url: url.endswith('/orders'), first_list_held)
    await page.goto(f'{server.url}/t/{token}')
    card = page.locator(f'li.order[data-order="{oid}"]')
    # The page's first read of its orders is answered only after the robot has arrived; the
    # live stream tells each change meanwhile.
    await expect(card).to_have_attribute('data-status', 'received')

    async def stale_one_held() -> bool:
        return bool(held)

    await eventually(stale_one_held)
    await timeline.record(aredis, oid, 'job.started', {}, status=timeline.COOKING)
    await timeline.record(aredis, oid, 'robot.arrived', {}, status=timeline.ARRIVED)
    await expect(card).to_have_attribute('data-status', 'arrived')
    ((route, stale),) = held
    async with page.expect_response(lambda res: res.url.endswith('/orders')):
        await route.fulfill(response=stale)
    for _ in range(10):
        assert await card.get_attribute('data-status') == 'arrived'
        await asyncio.sleep(0.1)


async def test_a_phone_sees_at_once_what_another_phone_of_the_table_orders(
    server: Server, browser: Browser, aredis: Redis
) -> None:
    """Two phones at one table: an order placed on one shows on the other, and then its
    changes, from the visit's live stream (the other phone's poll is refused after its first
    read, so it cannot be what shows them)."""
    token = token_for('t07')
    watching, ordering = await phone(browser, 'en-US'), await phone(browser, 'en-US')
    reads = 0

    async def only_the_first_read(route: Route) -> None:
        nonlocal reads
        reads += 1
        await (route.continue_() if reads == 1 else route.abort())

    await watching.route(lambda url: url.endswith('/orders'), only_the_first_read)
    await watching.goto(f'{server.url}/t/{token}')
    await expect(watching.locator('button.dish[data-dish="kungpao"]')).to_be_enabled()
    await ordering.goto(f'{server.url}/t/{token}')
    await fill_cart(ordering)
    await ordering.get_by_test_id('place-order').click()
    oid = await ordering.locator('li.order').get_attribute('data-order')
    assert oid
    card = watching.locator(f'li.order[data-order="{oid}"]')
    await expect(card).to_have_attribute('data-status', 'received')
    await aredis.hset(keys.order(oid), 'jobs_cooked', 1)
    await timeline.record(aredis, oid, 'job.cooked', {}, status=timeline.COOKING)
    await expect(card.get_by_test_id('order-status')).to_have_text('Cooking 1/3')
    assert reads == 1


async def test_an_order_no_robot_has_started_is_cancelled_from_the_phone(
    server: Server, browser: Browser, aredis: Redis
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        first = await place_order(client, token_for('t03'), [{'dish_id': 'fries', 'quantity': 1}])
        later = await place_order(client, token_for('t03'), [{'dish_id': 'mandu', 'quantity': 1}])
    page = await phone(browser, 'ko-KR')
    page.on('dialog', lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.goto(f'{server.url}/t/{token_for("t03")}')
    card = page.locator(f'li.order[data-order="{first["id"]}"]')
    await card.get_by_test_id('cancel-order').click()
    await expect(page.locator('#toast')).to_have_text('주문을 취소했어요')
    await expect(card).to_have_attribute('data-status', 'cancelled')
    await expect(card.get_by_test_id('order-status')).to_have_text('취소됨')
    await expect(card.get_by_test_id('cancel-order')).to_have_count(0)
    assert await aredis.hget(keys.job(ids.job_id(first['id'], 0, 0)), 'status') == 'withdrawn'

    # A robot took the other one meanwhile: refused, in the diner's language.
    assert isinstance(
        await jobs.claim(aredis, ids.job_id(later['id'], 0, 0), 'd', 'wok2', 5), jobs.Claim
    )
    card = page.locator(f'li.order[data-order="{later["id"]}"]')
    await card.get_by_test_id('cancel-order').click()
    await expect(page.locator('#toast')).to_have_text(
        '이미 조리를 시작했어요. 직원에게 문의해 주세요.'
    )
    await expect(card).to_have_attribute('data-status', 'received')


async def test_refusals_are_told_in_the_diners_language(
    server: Server, browser: Browser, aredis: Redis
) -> None:
    """The API's details are English; the page shows what it knows by reason."""
    page = await phone(browser, 'zh-CN')
    # The page does not hear of the 86 (it would refuse the line itself): the server does.
    await page.route('**/api/menu/events', lambda route: route.abort())
    await page.goto(f'{server.url}/t/{token_for("t08")}')
    await choose(page, 'kungpao', {'spice': 'hot', 'size': 'large'})
    await aredis.sadd(keys.SOLDOUT, 'kungpao')  # sold out while it sat in the cart
    await page.get_by_test_id('cart-bar').click()
    await page.get_by_test_id('place-order').click()
    toast = page.locator('#toast')
    await expect(toast).to_have_text('抱歉，宫保鸡丁刚刚售罄。')
    # The menu read again after the refusal drops the line without a second notice over it.
    await expect(page.locator('#cart-count')).to_have_text('0')
    await expect(toast).to_have_text('抱歉，宫保鸡丁刚刚售罄。')
    await page.keyboard.press('Escape')
    for expected in ('服务员马上就来。', '刚刚已经呼叫了服务员，正在赶来。请稍后再呼叫。'):
        await page.get_by_test_id('call-staff').click()
        await page.click('button.reason[data-reason="water"]')
        await expect(toast).to_contain_text(expected)
    # The table's phones have set the party's size as often as a minute allows.
    key = keys.party_sizes('t08')
    await aredis.set(key, sessions.PARTY_SIZES_PER_MINUTE, px=60_000)
    await page.locator('#party [data-party="2"]').click()
    await expect(toast).to_have_text('这张桌子刚才多次修改了用餐人数，请稍等片刻再试。')


async def test_the_cart_outlives_a_reload_until_it_is_ordered(
    server: Server, page: Page, aredis: Redis
) -> None:
    """A phone drops a page it put in the background: the diner came back to an empty cart."""
    await page.goto(f'{server.url}/t/{token_for("t09")}')
    await fill_cart(page, reload=True)
    await page.get_by_test_id('place-order').click()
    card = page.locator('li.order')
    await expect(card).to_have_attribute('data-status', 'received')
    oid = await card.get_attribute('data-order')
    assert oid and (await aredis.hgetall(keys.order(oid)))['total'] == '38500'
    await page.reload()
    await expect(page.locator('li.order')).to_have_count(1)
    await expect(page.get_by_test_id('cart-bar')).to_be_hidden()


async def test_accept_language_picks_korean_and_bad_codes_are_refused(
    server: Server, browser: Browser
) -> None:
    page = await phone(browser, 'ko-KR')
    await page.goto(f'{server.url}/t/{token_for("t01")}')
    await expect(page.locator('button.dish[data-dish="bulgogi"]')).to_contain_text('불고기')
    await expect(page.get_by_test_id('lang-ko')).to_have_attribute('aria-pressed', 'true')
    await expect(page.locator('#table-name')).to_have_text('1번 테이블')
    # Korean breaks between words, not inside one; Chinese still between characters.
    assert await word_break(page) == 'keep-all'
    await page.get_by_test_id('lang-zh').click()
    assert await word_break(page) == 'normal'
    await expect(page.locator('#table-name')).to_have_text('1号桌')  # the table's too
    res = await page.goto(f'{server.url}/t/{token_for("t01")[:-2]}xx')
    assert res is not None and res.status == 401
    await expect(page.get_by_test_id('token-error')).to_have_text(
        '유효하지 않은 코드예요. 테이블의 QR 코드를 다시 스캔해 주세요.'
    )


async def test_the_header_keeps_its_buttons_whole_and_the_categories_in_view(
    server: Server, browser: Browser
) -> None:
    # In English the restaurant's name takes two lines: the language buttons were squeezed to
    # a glyph a line, and the category bar, stuck at a fixed offset, slid under the header.
    page = await phone(browser, 'en-US')
    await page.goto(f'{server.url}/t/{token_for("t02")}')
    await expect(page.locator('button.dish[data-dish="udon"]')).to_be_visible()
    # One line each, like "Call staff": the line boxes of each button's text (not its height,
    # which a CJK font's taller line gives every button of the row).
    lines = await page.locator('.langs button, [data-testid=call-staff]').evaluate_all(
        """buttons => buttons.map((b) => {
          const range = document.createRange();
          range.selectNodeContents(b);
          return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
        })"""
    )
    assert lines == [1, 1, 1, 1]
    await page.locator('button.dish[data-dish="udon"]').scroll_into_view_if_needed()
    await page.evaluate('window.scrollBy(0, 400)')
    header = await page.locator('header.top').bounding_box()
    categories = await page.locator('#categories').bounding_box()
    assert header and categories
    assert categories['y'] >= header['y'] + header['height'] - 1


async def test_the_orders_scrolled_to_are_not_under_the_header(
    server: Server, browser: Browser
) -> None:
    """Placing an order (and a robot arriving) scrolls to the orders: they stopped under the
    sticky header, which hid the newest order's status."""
    page = await phone(browser, 'ko-KR')
    await page.goto(f'{server.url}/t/{token_for("t10")}')
    await fill_cart(page)
    await page.get_by_test_id('place-order').click()
    await expect(page.locator('li.order')).to_have_count(1)

    async def scrolled_to_the_orders() -> bool:
        # The smooth scroll has reached the orders and stopped.
        before = await page.evaluate('window.scrollY')
        await asyncio.sleep(0.3)
        return before > 0 and before == await page.evaluate('window.scrollY')

    await eventually(scrolled_to_the_orders)
    header = await page.locator('header.top').bounding_box()
    title = await page.locator('#orders h2').bounding_box()
    assert header and title
    assert title['y'] >= header['y'] + header['height'] - 1


async def test_what_another_phone_did_first_is_told_in_the_diners_language(
    server: Server, browser: Browser, aredis: Redis
) -> None:
    """Two phones at a table both press "I have my food" (or cancel): the one that is second
    was told the API's English ("order is already served") and kept its stale button."""
    token = token_for('t11')
    async with httpx.AsyncClient(base_url=server.url) as client:
        ate = await place_order(client, token, [{'dish_id': 'fries', 'quantity': 1}])
        kept = await place_order(client, token, [{'dish_id': 'mandu', 'quantity': 1}])
    await aredis.hset(keys.order(ate['id']), mapping={'robot_id': 'serve1', 'trip_id': 'trip-1'})
    await timeline.record(aredis, ate['id'], 'robot.arrived', {}, status=timeline.ARRIVED)
    page = await phone(browser, 'ko-KR')
    page.on('dialog', lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.goto(f'{server.url}/t/{token}')
    toast = page.locator('#toast')

    async def first_elsewhere(order_id: str, action: str, status: str) -> None:
        """The other phone's press goes through just before this one's reaches the server
        (set before the tap, a refresh of the page could take the button away first)."""

        async def then_ours(route: Route) -> None:
            await aredis.hset(keys.order(order_id), 'status', status)
            await route.continue_()

        await page.route(f'**/orders/{order_id}/{action}', then_ours)

    arrived = page.locator(f'li.order[data-order="{ate["id"]}"]')
    await expect(arrived.get_by_test_id('picked-up')).to_be_visible()
    await first_elsewhere(ate['id'], 'pickup', timeline.SERVED)
    await arrived.get_by_test_id('picked-up').click()
    await expect(toast).to_have_text(
        '로봇이 더 이상 이 주문을 들고 테이블에서 기다리고 있지 않아요.'
    )
    await expect(arrived).to_have_attribute('data-status', 'served')
    await expect(arrived.get_by_test_id('picked-up')).to_have_count(0)
    received = page.locator(f'li.order[data-order="{kept["id"]}"]')
    await first_elsewhere(kept['id'], 'cancel', timeline.CANCELLED)
    await received.get_by_test_id('cancel-order').click()
    await expect(toast).to_have_text('이 주문은 이미 취소되었거나 서빙되었어요.')
    await expect(received).to_have_attribute('data-status', 'cancelled')


async def test_every_control_is_named_in_the_diners_language(
    server: Server, browser: Browser
) -> None:
    """A screen reader read the sheets' close buttons as "times", the quantity steppers as
    "minus" and "plus" (the cart's + not at all) and the landmarks in English on a Korean page."""
    token = token_for('t12')
    async with httpx.AsyncClient(base_url=server.url) as client:
        await place_order(client, token, [{'dish_id': 'fries', 'quantity': 2}])
    page = await phone(browser, 'ko-KR')
    await page.goto(f'{server.url}/t/{token}')
    await expect(page.get_by_role('navigation', name='언어')).to_be_visible()
    await expect(page.get_by_role('navigation', name='메뉴 분류')).to_be_visible()
    tabs = page.get_by_role('tablist', name='메뉴와 계산서')
    await expect(tabs.get_by_role('tab', name='메뉴', selected=True)).to_be_visible()

    await page.click('button.dish[data-dish="kungpao"]')
    sheet = page.get_by_role('dialog', name='궁보계정')
    await expect(sheet.get_by_role('group', name='수량')).to_be_visible()
    await sheet.get_by_role('button', name='궁보계정 하나 더').click()
    await expect(sheet.locator('#qty')).to_have_text('2')
    await sheet.get_by_role('button', name='궁보계정 하나 빼기').click()
    await expect(sheet.locator('#qty')).to_have_text('1')
    await sheet.get_by_test_id('add-to-cart').click()
    await page.get_by_test_id('cart-bar').click()
    cart = page.get_by_role('dialog', name='장바구니')
    await cart.get_by_role('button', name='궁보계정 하나 더').click()
    await cart.get_by_role('button', name='궁보계정 하나 빼기').click()
    await expect(cart.get_by_role('button', name='삭제')).to_be_visible()
    await cart.get_by_role('button', name='닫기').click()
    await expect(cart).to_be_hidden()

    await page.get_by_role('tab', name='계산서').click()
    await expect(tabs.get_by_role('tab', name='계산서', selected=True)).to_be_visible()
    await expect(page.get_by_role('tabpanel', name='계산서')).to_be_visible()
    await expect(page.get_by_role('combobox', name='나눌 인원')).to_be_visible()
    await page.get_by_test_id('split-items').click()
    await page.get_by_role('button', name='감자튀김 하나 더').click()
    await expect(page.locator('[data-claim] output')).to_have_text('1')
    await page.get_by_role('button', name='감자튀김 하나 빼기').click()
    await expect(page.locator('[data-claim] output')).to_have_text('0')


async def test_the_options_picker_works_by_keyboard(server: Server, page: Page) -> None:
    """Enter on a chosen option submitted the sheet's form with its first submit button, the
    close button: the sheet shut and the dish was not added."""
    await page.goto(f'{server.url}/t/{token_for("t13")}')
    dish = page.locator('button.dish[data-dish="kungpao"]')
    await dish.focus()
    await page.keyboard.press('Enter')
    sheet = page.get_by_test_id('dish-sheet')
    await expect(sheet).to_be_visible()
    await sheet.locator('input[data-option="spice"][data-choice="medium"]').focus()
    await page.keyboard.press('ArrowDown')
    await expect(sheet.locator('input[data-choice="hot"]')).to_be_checked()
    await page.keyboard.press('Enter')
    await expect(sheet).to_be_hidden()
    await expect(page.locator('#cart-count')).to_have_text('1')
    await expect(dish).to_be_focused()
    await page.get_by_test_id('cart-bar').focus()
    await page.keyboard.press('Enter')
    cart = page.get_by_test_id('cart-sheet')
    await expect(cart.locator('.cart-line')).to_contain_text('Hot')
    await page.keyboard.press('Escape')
    await expect(cart).to_be_hidden()
    await expect(page.get_by_test_id('cart-bar')).to_be_focused()


async def test_a_status_change_is_announced(
    server: Server, browser: Browser, aredis: Redis
) -> None:
    """The order cards are redrawn whole on each change: a screen reader heard nothing when the
    robot reached the table."""
    fries, page = await fries_received(server, browser, 't14')
    news = page.get_by_role('status').and_(page.get_by_test_id('order-news'))
    await expect(news).to_have_text('')  # what the page opened with is not news
    await aredis.hset(keys.order(fries['id']), mapping={'robot_id': 'serve1', 'trip_id': 'trip-1'})
    await timeline.record(aredis, fries['id'], 'robot.arrived', {}, status=timeline.ARRIVED)
    await expect(news).to_have_text('감자튀김 ×1: 도착했어요 — 음식을 가져가세요')


async def test_offline_for_a_moment_is_told_and_orders_once(
    server: Server, browser: Browser, aredis: Redis
) -> None:
    """Without network the page told the diner fetch's own English ("Failed to fetch"); an
    order whose answer was lost is sent again under the same key and placed once."""
    page = await phone(browser, 'ko-KR')
    token = token_for('t15')
    await page.goto(f'{server.url}/t/{token}')
    await expect(page.locator('body')).to_have_attribute('data-ready', 'true')
    toast = page.locator('#toast')
    await page.context.set_offline(True)
    await page.get_by_test_id('call-staff').click()
    await page.click('button.reason[data-reason="water"]')
    await expect(toast).to_have_text('연결이 불안정합니다. 다시 시도해 주세요.')
    await page.context.set_offline(False)

    lost: list[Route] = []

    async def answer_lost(route: Route) -> None:
        if lost or route.request.method != 'POST':
            await route.continue_()
            return
        lost.append(route)
        await route.fetch()  # the server takes the order; the phone loses the answer
        await route.abort('internetdisconnected')

    await page.route('**/orders', answer_lost)
    await choose(page, 'fries', {})
    await page.get_by_test_id('cart-bar').click()
    await page.get_by_test_id('place-order').click()
    await expect(toast).to_have_text('연결이 불안정합니다. 다시 시도해 주세요.')
    await page.get_by_test_id('place-order').click()
    await expect(page.locator('li.order')).to_have_count(1)
    await expect(page.get_by_test_id('cart-bar')).to_be_hidden()
    assert await aredis.xlen(keys.cook_stream('fryer')) == 1


async def test_status_chips_allergens_and_sold_out_are_readable(
    server: Server, page: Page, aredis: Redis
) -> None:
    """WCAG AA from the CSS: a sold-out dish's "Sold out" was drawn at 45 % opacity (1.8:1),
    the arrived badge faded to 2.3:1 at every beat and the grey dishes on the arrived card were
    4.3:1 on its tint."""
    token = token_for('t16')
    async with httpx.AsyncClient(base_url=server.url) as client:
        await place_order(client, token, [{'dish_id': 'mandu', 'quantity': 1}])
        fries = await place_order(client, token, [{'dish_id': 'fries', 'quantity': 1}])
    await aredis.hset(keys.order(fries['id']), mapping={'robot_id': 'serve1', 'trip_id': 'trip-1'})
    await timeline.record(aredis, fries['id'], 'robot.arrived', {}, status=timeline.ARRIVED)
    await menu_store.set_soldout(aredis, 'galbi', True, 'op:kim')
    await page.goto(f'{server.url}/t/{token}')
    galbi = page.locator('button.dish[data-dish="galbi"]')
    await expect(galbi).to_contain_text('Sold out')
    await expect(page.locator('li.order[data-status="arrived"]')).to_be_visible()
    # Every animation at its midpoint: the pulse's faintest.
    await page.evaluate(
        'document.getAnimations().forEach((a) => { a.pause(); a.currentTime = 600; })'
    )
    texts = page.locator(
        'button.dish[data-dish="galbi"] > span, .allergen-tags, li.order .badge, '
        'li.order .items, li.order .price, [role=tab]'
    )
    assert await texts.count() > 20
    for text in await texts.all():
        assert await contrast(text) >= MIN_CONTRAST, await text.inner_text()


# Whether some scroll position shows the element whole: its top and bottom edges on the screen
# and under nothing else (a sticky header, the cart bar). Scrolled to (which scrolls a sheet),
# then the page scrolled through the screen's height above it.
UNCOVERED_JS = """el => {
  const whole = () => {
    const r = el.getBoundingClientRect();
    const x = r.x + r.width / 2;
    return [r.top + 2, r.bottom - 2].every((y) => el.contains(document.elementFromPoint(x, y)));
  };
  el.scrollIntoView({ block: 'center' });
  const top = el.getBoundingClientRect().top + scrollY;
  for (let y = top - innerHeight; !whole() && y <= top; y += 4) scrollTo(0, y);
  return whole();
}"""


@pytest.mark.parametrize(
    ('width', 'height', 'locale'),
    [(320, 568, 'en-US'), (360, 640, 'ko-KR'), (640, 360, 'zh-CN')],
    ids=['320', '360', 'landscape'],
)
async def test_every_dish_and_pay_button_is_reachable_with_text_at_200_percent(
    server: Server, browser: Browser, width: int, height: int, locale: str
) -> None:
    """The browser's text at 200 % on a small phone: the sticky header took half the screen and
    the cart bar, taller than the room kept for it, covered the last dishes for good; the
    stepper's − and + spilled out of their circles; the bill's sums and shares were wider than
    the screen, their amounts cut off."""
    token = token_for('t05')
    async with httpx.AsyncClient(base_url=server.url) as client:
        await place_order(client, token, [{'dish_id': 'fries', 'quantity': 2}])
    context = await browser.new_context(
        viewport={'width': width, 'height': height}, has_touch=True, locale=locale
    )
    page = await context.new_page()
    await page.goto(f'{server.url}/t/{token}')
    await expect(page.locator('body')).to_have_attribute('data-ready', 'true')
    # What the browser's text size setting does: rem (every font size here) is twice as large.
    await page.add_style_tag(content='html { font-size: 200% }')
    await page.locator('button.dish[data-dish="fries"]').click()
    await page.get_by_test_id('add-to-cart').click()
    dishes = await page.locator('button.dish:enabled').all()
    assert len(dishes) > 20
    for target in [*dishes, page.get_by_test_id('lang-zh'), page.get_by_test_id('call-staff')]:
        assert await target.evaluate(UNCOVERED_JS), await target.inner_text()
    assert await page.evaluate('document.documentElement.scrollWidth') <= width
    await page.get_by_test_id('cart-bar').click()
    cart = page.get_by_test_id('cart-sheet')
    for target in await cart.locator('button').all():
        assert await target.evaluate(UNCOVERED_JS), await target.inner_text()
    # The − and + inside their circles (they spilled out of fixed-size ones over the price).
    for target in await cart.locator('.qty button').all():
        assert await target.evaluate(
            'el => el.scrollWidth <= el.clientWidth && el.scrollHeight <= el.clientHeight'
        ), await target.inner_text()
    await page.keyboard.press('Escape')
    await page.get_by_test_id('tab-bill').click()
    pay = page.get_by_test_id('pay-share')
    await expect(pay).to_be_visible()
    assert await pay.evaluate(UNCOVERED_JS)
    assert await page.evaluate('document.documentElement.scrollWidth') <= width


async def test_offline_is_shown_and_the_status_recovers(
    server: Server, browser: Browser, aredis: Redis
) -> None:
    """Without network the page said nothing and showed the last statuses as if live."""
    fries, page = await fries_received(server, browser, 't06')
    card = page.locator('li.order')
    offline = page.get_by_role('status').and_(page.get_by_test_id('offline'))
    await expect(offline).to_be_hidden()
    await page.context.set_offline(True)
    await expect(offline).to_have_text(
        '인터넷 연결이 끊겼어요. 다시 연결되면 주문 상태가 업데이트돼요.'
    )
    assert await contrast(offline) >= MIN_CONTRAST
    await aredis.hset(keys.order(fries['id']), mapping={'robot_id': 'serve1', 'trip_id': 'trip-1'})
    await timeline.record(aredis, fries['id'], 'robot.arrived', {}, status=timeline.ARRIVED)
    await page.context.set_offline(False)
    await expect(offline).to_be_hidden()
    await expect(card).to_have_attribute('data-status', 'arrived')


async def test_focus_lands_on_the_orders_after_ordering(server: Server, page: Page) -> None:
    """Ordering closed the cart and hid the cart bar that focus went back to: a keyboard or
    screen reader user was left nowhere (on the page's body)."""
    await page.goto(f'{server.url}/t/{token_for("t07")}')
    await choose(page, 'fries', {})
    await page.get_by_test_id('cart-bar').focus()
    await page.keyboard.press('Enter')
    await page.get_by_test_id('place-order').focus()
    await page.keyboard.press('Enter')
    await expect(page.locator('li.order')).to_have_count(1)
    await expect(page.get_by_role('heading', name='Your orders')).to_be_focused()
    await page.keyboard.press('Tab')
    await expect(page.locator('li.order').get_by_test_id('cancel-order')).to_be_focused()


async def test_notices_come_from_a_live_region_already_on_the_page(
    server: Server, page: Page
) -> None:
    """The notices' live region was hidden until a notice: one that appears with its news is
    not always read out, so "Order received" or a refusal could go unheard."""
    await page.goto(f'{server.url}/t/{token_for("t08")}')
    await expect(page.locator('body')).to_have_attribute('data-ready', 'true')
    notices = page.get_by_role('status').and_(page.locator('#toast'))
    await expect(notices).to_have_count(1)
    await expect(notices).to_have_text('')
    await page.get_by_test_id('call-staff').click()
    await page.click('button.reason[data-reason="water"]')
    await expect(notices).to_have_text('Staff are on their way.')
    await expect(notices).to_have_text('')  # gone after a while, the region stays
    await expect(notices).to_have_count(1)


async def test_focus_returns_to_the_dish_after_the_menu_was_redrawn(
    server: Server, page: Page, aredis: Redis
) -> None:
    """A dish 86'd while a diner's sheet was open redraws the menu: closing the sheet gave
    focus back to the replaced button, and it fell to the page's body."""
    await page.goto(f'{server.url}/t/{token_for("t09")}')
    dish = page.locator('button.dish[data-dish="kungpao"]')
    await dish.focus()
    await page.keyboard.press('Enter')
    await expect(page.get_by_test_id('dish-sheet')).to_be_visible()
    await menu_store.set_soldout(aredis, 'mandu', True, 'op:kim')
    await expect(page.locator('button.dish[data-dish="mandu"]')).to_be_disabled()
    await page.keyboard.press('Escape')
    await expect(page.get_by_test_id('dish-sheet')).to_be_hidden()
    await expect(dish).to_be_focused()


async def test_the_tabs_work_as_a_tablist_by_keyboard(server: Server, page: Page) -> None:
    """Announced as tabs, Menu and Bill did not answer the arrow keys a tablist does and were
    two Tab stops."""
    await page.goto(f'{server.url}/t/{token_for("t10")}')
    await expect(page.locator('body')).to_have_attribute('data-ready', 'true')
    menu, bill = page.get_by_role('tab', name='Menu'), page.get_by_role('tab', name='Bill')
    await menu.focus()
    await page.keyboard.press('ArrowRight')
    await expect(bill).to_be_focused()
    await expect(bill).to_have_attribute('aria-selected', 'true')
    await expect(page.get_by_test_id('bill')).to_be_visible()
    await page.keyboard.press('ArrowRight')  # round to the first
    await expect(menu).to_be_focused()
    await expect(page.get_by_test_id('bill')).to_be_hidden()
    await page.keyboard.press('End')
    await expect(bill).to_be_focused()
    await page.keyboard.press('Home')
    await expect(menu).to_be_focused()
    await page.keyboard.press('Tab')
    await expect(bill).not_to_be_focused()
    await page.keyboard.press('Shift+Tab')
    await expect(menu).to_be_focused()


async def test_a_menu_lost_on_the_way_is_read_again(server: Server, page: Page) -> None:
    """The network dropped the page's first read of the menu (or of its texts): the page
    stayed at "Loading the menu…" until the diner thought to reload it."""
    dropped: list[str] = []

    async def drop_first(route: Route) -> None:
        if route.request.url in dropped:
            await route.continue_()
            return
        dropped.append(route.request.url)
        await route.abort('internetdisconnected')

    await page.route('**/static/i18n.json', drop_first)
    await page.route('**/api/menu', drop_first)
    await page.goto(f'{server.url}/t/{token_for("t11")}')
    await expect(page.locator('button.dish[data-dish="kungpao"]')).to_contain_text(
        'Kung Pao Chicken'
    )
    assert len(dropped) == 2


async def test_a_notice_does_not_cover_the_cart_bar_with_text_at_200_percent(
    server: Server, browser: Browser
) -> None:
    """Notices sat a fixed 96 px above the bottom: with large text the cart bar is taller than
    that, and "Staff are on their way" covered it."""
    context = await browser.new_context(
        viewport={'width': 360, 'height': 640}, has_touch=True, locale='ko-KR'
    )
    page = await context.new_page()
    await page.goto(f'{server.url}/t/{token_for("t12")}')
    await expect(page.locator('body')).to_have_attribute('data-ready', 'true')
    await page.add_style_tag(content='html { font-size: 200% }')
    await choose(page, 'fries', {})
    await page.get_by_test_id('call-staff').click()
    await page.click('button.reason[data-reason="water"]')
    toast = page.locator('#toast')
    await expect(toast).to_have_text('직원을 불렀어요. 곧 갈게요.')
    notice = await toast.bounding_box()
    bar = await page.get_by_test_id('cart-bar').bounding_box()
    assert notice and bar
    assert notice['y'] + notice['height'] <= bar['y']


async def test_the_scroll_to_the_orders_jumps_when_motion_is_reduced(
    server: Server, browser: Browser
) -> None:
    """A diner whose phone asks for reduced motion still had the page glide to the orders
    after ordering (and when a robot arrives)."""
    context = await browser.new_context(
        viewport={'width': 390, 'height': 844}, locale='en-US', reduced_motion='reduce'
    )
    page = await context.new_page()
    await page.goto(f'{server.url}/t/{token_for("t13")}')
    # Ready: the party-size question is in place above the menu (it moved the page under a
    # scroll that had begun: two scroll events beside a CPU hog).
    await expect(page.locator('body')).to_have_attribute('data-ready', 'true')
    await choose(page, 'mochi', {})
    await page.get_by_test_id('cart-bar').click()
    await page.evaluate("window.scrolls = []; addEventListener('scroll', () => scrolls.push(1))")
    await page.get_by_test_id('place-order').click()
    await expect(page.locator('li.order')).to_have_count(1)
    await expect(page.locator('#orders-title')).to_be_in_viewport()
    await expect(page.locator('#orders-title')).to_be_focused()
    assert await page.evaluate('scrolls.length') == 1  # one jump, no glide


async def test_the_party_is_asked_its_size_once_a_visit(
    server: Server, browser: Browser, page: Page, aredis: Redis
) -> None:
    """Above the menu, never in its way: the diner orders with the question open, answers
    it (one of the table's 4 seats), and no phone of the visit is asked again; on a Korean
    phone at another table it is asked in Korean and skipped, and not asked after a reload."""
    url = f'{server.url}/t/{token_for("t09")}'
    await page.goto(url)
    party = page.get_by_role('group', name='How many are you?')
    await expect(party).to_have_attribute('data-state', 'asking')
    await expect(party.locator('[data-party]')).to_have_text(['1', '2', '3', '4'])
    await choose(page, 'milk-tea', {'ice': 'less'})
    await page.get_by_test_id('cart-bar').click()
    await page.get_by_test_id('place-order').click()
    await expect(page.locator('li.order')).to_have_attribute('data-status', 'received')
    await party.get_by_role('button', name='3 people').click()
    # Gone, so no longer in the accessibility tree: found by its test id.
    box = page.get_by_test_id('party')
    await expect(box).to_have_attribute('data-state', 'answered')
    await expect(box).to_be_hidden()
    await expect(page.locator('#toast')).to_have_text('Table for 3: thank you!')
    visit = await sessions.current(aredis, 't09')
    assert visit is not None and (visit.party_size, visit.orders) == (3, 1)
    other = await phone(browser, 'en-US')
    await other.goto(url)
    await expect(other.get_by_test_id('party')).to_have_attribute('data-state', 'known')

    korean = await phone(browser, 'ko-KR')
    await korean.goto(f'{server.url}/t/{token_for("t10")}')
    asked = korean.get_by_role('group', name='몇 분이세요?')
    await expect(asked.get_by_role('button', name='2명')).to_be_visible()
    await asked.get_by_role('button', name='건너뛰기').click()
    await expect(korean.get_by_test_id('party')).to_have_attribute('data-state', 'skipped')
    await korean.reload()
    await expect(korean.get_by_test_id('party')).to_have_attribute('data-state', 'known')
    visit = await sessions.current(aredis, 't10')
    assert visit is None
