"""Serving trips: `rd:trip:{trip_id}` and the delivery fields of the orders on them.

A trip is created with epoch 1 by the dispatcher that plans it and carries that epoch in its
Deliver goal; a dispatcher that takes over a trip whose lease ran out raises the epoch and
re-sends the goal. Every write names the epoch and is refused (and counted as a fenced write)
when the trip has moved on, so a paused dispatcher cannot mark anything served or returned.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from orchestrator import ids
from orchestrator import redis_keys as keys
from orchestrator.store import alerts, deliveries, jobs, orders, replication, stats
from orchestrator.store.feed import now_ms
from orchestrator.store.records import changes, from_fields, to_fields
from orchestrator.store.replication import Replicas
from orchestrator.texts import Said

# Finished trips are kept this long for the console's history.
DONE_TTL_S = 24 * 3600
ACTIVE, DONE = 'active', 'done'
# The outcome of a trip whose robot was lost with the food on board.
LOST = 'lost'


@dataclass(frozen=True)
class Stop:
    """One table of a trip: the trays (0-based) carrying its orders, and what is on them."""

    table_id: str
    trays: tuple[int, ...]
    order_ids: tuple[str, ...]
    items: tuple[str, ...]


@dataclass(frozen=True)
class TripRecord:
    trip_id: str
    robot_id: str
    epoch: int = 0
    owner: str = ''
    lease_until: int = 0
    status: str = ACTIVE
    # The orders it carries and their delivery entries, in the same order.
    orders: list[str] = field(default_factory=list)
    entries: list[str] = field(default_factory=list)
    stops: list[dict[str, Any]] = field(default_factory=list)
    created_at: int = 0
    outcome: str = ''
    finished_at: int = 0

    def stop_list(self) -> list[Stop]:
        return [
            Stop(s['table_id'], tuple(s['trays']), tuple(s['order_ids']), tuple(s['items']))
            for s in self.stops
        ]


async def get(r: Redis | Pipeline, trip_id: str) -> TripRecord | None:
    h = await r.hgetall(keys.trip(trip_id))
    return from_fields(TripRecord, h) if h and 'trip_id' in h else None


class RobotBusy(Exception):
    """The robot is on another active trip: another dispatcher's, which the robot's heartbeats
    do not list yet (two dispatchers saw it come free at once)."""

    def __init__(self, robot_id: str, trip_id: str) -> None:
        super().__init__(f'{robot_id} is on trip {trip_id}')
        self.trip_id = trip_id


async def create(
    r: Redis,
    trip_id: str,
    robot_id: str,
    owner: str,
    lease_s: float,
    entries: dict[str, str],
    plan: Callable[[list[str]], list[Stop]],
) -> list[Stop]:
    """Assign to the trip those of the orders (`{order_id: delivery entry id}`) that are still
    ready and unassigned; returns the trip's stops (`plan` of those orders), none if no order
    was left. Raises `RobotBusy`, writing nothing, while the robot's last trip is active and
    under a live lease (one whose owner died is taken over, with its robot, by another)."""

    async def txn(pipe: Pipeline) -> list[Stop]:
        if last := await pipe.get(keys.robot_trip(robot_id)):
            status, lease_until = await pipe.hmget(keys.trip(last), 'status', 'lease_until')
            if status == ACTIVE and int(lease_until or 0) > now_ms():
                raise RobotBusy(robot_id, last)
        taken = []
        for order_id in entries:
            status, trip = await orders.trip_state(pipe, order_id)
            if status == orders.READY and not trip:
                taken.append(order_id)
        pipe.multi()
        if not taken:
            return []
        stops = plan(taken)
        for order_id in taken:
            orders.assign_trip(pipe, order_id, trip_id, robot_id)
        record = TripRecord(
            trip_id=trip_id,
            robot_id=robot_id,
            epoch=1,
            owner=owner,
            lease_until=now_ms() + int(lease_s * 1000),
            orders=taken,
            entries=[entries[o] for o in taken],
            stops=[asdict(s) for s in stops],
            created_at=now_ms(),
        )
        pipe.hset(keys.trip(trip_id), mapping=to_fields(record))
        pipe.set(keys.robot_trip(robot_id), trip_id)
        return stops

    watched = [keys.robot_trip(robot_id), *orders.watch_keys(entries)]
    return list(await r.transaction(txn, *watched, value_from_callable=True))


async def _fenced_write(
    r: Redis,
    trip_id: str,
    epoch: int,
    write: Callable[[Pipeline, TripRecord], Awaitable[Any]],
) -> Any:
    """Run `write(pipe, trip)` in a transaction if the trip is still at `epoch`; else None."""

    async def txn(pipe: Pipeline) -> Any:
        trip = await get(pipe, trip_id)
        if trip is None or trip.epoch != epoch or trip.status != ACTIVE:
            return None
        return await write(pipe, trip)

    out = await r.transaction(txn, keys.trip(trip_id), value_from_callable=True)
    if out is None:
        await stats.bump(r, 'fenced_writes')
    return out


async def _orders_on_trip(
    pipe: Pipeline, trip_id: str, order_ids: list[str], statuses: frozenset[str]
) -> list[str]:
    out = []
    for order_id in order_ids:
        status, trip = await orders.trip_state(pipe, order_id)
        if trip == trip_id and status in statuses:
            out.append(order_id)
    return out


async def record(
    r: Redis,
    trip_id: str,
    epoch: int,
    order_ids: list[str],
    kind: str,
    data: dict[str, Any],
    status: str | None = None,
    only: frozenset[str] = orders.ON_THE_WAY,
) -> bool:
    """An event (and status) for the trip's orders that are still on it."""

    async def write(pipe: Pipeline, trip: TripRecord) -> bool:
        mine = await _orders_on_trip(pipe, trip_id, order_ids, only)
        pipe.multi()
        for order_id in mine:
            orders.add_event(pipe, order_id, kind, {'trip_id': trip_id, **data}, status)
        return True

    return bool(await _fenced_write(r, trip_id, epoch, write))


