"""Live streams for diners (order status, a visit's orders, menu) from the process's one feed
reader.

No stream holds a Redis connection while it waits: the shared reader (`feed_reader.Fanout`)
wakes an order's streams when the order has news, and each then reads the new entries of the
order's timeline with one short XRANGE. Open streams are counted per table and per client
address, so one table code or one client cannot take every connection of the server.

Streams come in herds: every diner page reconnects at once after a restart, and one feed entry
wakes every stream of its order. Their Redis reads (opening a stream, and each XRANGE after a
wake) take turns, a few at a time (`StreamLimits.reads`): a thousand at once would each hold a
pooled connection while the busy event loop gets round to them, and the ones left waiting for
a connection would get 503 (opening) or end (reading) although Redis answers quickly.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator import feed_reader
from orchestrator.api.errors import ApiError
from orchestrator.config import RestaurantConfig
from orchestrator.feed_reader import Entry, Fanout, Kinds, Transform
from orchestrator.store import menu, orders
from orchestrator.store.orders import OrderRecord

log = logging.getLogger(__name__)

SSE_HEADERS = {'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no'}
MENU_ONLY = frozenset({'menu'})
MAX_STREAM_PART = 2**64 - 1


class StreamLimits:
    """Open streams per table and per client address (a stream over either limit gets 429),
    and how many streams may read Redis at once (`reads`: the others wait their turn)."""

    def __init__(self, per_table: int, per_address: int, reads: int) -> None:
        self.per_table, self.per_address = per_table, per_address
        self.tables: Counter[str] = Counter()
        self.addresses: Counter[str] = Counter()
        self.reads = asyncio.Semaphore(reads)

    def acquire(self, address: str, table_id: str | None = None) -> Callable[[], None]:
        """Count one more stream (ApiError 429 over a limit); returns its release."""
        if table_id is not None and self.tables[table_id] >= self.per_table:
            raise ApiError(
                429,
                f'too many live streams open for this table (limit {self.per_table}); '
                'close some pages of this table and retry',
                'too_many_streams',
                'token',
            )
        if self.addresses[address] >= self.per_address:
            raise ApiError(
                429,
                f'too many live streams open from your address (limit {self.per_address}); '
                'close some pages and retry',
                'too_many_streams',
            )
        held = [(self.addresses, address)]
        if table_id is not None:
            held.append((self.tables, table_id))
        for counter, key in held:
            counter[key] += 1

        def release() -> None:
            while held:
                counter, key = held.pop()
                counter[key] -= 1
                if counter[key] <= 0:
                    del counter[key]

        return release


class LiveResponse(StreamingResponse):
    """An SSE response that gives its stream slot back however it ends (end of stream, client
    gone, server shutting down) and closes its frame generator at once."""

    def __init__(self, frames: AsyncGenerator[str, None], release: Callable[[], None]) -> None:
        super().__init__(frames, media_type='text/event-stream', headers=SSE_HEADERS)
        self.frames, self.release = frames, release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.release()
            await self.frames.aclose()


class StreamOpenings:
    """Pure ASGI middleware: a request opening a live stream (`GET .../events`) holds a turn
    of `StreamLimits.reads` until its response starts, so that its dependencies and handler
    (which read the table's session and the order) do not all run at once in a herd."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        opening = scope['type'] == 'http' and scope['method'] == 'GET'
        if not (opening and scope['path'].endswith('/events')):
            await self.app(scope, receive, send)
            return
        reads: asyncio.Semaphore = scope['app'].state.ctx.streams.reads
        await reads.acquire()
        held = True

        async def started(message: Message) -> None:
            nonlocal held
            if held and message['type'] == 'http.response.start':
                held = False
                reads.release()
            await send(message)

        try:
            await self.app(scope, receive, started)
        finally:
            if held:
                reads.release()


def client_address(request: Request) -> str:
    return request.client.host if request.client else 'unknown'


def valid_stream_id(entry_id: str) -> bool:
    """A Redis stream entry id (`ms-seq` or `ms`) that Redis itself would accept."""
    ms, dash, seq = entry_id.partition('-')
    parts = [ms, seq] if dash else [ms]
    return all(p.isascii() and p.isdigit() and int(p) <= MAX_STREAM_PART for p in parts)


async def order_frames(
    r: Redis, fanout: Fanout, reads: asyncio.Semaphore, order: OrderRecord, after: str
) -> AsyncGenerator[str, None]:
    """Every timeline event of `order` after the entry `after`, live, as SSE frames (reading
    Redis in a turn of `reads`); ends after an event with a final status (at once if the order
    was final with nothing left)."""
    wake = fanout.watch(order.id)
    try:
        yield feed_reader.RETRY
        first = True
        while True:
            wake.clear()
            try:
                async with reads:
                    entries = await orders.events_after(r, order.id, after)
            except RedisError as e:
                # The browser reconnects with Last-Event-ID and resumes where this ended.
                log.warning('order stream %s ends: %s', order.id, e)
                return
            for entry_id, fields in entries:
                after = entry_id
                data = json.dumps(orders.event_view(entry_id, fields), ensure_ascii=False)
                yield f'id: {entry_id}\ndata: {data}\n\n'
                if fields.get('status') in orders.FINAL:
                    return
            if entries:
                first = False
                continue
            if first and order.final:
                return
            first = False
            try:
                await asyncio.wait_for(wake.wait(), feed_reader.KEEPALIVE_S)
            except TimeoutError:
                # Re-read the timeline anyway, in case the feed reader was down meanwhile.
                yield ': keepalive\n\n'
    finally:
        fanout.unwatch(order.id, wake)


async def visit_frames(
    fanout: Fanout,
    reads: asyncio.Semaphore,
    table_id: str,
    look: Callable[[], Awaitable[list[OrderRecord] | None]],
) -> AsyncGenerator[str, None]:
    """The orders of a diner's visit as the order API shows them, as SSE frames
    (`{"type": "order", "order": {...}}`): all of them first, then each one again when it
    changed, including the orders the table's other phones place. `look` reads the visit's
    orders (in a turn of `reads`), None once the visit has ended, which ends the stream. The
    frames carry no ids: a reconnected stream starts with every order again."""
    wake = fanout.watch(feed_reader.table_key(table_id))
    watched: set[str] = set()
    sent: dict[str, OrderRecord] = {}
    try:
        yield feed_reader.RETRY
        while True:
            wake.clear()
            try:
                async with reads:
                    placed = await look()
            except RedisError as e:
                log.warning('visit stream of %s ends: %s', table_id, e)
                return
            if placed is None:
                return
            for o in placed:
                if o.final and o.id in watched:
                    fanout.unwatch(o.id, wake)
                    watched.discard(o.id)
                elif not o.final and o.id not in watched:
                    fanout.watch(o.id, wake)
                    watched.add(o.id)
                if sent.get(o.id) != o:
                    sent[o.id] = o
                    data = json.dumps({'type': 'order', 'order': o.view()}, ensure_ascii=False)
                    yield f'data: {data}\n\n'
            try:
                await asyncio.wait_for(wake.wait(), feed_reader.KEEPALIVE_S)
            except TimeoutError:
                # Read again anyway, in case the feed reader was down meanwhile.
                yield ': keepalive\n\n'
    finally:
        fanout.unwatch(feed_reader.table_key(table_id), wake)
        for order_id in watched:
            fanout.unwatch(order_id, wake)


async def menu_message(r: Redis, cfg: RestaurantConfig) -> dict[str, Any]:
    """`{"type": "menu", "soldout": [...], "prices": {...}}`: what a diner's menu follows."""
    return {'type': 'menu', **(await menu.read_state(r, (d.id for d in cfg.dishes))).view()}


def menu_transform(r: Redis, cfg: RestaurantConfig) -> Transform:
    """The feed reader's messages when no console runs here: the menu after each change."""

    async def transform(entries: list[Entry], kinds: Kinds) -> list[tuple[str, dict[str, Any]]]:
        changed = [i for i, f in entries if f.get('type') == 'menu.changed']
        return [(changed[-1], await menu_message(r, cfg))] if changed else []

    return transform
