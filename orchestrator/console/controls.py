"""What an operator can do from the console, each refused with a reason when it cannot apply.

Robot commands go to `rd:control` for the fleet bridge; dish and order changes go through
`orchestrator.jobs` (which writes the order timeline); menu changes go to Redis and, as
`menu.changed`, to the feed that diner pages listen to. Every function returns a short summary
of what it did or raises Refused; the routes audit both.
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from orchestrator import jobs, timeline
from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.console.fleet import robot_kinds
from orchestrator.dispatch import trips

# Modes in which a robot cannot take a pause / dock order.
UNAVAILABLE = frozenset({'estopped', 'fault', 'lost', 'offline'})
# Order statuses in which the food is with a serving robot or the diner.
WITH_ROBOT = frozenset({timeline.DELIVERING, timeline.ARRIVED})
MAX_PRICE = 10_000_000


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _control(pipe: Pipeline | Redis, command: str, robot_id: str, by: str, **extra: str) -> Any:
    return pipe.xadd(keys.CONTROL, {'command': command, 'robot_id': robot_id, 'by': by, **extra})


async def _robot_mode(r: Redis, cfg: RestaurantConfig, robot_id: str) -> tuple[str, str]:
    """(kind, mode) of a configured robot; 'offline' if the fleet bridge never saw it."""
    kind = robot_kinds(cfg).get(robot_id)
    if kind is None:
        raise Refused(404, f'no robot {robot_id!r} in this restaurant')
    return kind, await r.hget(keys.robot(robot_id), 'mode') or 'offline'


async def pause_robot(r: Redis, cfg: RestaurantConfig, robot_id: str, by: str) -> str:
    _, mode = await _robot_mode(r, cfg, robot_id)
    if mode == 'paused':
        raise Refused(409, f'{robot_id} is already paused')
    if mode in UNAVAILABLE:
        raise Refused(409, f'{robot_id} is {mode}; it cannot be paused')
    await _control(r, 'pause', robot_id, by)
    return f'pause sent to {robot_id}'


async def resume_robot(r: Redis, cfg: RestaurantConfig, robot_id: str, by: str) -> str:
    _, mode = await _robot_mode(r, cfg, robot_id)
    if mode == 'estopped':
        raise Refused(409, f'{robot_id} is emergency-stopped; use "resume all"')
    if mode != 'paused':
        raise Refused(409, f'{robot_id} is not paused (it is {mode})')
    await _control(r, 'resume', robot_id, by)
    return f'resume sent to {robot_id}'


async def dock_robot(r: Redis, cfg: RestaurantConfig, robot_id: str, by: str) -> str:
    kind, mode = await _robot_mode(r, cfg, robot_id)
    if kind != 'serving':
        raise Refused(409, f'{robot_id} is a cooking robot; only serving robots dock')
    if mode in UNAVAILABLE or mode == 'paused':
        raise Refused(409, f'{robot_id} is {mode}; resume it first')
    if mode == 'charging':
        raise Refused(409, f'{robot_id} is already at its dock')
    carrying = await r.hget(keys.robot(robot_id), 'jobs')
    if carrying and json.loads(carrying):
        raise Refused(409, f'{robot_id} is carrying food; it docks after its trip')
    await _control(r, 'dock', robot_id, by)
    return f'{robot_id} sent to its dock'


async def stop_all(r: Redis, cfg: RestaurantConfig, by: str) -> str:
    robot_ids = list(robot_kinds(cfg))
    async with r.pipeline(transaction=True) as pipe:
        for rid in robot_ids:
            _control(pipe, 'estop', rid, by)
        await pipe.execute()
    return f'emergency stop sent to {len(robot_ids)} robots'


async def resume_all(r: Redis, cfg: RestaurantConfig, by: str) -> str:
    robot_ids = list(robot_kinds(cfg))
    async with r.pipeline(transaction=False) as pipe:
        for rid in robot_ids:
            pipe.hget(keys.robot(rid), 'mode')
        modes = await pipe.execute()
    stopped = [rid for rid, mode in zip(robot_ids, modes, strict=True) if mode == 'estopped']
    if not stopped:
        raise Refused(409, 'no robot is emergency-stopped')
    async with r.pipeline(transaction=True) as pipe:
        for rid in stopped:
            _control(pipe, 'release', rid, by)
        await pipe.execute()
    return f'release sent to {", ".join(stopped)}'


async def _open_order(r: Redis, order_id: str) -> dict[str, str]:
    order = await r.hgetall(keys.order(order_id))
    if not order:
        raise Refused(404, f'no order {order_id!r}')
    status = order.get('status', '')
    if status in timeline.FINAL:
        raise Refused(409, f'order {order_id} is already {status}')
    _not_on_a_trip(order)
    return order


def _not_on_a_trip(order: dict[str, str]) -> None:
    """Food with a serving robot, or claimed for its trip and being loaded, stays as it is."""
    status = order.get('status', '')
    if status in WITH_ROBOT or order.get('trip_id'):
        robot = order.get('robot_id') or 'a serving robot'
        state = status if status in WITH_ROBOT else 'being loaded'
        raise Refused(
            409, f'order {order["id"]} is {state} with {robot}; it can no longer be changed'
        )


def _line_jobs(order: dict[str, str], line: int | None) -> list[str]:
    lines = json.loads(order.get('lines') or '[]')
    if line is not None and not 0 <= line < len(lines):
        raise Refused(404, f'order {order["id"]} has no line {line}')
    return [
        f'{order["id"]}-{li:02d}-{u:02d}'
        for li, ln in enumerate(lines)
        for u in range(int(ln.get('quantity', 1)))
        if line is None or li == line
    ]


async def cancel(r: Redis, order_id: str, line: int | None, by: str) -> str:
    """Cancel a whole order or one line: unstarted dishes are withdrawn, dishes on a robot
    are wasted (the robot is told to stop); a whole order ends `cancelled` even if some of its
    dishes were already cooked."""
    order = await _open_order(r, order_id)
    job_ids = _line_jobs(order, line)
    async with r.pipeline(transaction=False) as pipe:
        for jid in job_ids:
            pipe.hget(keys.job(jid), 'status')
        before = await pipe.execute()
    open_jobs = [j for j, st in zip(job_ids, before, strict=True) if st not in jobs.SETTLED]
    if line is not None and not open_jobs:
        raise Refused(
            409,
            f'line {line} of order {order_id} has nothing left to cancel '
            f'(all {", ".join(sorted(set(before)))})',
        )
    results = [(await jobs.cancel_job(r, jid, by))['result'] for jid in open_jobs]
    if line is None:
        await _finish_cancelled(r, order_id, by)
    summary = {res: results.count(res) for res in set(results)}
    what = f'line {line} of order {order_id}' if line is not None else f'order {order_id}'
    done = ', '.join(f'{n} {res}' for res, n in sorted(summary.items())) or 'nothing to stop'
    return f'cancelled {what}: {done}'


async def _finish_cancelled(r: Redis, order_id: str, by: str) -> None:
    """Set the order cancelled unless cancelling its last dishes already did."""

    async def txn(pipe: Pipeline) -> None:
        order = await pipe.hgetall(keys.order(order_id))
        if order.get('status') in timeline.FINAL:
            return
        # Atomic with the dispatcher claiming the order for a trip (which watches it too).
        _not_on_a_trip(order)
        pipe.multi()
        timeline.add_event(pipe, order_id, 'order.cancelled', {'by': by}, timeline.CANCELLED)

    await r.transaction(txn, keys.order(order_id))


async def redeliver(r: Redis, order_id: str, by: str) -> str:
    """Send food that came back to the pass (nobody took it) out to its table again."""
    order = await r.hgetall(keys.order(order_id))
    if not order:
        raise Refused(404, f'no order {order_id!r}')
    if not order.get('returned'):
        raise Refused(
            409,
            f'order {order_id} is {order.get("status", "?")}, not back at the pass; '
            'only returned food is sent out again',
        )
    if not await trips.redeliver(r, order_id, by):
        raise Refused(409, f'order {order_id} is no longer waiting at the pass')
    return f'order {order_id} sent out again to {order.get("table_id", "its table")}'


async def bump(r: Redis, order_id: str, job_id: str, by: str) -> str:
    """A person cooked this dish: mark it cooked so the order moves on."""
    if not job_id.startswith(f'{order_id}-'):
        raise Refused(404, f'dish {job_id!r} is not part of order {order_id}')
    await _open_order(r, order_id)
    result = await jobs.complete_job(r, job_id, epoch=None, by=by)
    if result == 'missing':
        raise Refused(404, f'no dish {job_id!r}')
    if result != jobs.COOKED:
        already = jobs.COOKED if result == 'duplicate' else result
        raise Refused(409, f'dish {job_id} is already {already}')
    return f'{job_id} bumped'


async def requeue(r: Redis, dead_id: str, by: str) -> str:
    job_id = await jobs.requeue_dead(r, dead_id, by)
    if job_id is None:
        raise Refused(404, f'no dead-lettered job {dead_id!r} (already requeued?)')
    return f'{job_id} requeued'


async def dead_letters(r: Redis, count: int = 100) -> list[dict[str, str]]:
    return [{'id': i, **f} for i, f in await r.xrevrange(keys.DEAD, count=count)]


def _dish(cfg: RestaurantConfig, dish_id: str) -> str:
    dish = cfg.dish_by_id.get(dish_id)
    if dish is None:
        raise Refused(404, f'no dish {dish_id!r} on the menu')
    return dish.name.en


def _menu_changed(pipe: Pipeline, dish_id: str, by: str, **change: Any) -> None:
    timeline.add_feed_event(pipe, 'menu.changed', {'dish_id': dish_id, 'by': by, **change})


async def set_soldout(
    r: Redis, cfg: RestaurantConfig, dish_id: str, soldout: bool, by: str
) -> str:
    """86 a dish (or bring it back); intake refuses orders for it while it is in the set."""
    name = _dish(cfg, dish_id)
    if bool(await r.sismember(keys.SOLDOUT, dish_id)) == soldout:
        raise Refused(409, f'{name} is already {"sold out" if soldout else "available"}')
    async with r.pipeline(transaction=True) as pipe:
        (pipe.sadd if soldout else pipe.srem)(keys.SOLDOUT, dish_id)
        _menu_changed(pipe, dish_id, by, soldout=soldout)
        await pipe.execute()
    return f'{name} {"sold out" if soldout else "back on"}'


async def set_price(
    r: Redis, cfg: RestaurantConfig, dish_id: str, price: int | None, by: str
) -> str:
    """Override a dish's price (minor units), or go back to the configured one (None)."""
    name = _dish(cfg, dish_id)
    if price is not None and not 0 <= price <= MAX_PRICE:
        raise Refused(422, f'price must be between 0 and {MAX_PRICE}')
    base = cfg.dish_by_id[dish_id].price
    async with r.pipeline(transaction=True) as pipe:
        if price is None:
            pipe.delete(keys.price(dish_id))
        else:
            pipe.set(keys.price(dish_id), price)
        _menu_changed(pipe, dish_id, by, price=base if price is None else price)
        await pipe.execute()
    if price is None:
        return f'{name} price reset to {base}'
    return f'{name} price set to {price}'
