"""Orders and their timelines: `rd:order:{id}`, `rd:order:{id}:events`, `rd:table:{t}:orders`.

Everything that moves an order on — intake, the dispatcher, the console — records it through
`add_event`, so the diner's SSE stream, the order's timeline and the consoles' feed always
agree: the status and its event are written in one MULTI/EXEC or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from orchestrator import ids
from orchestrator import redis_keys as keys
from orchestrator.store import commands, feed
from orchestrator.store.records import changes, from_fields

# Order statuses, in the order a happy order passes through them.
RECEIVED = 'received'
COOKING = 'cooking'
READY = 'ready'
DELIVERING = 'delivering'
ARRIVED = 'arrived'
SERVED = 'served'
CANCELLED = 'cancelled'
FAILED = 'failed'
# The serving robot carrying it was lost mid-trip: an operator remakes it, marks it delivered
# by hand or cancels it (never left without an alert).
LOST_IN_TRANSIT = 'lost_in_transit'
FINAL = frozenset({SERVED, CANCELLED, FAILED})
# Statuses of an order that a serving trip has claimed.
ON_THE_WAY = frozenset({READY, DELIVERING, ARRIVED})
# The food is on a serving robot.
WITH_ROBOT = frozenset({DELIVERING, ARRIVED})
# A table rarely has more; older orders stay in Redis but the page does not need them.
TABLE_ORDERS_SHOWN = 50


@dataclass(frozen=True)
class OrderRecord:
    id: str
    table_id: str
    status: str
    total: int
    currency: str
    jobs_total: int
    created_at: int
    updated_at: int
    # Every line as priced at intake: dish_id, name, station, quantity, options, note,
    # unit_price, line_total.
    lines: list[dict[str, Any]] = field(default_factory=list)
    jobs_cooked: int = 0
    jobs_cooking: int = 0
    # Set while a serving trip carries it.
    trip_id: str = ''
    robot_id: str = ''
    # Came back to the pass (nobody took it): waits for an operator to send it again.
    returned: bool = False
    # The dining session (visit) it belongs to (store/sessions.py), set by the intake script.
    session_id: str = ''
    # When the food should reach the table (ms since the epoch; 0 = no estimate yet).
    eta_at: int = 0
    # Times it was cooked again after being lost in transit: round k's dish units are numbered
    # after the earlier rounds' (a robot's ledger answers a known job id from its record).
    remade: int = 0

    @property
    def final(self) -> bool:
        return self.status in FINAL

    def job_ids(self, line: int | None = None, remade: int | None = None) -> list[str]:
        """The job ids of every dish unit (of one line) of the current round (or `remade`)."""
        rnd = self.remade if remade is None else remade
        return [
            ids.job_id(self.id, li, rnd * q + u)
            for li, q in enumerate(int(ln.get('quantity', 1)) for ln in self.lines)
            for u in range(q)
            if line is None or li == line
        ]

    def all_job_ids(self) -> list[str]:
        """The job ids of every round (retention deletes them all)."""
        return [j for rnd in range(self.remade + 1) for j in self.job_ids(remade=rnd)]

    @property
    def estimate_at(self) -> int:
        """When the food should reach the table (ms), 0 if unknown: food that came back to the
        pass (nobody took it) waits to be sent again (the console's or the diner's
        `trips.redeliver`), so no estimate holds until then."""
        return 0 if self.returned else self.eta_at

    def view(self) -> dict[str, Any]:
        """The order as the diner API shows it."""
        eta_at = self.estimate_at
        return {
            'id': self.id,
            'table_id': self.table_id,
            'status': self.status,
            'lines': self.lines,
            'total': self.total,
            'currency': self.currency,
            'jobs_total': self.jobs_total,
            'jobs_cooked': self.jobs_cooked,
            'created_at': self.created_at,
            'updated_at': self.updated_at,
            'robot_id': self.robot_id or None,
            'returned': self.returned,
            'eta_at': eta_at or None,
            # Seconds from now, so that a phone whose clock is off still counts down right.
            'eta_s': max(0, round((eta_at - feed.now_ms()) / 1000)) if eta_at else None,
        }


def parse(h: dict[str, str]) -> OrderRecord | None:
    return from_fields(OrderRecord, h) if h and 'id' in h else None


def key_of_job(job_id: str) -> str:
    """The order hash a job belongs to: transactions on a job watch it too, so that the last
    two dishes of one order are serialised and exactly one of them sees "all cooked"."""
    return keys.order(ids.order_of_job(job_id))


async def get(r: Redis | Pipeline, order_id: str) -> OrderRecord | None:
    return parse(await r.hgetall(keys.order(order_id)))


async def get_many(r: Redis, order_ids: Iterable[str]) -> list[OrderRecord]:
    """The orders that exist among `order_ids`, in that order, in one round trip."""
    async with r.pipeline(transaction=False) as pipe:
        for order_id in order_ids:
            pipe.hgetall(keys.order(order_id))
        hashes = await pipe.execute()
    return [o for o in map(parse, hashes) if o is not None]


async def trip_state(pipe: Pipeline, order_id: str) -> tuple[str | None, str | None]:
    """(status, trip_id) of an order, inside a WATCHed transaction."""
    status, trip_id = await pipe.hmget(keys.order(order_id), 'status', 'trip_id')
    return status, trip_id


def watch_keys(order_ids: Iterable[str]) -> list[str]:
    return [keys.order(o) for o in order_ids]


# -- writes queued on a pipeline (one transaction with the caller's other writes) ---------


def add_event(
    pipe: Pipeline, order_id: str, kind: str, data: dict[str, Any], status: str | None = None
) -> None:
    """Queue on `pipe` the writes of one order event (and new status, if any): the order's
    timeline and the restaurant feed."""
    e = feed.event(order_id, kind, data)
    if status is not None:
        e = feed.FeedEvent(e.order_id, e.type, e.at, e.data, status)
        pipe.hset(
            keys.order(order_id), mapping=changes(OrderRecord, status=status, updated_at=e.at)
        )
    pipe.xadd(keys.order_events(order_id), feed.entry_fields(e))
    feed.add(pipe, e)


def count_dishes(
    pipe: Pipeline, order_id: str, cooked: int = 0, cooking: int = 0, total: int = 0
) -> None:
    """Queue changes of the order's dish counters."""
    key = keys.order(order_id)
    for name, delta in (('jobs_cooked', cooked), ('jobs_cooking', cooking), ('jobs_total', total)):
        if delta:
            pipe.hincrby(key, name, delta)