async def returned(
    r: Redis,
    trip_id: str,
    epoch: int,
    order_ids: list[str],
    table_id: str,
    reason: str,
    alert_kind: str,
) -> bool:
    """The food came back to the pass: the order is `ready` again (not re-dispatched — an
    operator decides, see `redeliver`) and an alert says why."""

    async def write(pipe: Pipeline, trip: TripRecord) -> bool:
        mine = await _orders_on_trip(pipe, trip_id, order_ids, orders.ON_THE_WAY)
        pipe.multi()
        for order_id in mine:
            orders.leave_trip(pipe, order_id, returned=True)
            orders.add_event(
                pipe,
                order_id,
                'delivery.returned',
                {'trip_id': trip_id, 'table_id': table_id, 'returned': True, 'reason': reason},
                orders.READY,
            )
            alerts.add(
                pipe,
                alert_kind,
                'warning',
                Said(
                    'alert.texts.food_returned',
                    {'order': order_id, 'table': table_id, 'reason': reason},
                ),
                order_id=order_id,
                robot_id=trip.robot_id,
                trip_id=trip_id,
            )
        return True

    return bool(await _fenced_write(r, trip_id, epoch, write))


async def finish(r: Redis, trip_id: str, epoch: int, outcome: str) -> bool:
    """The trip is over: its delivery entries are acknowledged and deleted."""

    async def write(pipe: Pipeline, trip: TripRecord) -> bool:
        pipe.multi()
        _finish(pipe, trip, outcome)
        return True

    return bool(await _fenced_write(r, trip_id, epoch, write))


async def release(r: Redis, trip_id: str, epoch: int) -> bool:
    """The robot refused the trip before leaving: its orders are plain `ready` again."""

    async def write(pipe: Pipeline, trip: TripRecord) -> bool:
        mine = await _orders_on_trip(pipe, trip_id, trip.orders, frozenset({orders.READY}))
        pipe.multi()
        for order_id in mine:
            orders.leave_trip(pipe, order_id, returned=False)
        pipe.delete(keys.trip(trip_id))
        return True

    return bool(await _fenced_write(r, trip_id, epoch, write))


