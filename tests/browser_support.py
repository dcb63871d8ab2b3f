"""Headless Chromium (Debian's, driven by Playwright) for the browser tests: launching it,
signing in to the console, answering its confirmation dialog and measuring text contrast."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

CHROMIUM = '/usr/bin/chromium'
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']
# How long an `expect` waits for the page (Playwright's default, 5 s, is a busy CI machine's
# ordinary delay: a page waiting on a Redis write behind a CPU hog). A test may wait longer.
EXPECT_MS = 30_000

# WCAG AA for body text.
MIN_CONTRAST = 4.5

# The element's text colour, the first opaque background behind it (as [r, g, b] each) and the
# opacity the text is drawn with (its own and its ancestors').
COLOURS_JS = """el => {
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  let bg = el;
  while (bg && rgb(getComputedStyle(bg).backgroundColor)[3] === 0) bg = bg.parentElement;
  let opacity = 1;
  for (let node = el; node; node = node.parentElement) {
    opacity *= Number(getComputedStyle(node).opacity);
  }
  return [rgb(getComputedStyle(el).color).slice(0, 3),
          rgb(getComputedStyle(bg || document.body).backgroundColor).slice(0, 3), opacity];
}"""


def _luminance(rgb: list[float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


async def contrast(el: Locator) -> float:
    """The WCAG contrast ratio of the element's text against what is behind it."""
    text, bg, opacity = await el.evaluate(COLOURS_JS)
    fg = [opacity * t + (1 - opacity) * b for t, b in zip(text, bg, strict=True)]
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium; the test is skipped where Debian's package is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip('chromium not installed')
    expect.set_options(timeout=EXPECT_MS)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        await browser.close()


async def sign_in(page: Page, name: str, password: str) -> None:
    """Sign in on the console page `page` shows."""
    await page.locator('input[name=name]').fill(name)
    await page.locator('input[name=password]').fill(password)
    await page.locator('#signin-form button[type=submit]').click()


async def confirm(page: Page) -> None:
    """Answer yes to the console's confirmation dialog."""
    await page.locator('#confirm-yes').click()
    await expect(page.locator('#confirm')).not_to_be_visible()


async def word_break(page: Page) -> str:
    """How the page's text breaks into lines ('keep-all': between words only)."""
    return str(await page.evaluate('getComputedStyle(document.body).wordBreak'))
