"""The API as deployed: `robodine serve` (uvicorn) in a child process, over real HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_helpers import KEY_HEADER, Server, line, token_for, uvicorn_server, wait_until
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.store import orders as timeline

T04 = token_for('t04')
ORDER = {'items': [line('bingsu', 2), line('lemonade', 1, ice='none')]}


@pytest.fixture
def server(redis_url: str, tmp_path: Path) -> Iterator[Server]:
    with uvicorn_server(redis_url, tmp_path, {'ROBODINE_LOG_JSON': 'true'}) as s:
        yield s


async def test_concurrent_posts_with_one_key_over_http(server: Server, aredis: Redis) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        results = await asyncio.gather(
            *(
                c.post(f'/api/tables/{T04}/orders', json=ORDER, headers=KEY_HEADER)
                for _ in range(50)
            )
        )
    assert {r.status_code for r in results} == {201}
    assert len({r.content for r in results}) == 1
    assert await aredis.zcard(keys.table_orders('t04')) == 1
    assert len(await aredis.keys('rd:job:*')) == 3
    assert await aredis.xlen(keys.cook_stream('dessert')) == 2
    oid = results[0].json()['id']
    # Structured logs carry the order id.
    lines = wait_until(
        lambda: [
            json.loads(x)
            for x in server.log.read_text().splitlines()
            if x.startswith('{') and oid in x
        ]
    )
    assert lines[0]['msg'] == 'order accepted' and lines[0]['order_id'] == oid


async def test_sse_delivers_status_changes_live_and_resumes(server: Server, aredis: Redis) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        oid = (await c.post(f'/api/tables/{T04}/orders', json=ORDER, headers=KEY_HEADER)).json()[
            'id'
        ]
        url = f'/api/tables/{T04}/orders/{oid}/events'
        seen: list[dict] = []
        async with c.stream('GET', url) as res:
            assert res.headers['content-type'].startswith('text/event-stream')
            steps = iter(
                [
                    ('job.started', 'cooking'),
                    ('trip.started', 'delivering'),
                    ('robot.arrived', 'arrived'),
                    ('order.served', 'served'),
                ]
            )
            event_id = None
            async for raw in res.aiter_lines():
                if raw.startswith('id: '):
                    event_id = raw[4:]
                if not raw.startswith('data: '):
                    continue
                ev = json.loads(raw[6:])
                assert ev['id'] == event_id
                seen.append(ev)
                # Each change is written only after the previous one arrived: live, not replay.
                step = next(steps, None)
                if step:
                    await timeline.record(aredis, oid, step[0], {}, status=step[1])
        assert [e['status'] for e in seen] == [
            'received',
            'cooking',
            'delivering',
            'arrived',
            'served',
        ]
        resumed = await c.get(url, headers={'Last-Event-ID': seen[2]['id']})
        data = [json.loads(x[6:]) for x in resumed.text.splitlines() if x.startswith('data: ')]
        assert [e['status'] for e in data] == ['arrived', 'served']


async def test_probes_and_page(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        assert (await c.get('/readyz')).status_code == 200
        # The table code opens a visit and redirects to its page.
        page = await c.get(
            f'/t/{T04}',
            headers={'Accept-Language': 'zh-CN,zh;q=0.9,en;q=0.8'},
            follow_redirects=True,
        )
        assert page.status_code == 200 and '<html lang="zh">' in page.text
        assert '4号桌' in page.text  # the table's name in the page's language
        assert (await c.get('/static/diner.js')).status_code == 200
        # The page names its icon, so a phone never asks for a missing /favicon.ico.
        assert '<link rel="icon" href="/static/icon.svg"' in page.text
        icon = await c.get('/static/icon.svg')
        assert icon.status_code == 200 and icon.headers['content-type'] == 'image/svg+xml'
        assert 'robodine_intake_seconds_bucket' in (await c.get('/metrics')).text
