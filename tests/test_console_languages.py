"""The console in Korean and Chinese, in a real headless Chromium against `robodine serve` under
uvicorn and a real redis-server (no robots: their states are written as the fleet bridge
mirrors them; the console's own alert checks run in the server).

A browser that prefers Korean gets the console in Korean from the start: sign-in and its
refusal, tickets (dish and option names from the menu, dish states, the age), the fleet (robot
modes and kinds), alerts (their kinds and texts, raised by the diner's page and by the
console's checks), a control's confirmation and the server's refusal of it. The operator picks
Chinese in the header; the choice outlives a reload. A diner's note is shown as written, as
text. A browser in a language the console does not speak gets English. Screenshots of each
language are left in the test's tmp_path.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from redis.asyncio import Redis

from orchestrator.console.accounts import add_operator
from orchestrator.store.feed import now_ms
from tests.api_helpers import Server, line, token_for, uvicorn_server
from tests.browser_support import sign_in, word_break
from tests.console_support import PASSWORD, robot_state

pytestmark = pytest.mark.browser

# Markup in a diner's note must reach the kitchen as the diner typed it, never as HTML.
NOTE = '<b>양파 빼 주세요</b> 少辣'


@pytest.fixture
def server(redis_url: str, tmp_path: Path) -> Iterator[Server]:
    with uvicorn_server(redis_url, tmp_path) as s:
        yield s


async def robots(r: Redis) -> None:
    """serve1 paused, serve2 idle, wok2 in fault, the rest busy: heard 'later' than the page
    looks, so no robot turns 'lost' on screen while the test reads it."""
    seen = now_ms() + 600_000
    for rid in ('wok1', 'grill1', 'noodle1', 'bar1', 'serve3'):
        await robot_state(r, rid, 'busy', seen_at=seen)
    await robot_state(r, 'serve1', 'paused', seen_at=seen)
    await robot_state(r, 'serve2', 'idle', seen_at=seen)
    await robot_state(r, 'wok2', 'fault', detail='burner ignition failed', seen_at=seen)


async def order_and_call_staff(url: str) -> str:
    """A Kung Pao (hot, with a note) and a tea from table 4, which then asks for water."""
    token = token_for('t04')
    async with httpx.AsyncClient(base_url=url) as client:
        res = await client.post(
            f'/api/tables/{token}/orders',
            json={'items': [line('kungpao', 2, NOTE, spice='hot'), line('iced-tea')]},
            headers={'Idempotency-Key': secrets.token_hex(8)},
        )
        assert res.status_code == 201, res.text
        called = await client.post(f'/api/tables/{token}/staff-calls', json={'reason': 'water'})
        assert called.status_code == 201, called.text
        return str(res.json()['id'])


async def open_console(browser: Browser, url: str, locale: str) -> Page:
    context = await browser.new_context(locale=locale, viewport={'width': 1280, 'height': 900})
    page = await context.new_page()
    await page.goto(f'{url}/console')
    return page


async def shoot(page: Page, tmp_path: Path, name: str) -> None:
    await page.screenshot(path=tmp_path / f'{name}.png', full_page=True)


async def test_the_console_speaks_korean_and_chinese(
    browser: Browser, server: Server, aredis: Redis, tmp_path: Path
) -> None:
    await add_operator(aredis, 'boss', PASSWORD, 'manager')
    await robots(aredis)
    order_id = await order_and_call_staff(server.url)
    page = await open_console(browser, server.url, 'ko-KR')

    # Sign-in, and the server's refusal of a wrong password, in the browser's language.
    await expect(page.locator('#signin h2')).to_have_text('로그인')
    await expect(page.locator('#lang')).to_have_value('ko')
    assert await word_break(page) == 'keep-all'  # between Korean words, not inside them
    await sign_in(page, 'boss', 'not-the-password')
    await expect(page.locator('#signin-error')).to_have_text('이름 또는 비밀번호가 틀렸어요')
    await shoot(page, tmp_path, 'ko-signin')
    await sign_in(page, 'boss', PASSWORD)
    await expect(page.locator('#live')).to_have_attribute('data-status', 'live')
    await expect(page.locator('#live')).to_have_text('실시간')
    await expect(page.locator('#who')).to_have_text('boss (매니저)')
    await expect(page.locator('[data-tab="tickets"]')).to_have_text('주문표')
    await expect(page.locator('#stop-all')).to_have_text('전체 비상 정지')

    # Tickets: the menu's Korean names, the dish states, the age in Korean units.
    wok = page.locator(f'[data-column="wok"] .ticket[data-order="{order_id}"]')
    await expect(page.locator('[data-column="wok"] h2')).to_contain_text('웍')
    await expect(wok.locator('.line').first).to_contain_text('2× 궁보계정')
    await expect(wok.locator('.options li')).to_have_text(['맵기: 매운맛', '크기: 보통'])
    await expect(wok.locator('.allergen[data-allergen="peanut"]')).to_have_text('땅콩')
    await expect(wok.locator('.unit').first).to_contain_text('대기')
    await expect(wok.locator('.status')).to_have_text('접수')
    await expect(wok.locator('.age')).to_have_text(re.compile(r'^\d+(분 \d\d)?초$'))
    await expect(wok.locator('[data-action="cancel-order"]')).to_have_text('주문 취소')
    await expect(page.locator('#all-day .chip[data-dish="kungpao"]')).to_have_text('궁보계정 2')
    # The diner's note, as typed: text, not markup.
    note = wok.locator('.note')
    await expect(note).to_have_text(f'“{NOTE}”')
    assert await note.locator('b').count() == 0
    await shoot(page, tmp_path, 'ko-tickets')

    # Fleet: modes and kinds in Korean.
    await page.locator('[data-tab="fleet"]').click()
    await expect(page.locator('tr[data-robot="serve1"] .mode')).to_have_text('일시 정지')
    await expect(page.locator('tr[data-robot="wok2"] .mode')).to_have_text('고장')
    await expect(page.locator('tr[data-robot="serve2"]')).to_contain_text('서빙 로봇')
    await expect(page.locator('.robots th').nth(2)).to_have_text('배터리')
    await expect(page.locator('tr[data-robot="serve1"] [data-action="resume"]')).to_have_text(
        '재개'
    )
    await shoot(page, tmp_path, 'ko-fleet')

    # A control's confirmation in Korean; the server's refusal of it too (serve2 was paused
    # meanwhile, behind the page's back).
    await page.locator('tr[data-robot="serve2"] [data-action="pause"]').click()
    await expect(page.locator('#confirm-text')).to_have_text('serve2을(를) 일시 정지할까요?')
    await expect(page.locator('#confirm-yes')).to_have_text('확인')
    await shoot(page, tmp_path, 'ko-confirm')
    await robot_state(aredis, 'serve2', 'paused', seen_at=now_ms() + 600_000)
    await page.locator('#confirm-yes').click()
    refusal = page.locator('.toast.error', has_text='거부됨')
    await expect(refusal).to_have_text('거부됨: serve2은(는) 이미 일시 정지 상태예요')

    # Alerts: the diner's staff call and the console's own fault check, kinds and texts.
    await page.locator('[data-tab="alerts"]').click()
    call = page.locator('.alert[data-kind="staff_call"]')
    await expect(call.locator('.kind')).to_have_text('직원 호출')
    await expect(call.locator('.text')).to_have_text('4번 테이블: 물을 요청했어요')
    fault = page.locator('.alert[data-kind="robot_fault"]')
    await expect(fault.locator('.kind')).to_have_text('로봇 고장')
    # What the robot said stays as it said it.
    await expect(fault.locator('.text')).to_have_text('wok2 고장 보고: burner ignition failed')
    await expect(call.locator('[data-action="ack"]')).to_have_text('확인')
    await expect(page.locator('#dead')).to_have_text('없음')
    await shoot(page, tmp_path, 'ko-alerts')

    # Chinese, picked in the header: every view follows at once.
    await page.locator('#lang').select_option('zh')
    await expect(page.locator('[data-tab="tickets"]')).to_have_text('订单')
    assert await word_break(page) == 'normal'
    await expect(call.locator('.kind')).to_have_text('呼叫服务员')
    await expect(call.locator('.text')).to_have_text('4号桌：要水')
    await expect(fault.locator('.kind')).to_have_text('机器人故障')
    await expect(page.locator('#who')).to_have_text('boss（经理）')
    await shoot(page, tmp_path, 'zh-alerts')

    # ... and stays after a reload (the browser remembers it), though the browser prefers Korean.
    await page.reload()
    await expect(page.locator('#lang')).to_have_value('zh')
    await expect(page.locator('#live')).to_have_text('实时')
    await expect(wok.locator('.line').first).to_contain_text('2× 宫保鸡丁')
    await expect(wok.locator('.options li')).to_have_text(['辣度：特辣', '份量：标准'])
    await expect(wok.locator('.allergen[data-allergen="peanut"]')).to_have_text('花生')
    await expect(wok.locator('.unit').first).to_contain_text('排队中')
    await expect(wok.locator('.age')).to_have_text(re.compile(r'^\d+(分\d\d)?秒$'))
    await expect(page.locator('[data-column="pass"] h2')).to_contain_text('出餐口')
    await expect(note).to_have_text(f'“{NOTE}”')
    await shoot(page, tmp_path, 'zh-tickets')
    await page.locator('[data-tab="fleet"]').click()
    await expect(page.locator('tr[data-robot="serve1"] .mode')).to_have_text('已暂停')
    await expect(page.locator('tr[data-robot="wok2"] .mode')).to_have_text('故障')
    await expect(page.locator('tr[data-robot="wok1"]')).to_contain_text('烹饪机器人')
    await shoot(page, tmp_path, 'zh-fleet')

    # A control confirmed and done, in Chinese.
    await page.locator('[data-tab="tickets"]').click()
    await wok.locator('[data-action="cancel-order"]').click()
    await expect(page.locator('#confirm-text')).to_have_text(f'取消整个订单 {order_id}？')
    await shoot(page, tmp_path, 'zh-confirm')
    await page.locator('#confirm-yes').click()
    await expect(page.locator('.toast.ok')).to_have_text(
        f'已取消订单 {order_id}：撤回 3 份，报废 0 份'
    )
    finished = page.locator(f'#finished .ticket[data-order="{order_id}"]')
    await expect(finished).to_have_attribute('data-status', 'cancelled')
    await expect(finished.locator('summary')).to_contain_text('已取消')


async def test_a_language_the_console_does_not_speak_gets_english(
    browser: Browser, server: Server
) -> None:
    page = await open_console(browser, server.url, 'fr-FR')
    await expect(page.locator('#signin h2')).to_have_text('Sign in')
    await expect(page.locator('#lang')).to_have_value('en')
    await expect(page.locator('html')).to_have_attribute('lang', 'en')
