"""The console on a 10-inch tablet (1024x768 landscape, 768x1024 portrait, touch) in a real
headless Chromium, against `robodine serve` under uvicorn and a real redis-server: what an
operator reads (refusals, the Tables view) is legible, and every control can be reached
without scrolling the page sideways.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, ViewportSize, expect
from redis.asyncio import Redis

from orchestrator.console.accounts import add_operator
from tests.api_helpers import uvicorn_server
from tests.browser_support import chromium, confirm, sign_in
from tests.console_support import PASSWORD

pytestmark = pytest.mark.browser

LANDSCAPE: ViewportSize = {'width': 1024, 'height': 768}
# WCAG AA for body text.
MIN_CONTRAST = 4.5

# The element's text colour and the first opaque background behind it, as [r, g, b] each.
COLOURS_JS = """el => {
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  let bg = el;
  while (bg && rgb(getComputedStyle(bg).backgroundColor)[3] === 0) bg = bg.parentElement;
  return [rgb(getComputedStyle(el).color).slice(0, 3),
          rgb(getComputedStyle(bg || document.body).backgroundColor).slice(0, 3)];
}"""


def _luminance(rgb: list[float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


async def contrast(el: Locator) -> float:
    fg, bg = await el.evaluate(COLOURS_JS)
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


@pytest.fixture
async def server_url(redis_url: str, aredis: Redis, tmp_path: Path) -> AsyncIterator[str]:
    await add_operator(aredis, 'boss', PASSWORD, 'manager')
    with uvicorn_server(redis_url, tmp_path) as server:
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
