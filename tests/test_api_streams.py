"""Live streams on a real uvicorn: a thousand open order streams cost no Redis connection each
and leave ordering and the menu answering; open streams are capped per table and per address."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from api_helpers import line, token_for, uvicorn_server
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.store import menu, orders, sessions

STREAMS = 1000
TABLES = [f't{n:02d}' for n in range(1, 11)]


class Refused(Exception):
    pass


class SseClient:
    """A bare-socket SSE reader: a thousand httpx streams would cost the test more CPU than
    the server it measures."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base: str, path: str) -> SseClient:
        url = urlsplit(base)
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        request = f'GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nAccept: text/event-stream\r\n'
        writer.write(f'{request}\r\n'.encode())
        await writer.drain()
        status = await reader.readline()
        if status.split()[1:2] != [b'200']:
            writer.close()
            raise Refused(status.decode())
        return cls(reader, writer)

    async def next_event(self) -> dict[str, object] | None:
        """The next `data:` payload; None when the server ended the stream."""
        while True:
            raw = await self.reader.readline()
            if not raw:
                return None
            text = raw.decode().strip()
            if text == '0':  # the last chunk: the server ended the stream
                return None
            if text.startswith('data: '):
                return dict(json.loads(text[6:]))

    def close(self) -> None:
        self.writer.close()


async def place(client: httpx.AsyncClient, table_id: str) -> str:
    res = await client.post(
        f'/api/tables/{token_for(table_id)}/orders',
        json={'items': [line('mandu')]},
        headers={'Idempotency-Key': secrets.token_hex(8)},
    )
    assert res.status_code == 201, res.text
    return str(res.json()['id'])