def assign_trip(pipe: Pipeline, order_id: str, trip_id: str, robot_id: str) -> None:
    pipe.hset(
        keys.order(order_id), mapping=changes(OrderRecord, trip_id=trip_id, robot_id=robot_id)
    )


def leave_trip(pipe: Pipeline, order_id: str, returned: bool) -> None:
    """The order is off its trip (refused, or the food came back to the pass)."""
    pipe.hdel(keys.order(order_id), 'trip_id', 'robot_id')
    if returned:
        pipe.hset(keys.order(order_id), mapping=changes(OrderRecord, returned=True))


def clear_returned(pipe: Pipeline, order_id: str) -> None:
    """Sent out again: its estimate, from before its first trip, is long past; the
    dispatcher gives it a new one while it waits at the pass."""
    pipe.hdel(keys.order(order_id), 'returned', 'eta_at')


def lose(pipe: Pipeline, order_id: str) -> None:
    """Off its trip, lost with its robot (which the order keeps naming)."""
    pipe.hdel(keys.order(order_id), 'trip_id')


def start_again(pipe: Pipeline, order_id: str, remade: int, total: int) -> None:
    """A new round of `total` dish units to cook (the food was lost)."""
    pipe.hdel(keys.order(order_id), 'robot_id', 'returned', 'eta_at')
    pipe.hset(
        keys.order(order_id),
        mapping=changes(
            OrderRecord, remade=remade, jobs_cooked=0, jobs_cooking=0, jobs_total=total
        ),
    )


async def set_etas(r: Redis, etas: Mapping[str, int]) -> None:
    """New estimates (order id -> ms) of when the food reaches the table: on each order and, as
    `order.eta`, on its timeline (the diner's page) and the feed (the console's ticket), all in
    one transaction."""
    if not etas:
        return
    async with r.pipeline(transaction=True) as pipe:
        for order_id, eta_at in etas.items():
            pipe.hset(keys.order(order_id), mapping=changes(OrderRecord, eta_at=eta_at))
            add_event(pipe, order_id, 'order.eta', {'eta_at': eta_at})
        await pipe.execute()


