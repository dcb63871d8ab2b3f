"""The console's Stock and Reports views in a real headless Chromium, against `robodine serve`
under uvicorn, a real redis-server and an archive (SQLite) holding generated demo history.

An operator restocks an ingredient and sees the level change (audited with who and why),
corrects a count to zero and sees the dish greyed out on a diner's open page by itself, reads
tomorrow's prep list, and opens a day's report: charts are drawn and the CSV downloads. The page
`robodine report` writes draws the same charts from a file, offline.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Route, expect
from redis.asyncio import Redis

from orchestrator.archive import demo_history
from orchestrator.archive.db import open_engine
from orchestrator.config import RestaurantConfig
from orchestrator.console.accounts import add_operator
from orchestrator.store import stock
from tests.api_helpers import REPO, token_for, uvicorn_server
from tests.browser_support import MIN_CONTRAST, confirm, contrast, sign_in
from tests.console_support import PASSWORD

pytestmark = pytest.mark.browser


async def test_stock_and_reports_views(
    browser: Browser, redis_url: str, aredis: Redis, tmp_path: Path, demo_config: RestaurantConfig
) -> None:
    data = tmp_path / 'data'
    engine = open_engine(f'sqlite:///{data / "archive.sqlite"}')
    assert demo_history.seed(engine, demo_config, weeks=3) > 0
    engine.dispose()
    await add_operator(aredis, 'ana', PASSWORD)
    with uvicorn_server(redis_url, tmp_path, {'ROBODINE_DATA_DIR': str(data)}) as server:
        console = await (
            await browser.new_context(viewport={'width': 1280, 'height': 900})
        ).new_page()
        await console.goto(f'{server.url}/console')
        await sign_in(console, 'ana', PASSWORD)
        await expect(console.locator('#who')).to_have_text('ana (operator)')

        # A restock shows up in the levels, and in the audit trail with who and why.
        await console.locator('[data-tab="stock"]').click()
        row = console.locator('#stock-levels tr[data-ingredient="chicken"]')
        await expect(row.locator('.level')).to_have_text('150 kg')
        await console.locator('[data-amount-of="chicken"]').fill('2.5 kg')
        await console.locator('[data-why-of="chicken"]').fill('morning delivery')
        await row.locator('[data-action="restock"]').click()
        await confirm(console)
        await expect(row.locator('.level')).to_have_text('152.5 kg')
        assert (await stock.levels(aredis))['chicken'] == 152_500
        await expect(console.locator('#stock-moves td', has_text='restock').first).to_be_visible()

        # Counting the mackerel down to nothing 86es its dish on a diner's open menu, live.
        diner = await (
            await browser.new_context(viewport={'width': 400, 'height': 800})
        ).new_page()
        await diner.goto(f'{server.url}/t/{token_for("t02")}')
        fish = diner.locator('button.dish[data-dish="grilled-mackerel"]')
        await expect(fish).to_be_enabled()
        await console.locator('[data-amount-of="mackerel"]').fill('0')
        await console.locator('[data-why-of="mackerel"]').fill('the fish was off')
        await console.locator('tr[data-ingredient="mackerel"] [data-action="count"]').click()
        await confirm(console)
        await expect(fish).to_be_disabled()
        await expect(console.locator('#stock-alerts li[data-low="mackerel"]')).to_be_visible()
        await expect(console.locator('#stock-alerts')).to_contain_text('Sold out by stock')
        await expect(console.locator('#low-count')).to_have_text('1')
        # ... and a delivery brings it back.
        await console.locator('[data-amount-of="mackerel"]').fill('12')
        await console.locator('tr[data-ingredient="mackerel"] [data-action="restock"]').click()
        await confirm(console)
        await expect(fish).to_be_enabled()

        # Tomorrow's prep list, from the forecast.
        await expect(console.locator('#prep')).to_contain_text('Prep list for')
        await expect(console.locator('#prep')).to_contain_text('WAPE')

        await console.locator('[data-tab="audit"]').click()
        await expect(console.locator('#audit tr', has_text='morning delivery')).to_contain_text(
            'ana'
        )
        await expect(console.locator('#audit tr', has_text='the fish was off')).to_contain_text(
            'stock.count'
        )

        # A day's report: charts drawn, labelled demo, CSV downloads.
        # Opening the tab asks for today's report and the date picked at once for yesterday's;
        # today's answer is held back until yesterday's is drawn (under load it came last and
        # replaced it).
        yesterday = (date.today() - timedelta(days=1)).isoformat()
        today_url = f'{server.url}/console/api/reports/{date.today().isoformat()}'
        asked, release = asyncio.Event(), asyncio.Event()

        async def today_last(route: Route) -> None:
            asked.set()
            await release.wait()
            await route.continue_()

        await console.route(today_url, today_last)
        await console.locator('[data-tab="reports"]').click()
        await asyncio.wait_for(asked.wait(), 30)
        await console.locator('#report-date').fill(yesterday)
        await console.locator('[data-action="show-report"]').click()
        hourly = console.locator('[data-section="hourly"]')
        await expect(hourly.locator('svg.chart')).to_be_visible()
        async with console.expect_response(today_url):
            release.set()
        for _ in range(10):
            assert await hourly.locator('svg.chart').is_visible()
            await asyncio.sleep(0.1)
        # The chart of the day shown before may still be up: wait for yesterday's bars.
        await expect(hourly.locator('svg.chart rect.series').first).to_be_visible()
        await expect(console.locator('[data-section="stations"] svg.chart')).to_be_visible()
        await expect(console.locator('.demo-banner')).to_be_visible()
        assert await contrast(console.locator('.demo-banner')) >= MIN_CONTRAST
        href = await hourly.locator('a.csv').get_attribute('href')
        assert href is not None
        res = await console.request.get(f'{server.url}{href}')
        assert res.ok and (await res.text()).startswith('hour,orders,covers,revenue')

        # The page `robodine report` writes draws the same charts, from a file.
        out = tmp_path / 'report'
        subprocess.run(
            [sys.executable, '-m', 'orchestrator.cli', 'report', '--date', yesterday,
             '--out', str(out), '--archive-url', f'sqlite:///{data / "archive.sqlite"}'],
            cwd=REPO, check=True, capture_output=True,
        )  # fmt: skip
        offline = await (await browser.new_context()).new_page()
        await offline.goto((out / 'report.html').as_uri())
        await expect(
            offline.locator('[data-section="dishes"] svg.chart rect.series').first
        ).to_be_visible()