async def test_a_thousand_order_streams_leave_ordering_and_the_menu_answering(
    redis_url: str, aredis: Redis, tmp_path: Path
) -> None:
    env = {
        'ROBODINE_STREAMS_PER_ADDRESS': str(STREAMS + 10),
        'ROBODINE_STREAMS_PER_TABLE': str(STREAMS // len(TABLES)),
    }
    with uvicorn_server(redis_url, tmp_path, env) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            order_ids = {t: await place(client, t) for t in TABLES}
            per_table = STREAMS // len(TABLES)
            opening = [
                SseClient.open(server.url, f'/api/tables/{token_for(t)}/orders/{oid}/events')
                for t, oid in order_ids.items()
                for _ in range(per_table)
            ]
            streams = await asyncio.wait_for(asyncio.gather(*opening), 120)
            try:
                # Every stream is live: each has replayed its order's first event.
                firsts = await asyncio.wait_for(
                    asyncio.gather(*(s.next_event() for s in streams)), 120
                )
                assert {f['type'] for f in firsts if f} == {'order.accepted'}
                assert len(firsts) == STREAMS
                # Meanwhile another table orders and a diner reads the menu.
                async with httpx.AsyncClient(base_url=server.url, timeout=10) as other:
                    await place(other, 't12')
                    assert (await other.get('/api/menu')).status_code == 200
                clients = await aredis.client_list()
                assert len(clients) < 70  # the pool (64) and us, never one per stream
                assert sum(1 for c in clients if c['cmd'] == 'xread') <= 1
                # A status change reaches every stream, live; a final one ends them all.
                for oid in order_ids.values():
                    await orders.record(aredis, oid, 'job.started', {}, orders.COOKING)
                    await orders.record(aredis, oid, 'order.cancelled', {}, orders.CANCELLED)
                changes = await asyncio.wait_for(
                    asyncio.gather(*(s.next_event() for s in streams)), 120
                )
                assert {c['status'] for c in changes if c} == {'cooking'}
                cancelled = await asyncio.wait_for(
                    asyncio.gather(*(s.next_event() for s in streams)), 120
                )
                assert {c['status'] for c in cancelled if c} == {'cancelled'}
                ends = await asyncio.wait_for(
                    asyncio.gather(*(s.next_event() for s in streams)), 120
                )
                assert ends == [None] * STREAMS
            finally:
                for s in streams:
                    s.close()


async def test_open_streams_are_capped_per_table_and_per_address(
    redis_url: str, tmp_path: Path
) -> None:
    env = {'ROBODINE_STREAMS_PER_TABLE': '2', 'ROBODINE_STREAMS_PER_ADDRESS': '3'}
    with uvicorn_server(redis_url, tmp_path, env) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            t1, t2 = await place(client, 't01'), await place(client, 't02')
            path1 = f'/api/tables/{token_for("t01")}/orders/{t1}/events'
            path2 = f'/api/tables/{token_for("t02")}/orders/{t2}/events'
            first = [await SseClient.open(server.url, path1) for _ in range(2)]
            res = await client.get(path1)
            assert res.status_code == 429
            assert res.json()['field'] == 'token' and 'this table' in res.json()['detail']
            # Another table may still open one, then the address is at its limit.
            other = await SseClient.open(server.url, path2)
            for path in (path2, '/api/menu/events'):
                res = await client.get(path)
                assert res.status_code == 429 and 'your address' in res.json()['detail']
            # A closed stream gives its place back.
            first.pop().close()

            async def reopened() -> SseClient:
                while True:
                    try:
                        return await SseClient.open(server.url, path1)
                    except Refused:
                        await asyncio.sleep(0.05)

            again = await asyncio.wait_for(reopened(), 20)
            for s in (*first, other, again):
                s.close()


async def test_menus_follow_changes_without_a_console_in_the_process(
    redis_url: str, aredis: Redis, tmp_path: Path
) -> None:
    with uvicorn_server(redis_url, tmp_path, {'ROBODINE_CONSOLE_ENABLED': 'false'}) as server:
        stream = await SseClient.open(server.url, '/api/menu/events')
        try:
            assert await stream.next_event() == {'type': 'menu', 'soldout': [], 'prices': {}}
            await menu.set_soldout(aredis, 'mandu', True, 'test')
            message = await asyncio.wait_for(stream.next_event(), 20)
            assert message == {'type': 'menu', 'soldout': ['mandu'], 'prices': {}}
        finally:
            stream.close()


async def test_a_visit_stream_shows_every_phones_orders_as_they_change(
    redis_url: str, aredis: Redis, tmp_path: Path
) -> None:
    """One phone follows the table: an order another phone places shows at once, then each
    change of it; another table's order does not."""
    with uvicorn_server(redis_url, tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            path = f'/api/tables/{token_for("t05")}/orders/events'
            stream = await SseClient.open(server.url, path)
            try:
                placed = await place(client, 't05')
                first = await asyncio.wait_for(stream.next_event(), 20)
                assert first is not None and first['type'] == 'order'
                order = first['order']
                assert isinstance(order, dict)
                assert order['id'] == placed and order['status'] == 'received'
                await place(client, 't06')
                await aredis.hset(keys.order(placed), 'jobs_cooked', 1)
                await orders.record(aredis, placed, 'job.cooked', {}, status=orders.COOKING)
                changed = await asyncio.wait_for(stream.next_event(), 20)
                assert changed is not None and isinstance(changed['order'], dict)
                assert changed['order']['id'] == placed
                assert changed['order']['status'] == 'cooking'
                assert changed['order']['jobs_cooked'] == 1
            finally:
                stream.close()
            # A new stream starts with every order of the visit.
            again = await SseClient.open(server.url, path)
            try:
                now = await asyncio.wait_for(again.next_event(), 20)
                assert now is not None and isinstance(now['order'], dict)
                assert now['order']['id'] == placed and now['order']['status'] == 'cooking'
            finally:
                again.close()


async def test_a_visit_stream_of_the_printed_code_ends_with_its_party(
    redis_url: str, aredis: Redis, tmp_path: Path, demo_config: RestaurantConfig
) -> None:
    """The printed code acts for the table's current party: its stream ends when that party's
    visit closes, and never shows the next party's orders."""
    with uvicorn_server(redis_url, tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            token = token_for('t06')
            stream = await SseClient.open(server.url, f'/api/tables/{token}/orders/events')
            try:
                first = await place(client, 't06')
                shown = await asyncio.wait_for(stream.next_event(), 20)
                assert shown is not None and isinstance(shown['order'], dict)
                assert shown['order']['id'] == first
                res = await client.post(f'/api/tables/{token}/orders/{first}/cancel')
                assert res.status_code == 202, res.text
                await sessions.close(aredis, demo_config.billing, 't06', 'test')
                await place(client, 't06')  # the next party
                while (event := await asyncio.wait_for(stream.next_event(), 20)) is not None:
                    assert isinstance(event['order'], dict) and event['order']['id'] == first
            finally:
                stream.close()