_RENEW = """
local t = redis.call('TIME')
local j = redis.call('HMGET', KEYS[1], 'status', 'epoch', 'owner')
if tonumber(j[2]) == tonumber(ARGV[1]) and j[3] == ARGV[2] then
  -- Ours; finished meanwhile, it has nothing to keep. Finished under another dispatcher's
  -- epoch, it is fenced like any other write of a stale holder.
  if j[1] == 'active' then
    redis.call('HSET', KEYS[1], 'lease_until', tonumber(t[1]) * 1000 + tonumber(ARGV[3]))
  end
  return 1
end
redis.call('HINCRBY', KEYS[2], 'fenced_writes', 1)
return 0
"""

# Take over an active trip whose lease ran out, or re-take one's own trip at the epoch one
# holds: epoch + 1. ARGV: owner, lease_ms, expect_epoch ('' = none).
_TAKEOVER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local j = redis.call('HMGET', KEYS[1], 'status', 'lease_until', 'epoch', 'owner')
if j[1] ~= 'active' then return 0 end
local mine = ARGV[3] ~= '' and tonumber(ARGV[3]) == tonumber(j[3]) and j[4] == ARGV[1]
if tonumber(j[2]) >= now and not mine then return 0 end
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'lease_until', now + tonumber(ARGV[2]))
return epoch
"""


async def renew(
    r: Redis,
    trip_id: str,
    epoch: int,
    owner: str,
    lease_s: float,
    replicas: Replicas | None = None,
) -> tuple[bool, bool]:
    """Extend the trip's lease: whether it is still ours (or finished meanwhile under our
    epoch; one another dispatcher took over and finished is not, nor is a trip that is gone,
    as a failover that lost its creation leaves it), and whether `replicas`
    confirmed it and every write before it."""
    (res,), replicated = await replication.written(
        r,
        replicas,
        lambda pipe: pipe.eval(
            _RENEW, 2, keys.trip(trip_id), stats.KEY, epoch, owner, int(lease_s * 1000)
        ),
    )
    return bool(res), replicated


async def take_over(
    r: Redis, trip_id: str, owner: str, lease_s: float, expect_epoch: int | None = None
) -> int:
    """The new epoch, or 0 when the trip is done or still held by a live dispatcher."""
    return int(
        await r.eval(
            _TAKEOVER,
            1,
            keys.trip(trip_id),
            owner,
            int(lease_s * 1000),
            '' if expect_epoch is None else str(expect_epoch),
        )
    )


async def redeliver(r: Redis, order_id: str, by: str) -> bool:
    """Send a returned order out again (the console's choice after a pickup timeout); False if
    it is not a returned order waiting at the pass (sent out already, served, cancelled)."""

    async def txn(pipe: Pipeline) -> bool:
        order = await orders.get(pipe, order_id)
        if order is None or order.status != orders.READY or order.trip_id or not order.returned:
            return False
        pipe.multi()
        orders.clear_returned(pipe, order_id)
        deliveries.enqueue(pipe, order_id, order.table_id, by)
        orders.add_event(pipe, order_id, 'delivery.requeued', {'by': by})
        return True

    return bool(await r.transaction(txn, *orders.watch_keys([order_id]), value_from_callable=True))


async def lost(
    r: Redis, trip_id: str, epoch: int, where: str, alert_kind: str = 'food_lost_in_transit'
) -> list[str]:
    """The trip's robot was lost mid-trip (`where`: its last known place): the trip fails
    (`lost`), every order it had set off with goes `lost_in_transit` with one critical alert
    naming the robot, the place and the tables. Orders still `ready` on it (the robot never
    reported moving: the food is at the pass) are queued for delivery again. Returns the lost
    orders; [] when fenced."""

    async def write(pipe: Pipeline, trip: TripRecord) -> list[str]:
        mine = await _orders_on_trip(pipe, trip_id, trip.orders, orders.WITH_ROBOT)
        left = await _orders_on_trip(pipe, trip_id, trip.orders, frozenset({orders.READY}))
        tables = {o: s.table_id for s in trip.stop_list() for o in s.order_ids}
        pipe.multi()
        for order_id in left:
            orders.leave_trip(pipe, order_id, returned=False)
            deliveries.enqueue(pipe, order_id, tables[order_id], 'dispatcher')
            reason = f'{trip.robot_id} was lost before it left the pass'
            orders.add_event(pipe, order_id, 'delivery.requeued', {'reason': reason})
        for order_id in mine:
            orders.lose(pipe, order_id)
            orders.add_event(
                pipe,
                order_id,
                'delivery.lost',
                {'trip_id': trip_id, 'robot_id': trip.robot_id, 'table_id': tables[order_id]},
                orders.LOST_IN_TRANSIT,
            )
        if mine:
            carried = ', '.join(f'{tables[o]} ({o})' for o in mine)
            alerts.add(
                pipe,
                alert_kind,
                'critical',
                Said(
                    'alert.texts.food_lost_in_transit',
                    {'robot': trip.robot_id, 'where': where, 'carried': carried},
                ),
                robot_id=trip.robot_id,
                trip_id=trip_id,
                order_id=mine[0],
                table_id=tables[mine[0]],
            )
        _finish(pipe, trip, LOST)
        return mine

    out = await _fenced_write(r, trip_id, epoch, write)
    return list(out) if out is not None else []


def _finish(pipe: Pipeline, trip: TripRecord, outcome: str) -> None:
    deliveries.ack(pipe, *trip.entries)
    pipe.hset(
        keys.trip(trip.trip_id),
        mapping=changes(TripRecord, status=DONE, outcome=outcome, finished_at=now_ms()),
    )
    pipe.expire(keys.trip(trip.trip_id), DONE_TTL_S)


class NotLost(Exception):
    """The order is not (or no longer) lost in transit: nothing to decide."""


async def settle_lost(r: Redis, order_id: str, choice: str, by: str) -> Said:
    """An operator's choice for an order lost in transit: 'remake' (its dishes are cooked
    again, as new jobs that keep the order's time so the policy puts them before newer
    orders), 'delivered' (the food reached the table by hand: served) or 'cancel'. Raises
    NotLost when the order is not lost in transit; returns what was done."""

    async def txn(pipe: Pipeline) -> Said:
        order = await orders.get(pipe, order_id)
        if order is None or order.status != orders.LOST_IN_TRANSIT:
            raise NotLost(order.status if order is not None else 'missing')
        old = [await jobs.get(pipe, j) for j in order.job_ids()]
        pipe.multi()
        if choice == 'delivered':
            orders.add_event(
                pipe, order_id, 'delivery.served', {'by': by, 'by_hand': True}, orders.SERVED
            )
            return Said('done.lost_delivered', {'order': order_id})
        if choice == 'cancel':
            data = {'by': by, 'reason': 'lost in transit'}
            orders.add_event(pipe, order_id, 'order.cancelled', data, orders.CANCELLED)
            return Said('done.lost_cancelled', {'order': order_id})
        remade, total = order.remade + 1, 0
        for job, job_id in zip(old, order.job_ids(remade=remade), strict=True):
            if job is None:
                continue
            entry = replace(job.entry(), job_id=job_id, arrived_at=order.created_at)
            if job.status == jobs.COOKED:
                jobs.queue(pipe, entry)
                total += 1
            else:  # withdrawn or wasted before the trip: stays so in the new round
                pipe.hset(keys.job(job_id), mapping=jobs.hash_fields(replace(job, **vars(entry))))
        orders.start_again(pipe, order_id, remade, total)
        orders.add_event(
            pipe, order_id, 'order.remade', {'by': by, 'dishes': total}, orders.COOKING
        )
        return Said('done.lost_remade', {'order': order_id, 'n': total})

    if choice not in ('remake', 'delivered', 'cancel'):
        raise ValueError(f'unknown choice {choice!r}')
    if not ids.is_order_id(order_id):
        raise NotLost('missing')
    done = await r.transaction(txn, *orders.watch_keys([order_id]), value_from_callable=True)
    assert isinstance(done, Said)
    return done


async def active_count(r: Redis) -> int:
    """Trips still under way (the rush simulator waits for none)."""
    n = 0
    async for key in r.scan_iter(keys.trip('*')):
        n += await r.hget(key, 'status') == ACTIVE
    return n
