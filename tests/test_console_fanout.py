"""The console's feed fan-out: one Redis reader per process whatever the number of consoles,
slow clients cut off instead of buffered, resumption from a snapshot's feed id."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from api_helpers import uvicorn_server
from console_support import PASSWORD
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.console.accounts import add_operator
from orchestrator.feed_reader import RESYNC, Entry, Fanout, Kinds, Subscription, passthrough
from orchestrator.store.feed import entry_fields, event

CONSOLES = 60


async def xread_clients(r: Redis) -> int:
    """Connections to Redis blocked in XREAD, once the reader is between two batches."""
    for _ in range(200):
        clients = await r.client_list()
        blocked = [c for c in clients if c['cmd'] == 'xread' and 'b' in c['flags']]
        if blocked:
            return sum(1 for c in clients if c['cmd'] == 'xread')
        await asyncio.sleep(0.02)
    return 0


async def next_frame(sub: Subscription) -> str | None:
    return await asyncio.wait_for(sub.queue.get(), 10)


async def publish(r: Redis, n: int, start: int = 0) -> list[str]:
    return [
        await r.xadd(keys.FEED, entry_fields(event('', 'audit', {'n': i})))
        for i in range(start, start + n)
    ]


@asynccontextmanager
async def reading(r: Redis, **options: Any) -> AsyncIterator[Fanout]:
    """A started Fanout that has found where the feed ends."""
    fanout = Fanout(r, **options)
    await fanout.start()
    try:
        while fanout.last_id is None:
            await asyncio.sleep(0.01)
        yield fanout
    finally:
        await fanout.stop()


async def test_every_subscriber_gets_every_event_from_one_reader(aredis: Redis) -> None:
    fanout = Fanout(aredis, queue_size=64, block_ms=200)
    await fanout.start()
    try:
        subs = [await fanout.subscribe() for _ in range(200)]
        while fanout.last_id is None:
            await asyncio.sleep(0.01)
        ids = await publish(aredis, 20)
        for sub in subs:
            got = [await next_frame(sub) for _ in ids]
            assert [f.split('\n')[0] for f in got if f] == [f'id: {i}' for i in ids]
        assert await xread_clients(aredis) == 1
    finally:
        await fanout.stop()


async def test_a_slow_client_is_cut_off_without_hurting_the_others(aredis: Redis) -> None:
    async with reading(aredis, queue_size=5, block_ms=200) as fanout:
        slow, fast = await fanout.subscribe(), await fanout.subscribe()
        received: list[str] = []

        async def drain() -> None:
            while len(received) < 30:
                frame = await next_frame(fast)
                assert frame is not None
                received.append(frame)

        reader = asyncio.create_task(drain())
        for batch in range(6):
            await publish(aredis, 5, start=batch * 5)
            await asyncio.sleep(0.05)
        await asyncio.wait_for(reader, 10)
        assert [json.loads(f.split('data: ')[1])['data'] for f in received] == [
            json.dumps({'n': i}, separators=(',', ':')) for i in range(30)
        ]
        assert slow.closed and slow not in fanout.subscribers
        assert await next_frame(slow) == RESYNC
        assert await next_frame(slow) is None


async def test_a_client_resumes_from_its_snapshot_id(aredis: Redis) -> None:
    async with reading(aredis, backlog=10, block_ms=200) as fanout:
        ids = await publish(aredis, 15)
        while fanout.last_id != ids[-1]:
            await asyncio.sleep(0.01)
        resumed = await fanout.subscribe(since=ids[11])
        assert [(await next_frame(resumed) or '').split('\n')[0] for _ in range(3)] == [
            f'id: {i}' for i in ids[12:]
        ]
        # Older than the backlog: it must reload the snapshot rather than miss events.
        too_old = await fanout.subscribe(since=ids[2])
        assert await next_frame(too_old) == RESYNC


async def test_the_backlog_is_bounded_in_size_too(aredis: Redis) -> None:
    """Large frames (a console's `alerts` message carries the recent alerts, tens of KB) leave
    the backlog by size, not only by count; a client older than what is kept resyncs."""
    async with reading(aredis, backlog=100, backlog_chars=5000, block_ms=200) as fanout:
        await fanout.subscribe()  # a console open: every batch goes into the backlog
        ids = [
            await aredis.xadd(keys.FEED, entry_fields(event('', 'audit', {'pad': 'x' * 1000})))
            for _ in range(20)
        ]
        while fanout.last_id != ids[-1]:
            await asyncio.sleep(0.01)
        assert 1 <= len(fanout.backlog) <= 5
        assert fanout.backlog_size == sum(len(f) for _, _, f in fanout.backlog) <= 5000
        kept = [entry_id for entry_id, _, _ in fanout.backlog]
        assert kept == ids[-len(kept) :]
        resumed = await fanout.subscribe(since=kept[0])
        assert [(await next_frame(resumed) or '').split('\n')[0] for _ in kept[1:]] == [
            f'id: {i}' for i in kept[1:]
        ]
        assert await next_frame(await fanout.subscribe(since=ids[0])) == RESYNC


async def test_nothing_is_transformed_for_nobody_and_a_console_still_resumes(
    aredis: Redis,
) -> None:
    """With no console open the reader transforms only the kinds subscribed (none, then a
    menu's) and keeps the entries raw; a console resuming from before gets them all."""
    asked: list[tuple[int, Kinds]] = []

    async def counting(entries: list[Entry], kinds: Kinds) -> list[tuple[str, dict[str, Any]]]:
        asked.append((len(entries), kinds))
        return await passthrough(entries, kinds)

    async with reading(aredis, transform=counting, block_ms=200) as fanout:
        ids = await publish(aredis, 5)
        while fanout.last_id != ids[-1]:
            await asyncio.sleep(0.01)
        assert asked == [] and not fanout.backlog
        menu = await fanout.subscribe(kinds=frozenset({'menu'}))
        ids += await publish(aredis, 5, start=5)
        while fanout.last_id != ids[-1]:
            await asyncio.sleep(0.01)
        assert {kinds for _, kinds in asked} == {frozenset({'menu'})}
        assert menu.queue.empty()  # audit entries: nothing for a menu
        console = await fanout.subscribe(since=ids[1])
        assert asked[-1] == (10, None)
        assert [(await next_frame(console) or '').split('\n')[0] for _ in ids[2:]] == [
            f'id: {i}' for i in ids[2:]
        ]
        ids += await publish(aredis, 1, start=10)
        assert (await next_frame(console) or '').startswith(f'id: {ids[-1]}')
        assert asked[-1] == (1, None) and not fanout.stash


async def test_many_open_consoles_share_one_feed_reader(
    redis_url: str, aredis: Redis, tmp_path: Path
) -> None:
    await add_operator(aredis, 'ana', PASSWORD)
    with uvicorn_server(redis_url, tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            res = await client.post(
                '/console/api/login', json={'name': 'ana', 'password': PASSWORD}
            )
            assert res.status_code == 200
            snap = (await client.get('/console/api/snapshot')).json()
            ready = asyncio.Event()
            opened = 0
            results: list[list[dict[str, object]]] = []

            async def console() -> None:
                nonlocal opened
                got: list[dict[str, object]] = []
                async with client.stream(
                    'GET', '/console/api/stream', params={'since': snap['feed_id']}
                ) as stream:
                    assert stream.status_code == 200
                    opened += 1
                    if opened == CONSOLES:
                        ready.set()
                    async for text in stream.aiter_lines():
                        if text.startswith('data: '):
                            got.append(json.loads(text[6:]))
                            if len(got) == 3:
                                break
                results.append(got)

            tasks = [asyncio.create_task(console()) for _ in range(CONSOLES)]
            await asyncio.wait_for(ready.wait(), 60)
            for i in range(3):
                await aredis.xadd(
                    keys.FEED, entry_fields(event('', 'audit', {'who': 'test', 'n': i}))
                )
            await asyncio.wait_for(asyncio.gather(*tasks), 60)
            assert len(results) == CONSOLES
            for got in results:
                assert [m['entry']['n'] for m in got] == [0, 1, 2]  # type: ignore[index]
            assert await xread_clients(aredis) == 1


async def test_diner_menus_follow_sold_out_marks_live(
    redis_url: str, aredis: Redis, tmp_path: Path
) -> None:
    await add_operator(aredis, 'ana', PASSWORD)
    with uvicorn_server(redis_url, tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            login = await client.post(
                '/console/api/login', json={'name': 'ana', 'password': PASSWORD}
            )
            csrf = {'X-CSRF-Token': login.json()['csrf']}
            async with (
                httpx.AsyncClient(base_url=server.url, timeout=30) as diner,
                diner.stream('GET', '/api/menu/events') as stream,
            ):
                lines = stream.aiter_lines()

                async def next_message() -> dict[str, object]:
                    async for text in lines:
                        if text.startswith('data: '):
                            return dict(json.loads(text[6:]))
                    raise AssertionError('stream ended')

                assert await next_message() == {'type': 'menu', 'soldout': [], 'prices': {}}
                res = await client.put(
                    '/console/api/dishes/mandu/soldout', json={'soldout': True}, headers=csrf
                )
                assert res.status_code == 200
                # The audit entry of that change is not for diners: the next message is.
                message = await asyncio.wait_for(next_message(), 20)
                assert message == {'type': 'menu', 'soldout': ['mandu'], 'prices': {}}
