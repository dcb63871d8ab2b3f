"""One reader of the restaurant feed per process, for every live stream the process serves.

A single background task XREADs `rd:feed`, turns each batch into messages (the console enriches
order events into whole tickets once, not once per client), serialises each message once as an
SSE frame and puts it on every subscriber's bounded queue. A hundred open consoles or a thousand
open diner menus therefore cost one blocked Redis connection and one JSON encoding per event. A
client too slow to keep up is not allowed to grow its queue: it is cut off with a `resync` frame
and reloads the snapshot.

A short backlog of recent frames lets a client resume from the feed id of its snapshot (or the
`Last-Event-ID` of a dropped EventSource) without missing what happened in between. It is bounded
in frames and in size: a console's `alerts` message carries the whole list of recent alerts
(tens of KB), and 2,000 of those in a row would hold tens of MB for the sake of a reconnect.

The transform runs only for what someone is subscribed to. While no subscriber takes every kind
of message (no console open in this process: with several API processes most have none), a
batch is transformed for the kinds subscribed (a diner's menu: `menu` only, which costs a read
only when the menu changed) and kept raw, as many entries as the backlog holds; the first
subscriber for every kind transforms what was kept into the backlog before it resumes from it.
Loading whole tickets for every order event was 40 % of an API process's busy time with no
console to show them to.

Order streams follow one order each: `watch(order_id)` gives a wake-up that is set whenever a
feed entry of that order arrives; the stream then reads what is new from the order's own
timeline, so its event ids are the timeline's and resumption needs no backlog here. A diner's
visit stream also watches its table (`watch(table_key(table_id))`), woken by the table's new
orders and its `table.*` events, which name the table in their data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from typing import Any

import redis.exceptions
from redis.asyncio import Redis

from orchestrator.store import feed
from orchestrator.tasks import cancel_requested

log = logging.getLogger(__name__)

Entry = tuple[str, dict[str, str]]
Kinds = frozenset[str] | None
# Turns a batch of feed entries into (feed id, message) pairs to broadcast: only messages of
# the given types, or all of them (None).
Transform = Callable[[list[Entry], Kinds], Awaitable[list[tuple[str, dict[str, Any]]]]]

RESYNC = 'event: resync\ndata: {}\n\n'
# First frame of every stream: how long a browser waits before reconnecting.
RETRY = 'retry: 2000\n\n'
# An idle stream gets a comment this often, so proxies keep it and dead clients show.
KEEPALIVE_S = 15.0


# Feed entries whose data names their table (`table_id`): what wakes a table's watchers.
TABLE_EVENTS = ('order.accepted', 'table.')


TABLE_PREFIX = 'table:'


def table_key(table_id: str) -> str:
    """The `Fanout.watch` key of a table (order ids never start so)."""
    return TABLE_PREFIX + table_id


def stream_id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition('-')
    return int(ms), int(seq or 0)


def sse_frame(entry_id: str, message: dict[str, Any]) -> str:
    data = json.dumps(message, ensure_ascii=False, separators=(',', ':'))
    return f'id: {entry_id}\ndata: {data}\n\n'


def wanted(kinds: Kinds, kind: str) -> bool:
    """Whether a message of type `kind` is among `kinds` (None: every kind)."""
    return kinds is None or kind in kinds


async def passthrough(entries: list[Entry], kinds: Kinds) -> list[tuple[str, dict[str, Any]]]:
    return [(i, {'id': i, **f}) for i, f in entries if wanted(kinds, f.get('type', ''))]


class Subscription:
    """One client's bounded queue of SSE frames; None means: closed, reload the snapshot.

    `kinds`, if given, are the message types it receives (a diner's menu gets `menu` only).
    """

    def __init__(self, size: int, kinds: Kinds = None) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(size)
        self.kinds = kinds
        self.closed = False

    def wants(self, kind: str) -> bool:
        return wanted(self.kinds, kind)

    def offer(self, frame: str) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.cut_off()

    def cut_off(self) -> None:
        """Drop what is queued and tell the client to resync; it reconnects after a snapshot."""
        self.closed = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(RESYNC)
        self.queue.put_nowait(None)


class Fanout:
    def __init__(
        self,
        redis: Redis,
        stream: str = feed.STREAM,
        transform: Transform = passthrough,
        queue_size: int = 512,
        backlog: int = 2000,
        block_ms: int = 2000,
        backlog_chars: int = 8 * 2**20,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.transform = transform
        self.queue_size = queue_size
        self.block_ms = block_ms
        self.subscribers: set[Subscription] = set()
        # Order id or `table_key` -> the wake-ups of the streams following it.
        self.watchers: dict[str, set[asyncio.Event]] = {}
        self.tables_watched = 0
        # (feed id, message type, frame) of the latest messages: at most `backlog` of them and
        # `backlog_chars` characters of frames together (the newest frame is always kept).
        self.backlog: deque[tuple[str, str, str]] = deque()
        self.backlog_max, self.backlog_chars = backlog, backlog_chars
        self.backlog_size = 0
        # Every feed entry after `horizon` is in the backlog (or was transformed away) or, read
        # while no subscriber took every kind, in `stash`, not yet transformed for all kinds.
        self.horizon = '0-0'
        self.stash: deque[Entry] = deque()
        # Held while a transform's messages go out, so a catch-up and a batch never interleave.
        self._lock = asyncio.Lock()
        # Where the reader is; None until it has found the end of the stream.
        self.last_id: str | None = None
        self.reads = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f'fanout {self.stream}')

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for sub in list(self.subscribers):
            sub.cut_off()

    async def subscribe(self, since: str | None = None, kinds: Kinds = None) -> Subscription:
        """A new subscriber, first fed what it missed after `since` (or a resync if too old)."""
        sub = Subscription(self.queue_size, kinds)
        if since and self.last_id is None:
            # Not reading yet (Redis unreachable): the client retries with a new snapshot.
            sub.cut_off()
            return sub
        async with self._lock:
            if kinds is None and self.stash:
                try:
                    await self._catch_up()
                except redis.exceptions.RedisError as e:
                    log.warning('feed catch-up failed, the console resyncs: %s', e)
                    sub.cut_off()
                    return sub
            self._replay(sub, since)
        return sub

    def _replay(self, sub: Subscription, since: str | None) -> None:
        if since:
            try:
                since_key = stream_id(since)
            except ValueError:
                since_key = (-1, 0)
            if since_key < stream_id(self.horizon):
                sub.cut_off()
                return
            for entry_id, kind, frame in self.backlog:
                if stream_id(entry_id) > since_key and sub.wants(kind):
                    sub.offer(frame)
        self.subscribers.add(sub)

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)

    async def frames(self, sub: Subscription, first: str = '') -> AsyncGenerator[str, None]:
        """A subscription's SSE frames with keep-alives, until either side ends it."""
        try:
            yield RETRY + first
            while True:
                try:
                    frame = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ': keep-alive\n\n'
                    continue
                if frame is None:
                    return
                yield frame
        finally:
            self.unsubscribe(sub)

    def watch(self, key: str, wake: asyncio.Event | None = None) -> asyncio.Event:
        """A wake-up (`wake`, or a new one) set whenever a feed entry of the order (or of the
        table, for a `table_key`) is read. Clear it before reading what it announces, so that
        nothing written after the read goes unnoticed."""
        wake = wake or asyncio.Event()
        watching = self.watchers.setdefault(key, set())
        if key.startswith(TABLE_PREFIX) and wake not in watching:
            self.tables_watched += 1
        watching.add(wake)
        return wake

    def unwatch(self, key: str, wake: asyncio.Event) -> None:
        watching = self.watchers.get(key)
        if watching is not None and wake in watching:
            watching.discard(wake)
            self.tables_watched -= key.startswith(TABLE_PREFIX)
            if not watching:
                del self.watchers[key]

    async def _run(self) -> None:
        delay = 0.1
        while not cancel_requested():
            try:
                if self.last_id is None:
                    self.last_id = self.horizon = await feed.last_id(self.redis, self.stream)
                self.reads += 1
                entries = await feed.read(
                    self.redis, self.last_id, self.block_ms, 500, self.stream
                )
                delay = 0.1
            except redis.exceptions.RedisError as e:
                if cancel_requested():
                    return
                log.warning('feed reader: %s; retrying in %.1f s', e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if not entries:
                continue
            self.last_id = entries[-1][0]
            self._wake(entries)
            async with self._lock:
                await self._deliver(entries)

    async def _deliver(self, entries: list[Entry]) -> None:
        """Transform a batch for the kinds subscribed and offer it: into the backlog when some
        subscriber takes every kind, else also kept raw for a later catch-up."""
        full = any(sub.kinds is None for sub in self.subscribers)
        try:
            if full:
                self.stash.extend(entries)
                self._offer(await self._catch_up())
                return
            self._keep(entries)
            if kinds := frozenset(k for s in self.subscribers for k in s.kinds or ()):
                messages = await self.transform(entries, kinds)
                self._offer([(kind, frame) for _, kind, frame in _framed(messages)])
        except redis.exceptions.RedisError as e:
            log.warning('feed transform failed, streams resync: %s', e)
            self._resync_all(entries[-1][0])

    async def _catch_up(self) -> list[tuple[str, str]]:
        """Transform the kept entries for every kind into the backlog; their (kind, frame)s."""
        messages = await self.transform(list(self.stash), None)
        self.stash.clear()
        return self._record(messages)

    def _keep(self, entries: list[Entry]) -> None:
        """Keep entries raw for a catch-up, as many as the backlog holds; the oldest go, and
        with them what the backlog had (older still): a client from before resyncs."""
        self.stash.extend(entries)
        while len(self.stash) > self.backlog_max:
            self.horizon = self.stash.popleft()[0]
            self.backlog.clear()
            self.backlog_size = 0

    def _record(self, messages: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str]]:
        """Append messages to the backlog (bounded); returns their (kind, frame)s."""
        out = []
        for entry_id, kind, frame in _framed(messages):
            self.backlog.append((entry_id, kind, frame))
            self.backlog_size += len(frame)
            while len(self.backlog) > 1 and (
                len(self.backlog) > self.backlog_max or self.backlog_size > self.backlog_chars
            ):
                self.horizon, _, dropped = self.backlog.popleft()
                self.backlog_size -= len(dropped)
            out.append((kind, frame))
        return out

    def _offer(self, frames: list[tuple[str, str]]) -> None:
        for kind, frame in frames:
            for sub in list(self.subscribers):
                if sub.wants(kind):
                    sub.offer(frame)
                if sub.closed:
                    self.subscribers.discard(sub)

    def _wake(self, entries: list[Entry]) -> None:
        for _, fields in entries:
            for wake in self.watchers.get(fields.get('order_id', ''), ()):
                wake.set()
            # Only while a table is watched: parsing every new order's data costs.
            if self.tables_watched and fields.get('type', '').startswith(TABLE_EVENTS):
                with contextlib.suppress(ValueError, AttributeError):
                    table_id = json.loads(fields.get('data') or '{}').get('table_id')
                    for wake in self.watchers.get(table_key(str(table_id)), ()):
                        wake.set()

    def _resync_all(self, entry_id: str) -> None:
        self.backlog.clear()
        self.backlog_size = 0
        self.stash.clear()
        self.horizon = entry_id
        for sub in list(self.subscribers):
            sub.cut_off()
        self.subscribers.clear()


def _framed(messages: list[tuple[str, dict[str, Any]]]) -> Iterator[tuple[str, str, str]]:
    """(feed id, message type, SSE frame) of each message."""
    for entry_id, message in messages:
        yield entry_id, str(message.get('type', '')), sse_frame(entry_id, message)
