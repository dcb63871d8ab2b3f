"""Headless Chromium (Debian's, driven by Playwright) for the browser tests: launching it,
signing in to the console and answering its confirmation dialog."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

CHROMIUM = '/usr/bin/chromium'
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']
# How long an `expect` waits for the page (Playwright's default, 5 s, is a busy CI machine's
# ordinary delay: a page waiting on a Redis write behind a CPU hog). A test may wait longer.
EXPECT_MS = 30_000


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
