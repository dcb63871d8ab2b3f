"""The console in a real headless Chromium against `robodine serve` under uvicorn and a real
redis-server, no robots (the dish is claimed and started through the store, as a dispatcher
does): a bump's confirmation says the robot's copy of a dish it is cooking is thrown away,
and a pickup-timeout alert resolves by itself once its order is over, off the open count."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect
from redis.asyncio import Redis

from orchestrator.console.accounts import add_operator
from orchestrator.store import alerts, jobs
from orchestrator.texts import Said
from tests.api_helpers import Server, line, token_for, uvicorn_server
from tests.browser_support import confirm, sign_in
from tests.console_support import PASSWORD, robot_state

pytestmark = pytest.mark.browser


@pytest.fixture
def server(redis_url: str, tmp_path: Path) -> Iterator[Server]:
    with uvicorn_server(redis_url, tmp_path) as s:
        yield s


async def cooking_on_wok1(url: str, r: Redis) -> tuple[str, str]:
    """A jeyuk for t05 that wok1 is cooking: (order id, job id)."""
    async with httpx.AsyncClient(base_url=url) as client:
        res = await client.post(
            f'/api/tables/{token_for("t05")}/orders',
            json={'items': [line('jeyuk')]},
            headers={'Idempotency-Key': secrets.token_hex(8)},
        )
        assert res.status_code == 201, res.text
    order_id = str(res.json()['id'])
    job_id = f'{order_id}-00-00'
    await robot_state(r, 'wok1', 'busy')
    claim = await jobs.claim(r, job_id, 'test', 'wok1', 60.0)
    assert isinstance(claim, jobs.Claim)
    assert await jobs.mark_started(r, job_id, claim.epoch, 'wok1')
    return order_id, job_id


async def test_bump_warns_of_the_robots_copy_and_a_served_alert_resolves(
    browser: Browser, server: Server, aredis: Redis
) -> None:
    await add_operator(aredis, 'ana', PASSWORD)
    page = await (await browser.new_context(locale='en-GB')).new_page()
    await page.goto(f'{server.url}/console')
    await sign_in(page, 'ana', PASSWORD)
    await expect(page.locator('#live')).to_have_text('live')
    order_id, job_id = await cooking_on_wok1(server.url, aredis)
    returned = Said('alert.texts.food_returned', {'order': order_id, 'table': 't05', 'reason': ''})
    await alerts.raise_alert(aredis, 'pickup_timeout', 'warning', returned, order_id=order_id)
    await expect(page.locator('#alert-count')).to_have_text('1')

    unit = page.locator(f'.unit[data-job="{job_id}"]')
    await expect(unit).to_have_attribute('data-status', 'cooking')
    await unit.locator('[data-action="bump"]').click()
    await expect(page.locator('#confirm-text')).to_have_text(
        f'Mark {job_id} as cooked by hand? wok1 stops cooking it and its copy is thrown away'
    )
    await page.locator('#confirm button[value="no"]').click()

    # The order is cancelled: the alert about its food is resolved, no longer counted.
    await page.locator(f'.ticket[data-order="{order_id}"] [data-action="cancel-order"]').click()
    await confirm(page)
    await expect(page.locator('#alert-count')).to_be_hidden()
    await page.locator('[data-tab="alerts"]').click()
    alert = page.locator('.alert[data-kind="pickup_timeout"]')
    await expect(alert).to_contain_text('resolved by itself')
    await expect(alert.locator('[data-action="ack"]')).to_have_count(0)