async def record(
    r: Redis,
    order_id: str,
    kind: str,
    data: dict[str, Any] | None = None,
    status: str | None = None,
) -> None:
    """Record an order event atomically (and set the order's status when given)."""
    async with r.pipeline(transaction=True) as pipe:
        add_event(pipe, order_id, kind, data or {}, status)
        await pipe.execute()


# -- the diner's view ------------------------------------------------------------------


def event_view(entry_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """A timeline entry as the API shows it."""
    e = feed.parse(fields)
    return {
        'id': entry_id,
        'type': e.type,
        'order_id': e.order_id,
        'at': e.at,
        'status': e.status or None,
        'data': e.payload(),
    }


async def of_table(r: Redis, table_id: str, order_id: str) -> OrderRecord | None:
    """The order, or None when there is no such order at this table."""
    if not ids.is_order_id(order_id):
        return None
    order = await get(r, order_id)
    return order if order is not None and order.table_id == table_id else None


async def timeline(r: Redis, order_id: str) -> list[dict[str, Any]]:
    return [event_view(i, f) for i, f in await r.xrange(keys.order_events(order_id))]


async def table_orders(r: Redis, table_id: str) -> list[OrderRecord]:
    """The table's latest orders, newest first."""
    order_ids = await r.zrevrange(keys.table_orders(table_id), 0, TABLE_ORDERS_SHOWN - 1)
    return await get_many(r, order_ids)


async def ids_since(r: Redis, table_ids: Iterable[str], since_ms: int) -> list[str]:
    """Ids of the tables' orders placed since `since_ms`, oldest first."""
    return [oid for oid, _, _ in await placed_between(r, table_ids, since_ms)]


async def placed_between(
    r: Redis, table_ids: Iterable[str], since_ms: float, until_ms: float | None = None
) -> list[tuple[str, str, int]]:
    """(order id, table id, created_at) of the tables' orders placed from `since_ms` to
    `until_ms` (both included; no end if None), oldest first, in one round trip."""
    tables = list(table_ids)
    async with r.pipeline(transaction=False) as pipe:
        for t in tables:
            pipe.zrangebyscore(
                keys.table_orders(t),
                since_ms,
                '+inf' if until_ms is None else until_ms,
                withscores=True,
            )
        per_table = await pipe.execute()
    placed = sorted(
        (int(score), oid, t)
        for t, rows in zip(tables, per_table, strict=True)
        for oid, score in rows
    )
    return [(oid, t, at) for at, oid, t in placed]


async def statuses(r: Redis, order_ids: Iterable[str]) -> list[str | None]:
    """The status of each order (None for one that does not exist), in one round trip."""
    async with r.pipeline(transaction=False) as pipe:
        for order_id in order_ids:
            pipe.hget(keys.order(order_id), 'status')
        return list(await pipe.execute())


async def events_after(
    r: Redis, order_id: str, after: str, count: int = 100
) -> list[tuple[str, dict[str, str]]]:
    """Up to `count` of the order's timeline entries after the entry id `after`."""
    return list(await r.xrange(keys.order_events(order_id), f'({after}', '+', count=count))


class PickupRefused(Exception):
    pass


async def request_pickup(r: Redis, table_id: str, order_id: str) -> None:
    """Ask the robot at the table to finish its stop: the diner has taken the food.

    Only an `arrived` order can be picked up; the status check and the writes are one WATCHed
    transaction, so a status change in between (a timeout sending the robot back) refuses it.
    """
    key = keys.order(order_id)
    async with r.pipeline(transaction=True) as pipe:
        try:
            await pipe.watch(key)
            status, robot_id, trip_id = await pipe.hmget(key, ['status', 'robot_id', 'trip_id'])
            if status != ARRIVED:
                raise PickupRefused(
                    f'order is {status}, not arrived: nothing to pick up yet'
                    if status not in FINAL
                    else f'order is already {status}'
                )
            if not robot_id:
                raise PickupRefused('no robot is carrying this order')
            pipe.multi()
            commands.add(
                pipe,
                commands.Command(
                    command='confirm_pickup',
                    robot_id=robot_id,
                    by='diner',
                    trip_id=trip_id or '',
                    table_id=table_id,
                    order_id=order_id,
                ),
            )
            add_event(
                pipe,
                order_id,
                'pickup.requested',
                {'robot_id': robot_id, 'trip_id': trip_id or '', 'by': 'diner'},
            )
            await pipe.execute()
        except WatchError as e:
            raise PickupRefused('order changed while confirming; please try again') from e
