"""What an operator can do from the console, each refused with a reason when it cannot apply.

Robot commands are queued for the dispatcher (`store.commands`); dish and order changes go
through `store.jobs` and `store.trips` (which write the order timeline); menu changes through
`store.menu`, which tells diner pages. Every function returns a short summary of what it did or
raises Refused; the routes audit both.
"""

from __future__ import annotations

import math

from redis.asyncio import Redis

from orchestrator import ids
from orchestrator.config import RestaurantConfig
from orchestrator.store import commands, jobs, menu, orders, robots, trips
from orchestrator.store.commands import Command
from orchestrator.store.orders import OrderRecord
from orchestrator.store.robots import RobotRecord

# Modes in which a robot cannot take a pause / dock order.
UNAVAILABLE = frozenset({'estopped', 'fault', 'unreachable', 'lost', 'offline'})
# Order statuses in which the food is with a serving robot or the diner.
WITH_ROBOT = frozenset({orders.DELIVERING, orders.ARRIVED})
MAX_PRICE = 10_000_000
# A robot this close to its dock (m) is at it: the robots' own stop tolerance is smaller.
AT_DOCK_M = 0.3


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def _robot(r: Redis, cfg: RestaurantConfig, robot_id: str) -> tuple[str, RobotRecord]:
    """(kind, last state) of a configured robot; mode 'offline' if it was never heard."""
    kind = cfg.robot_kinds.get(robot_id)
    if kind is None:
        raise Refused(404, f'no robot {robot_id!r} in this restaurant')
    state = await robots.get(r, robot_id)
    if state is None or not state.mode:
        return kind, RobotRecord(robot_id, kind, mode='offline')
    return kind, state


def _unavailable(robot_id: str, mode: str, what: str) -> Refused:
    """Why a robot out of reach or stopped cannot take a command, and what to do instead
    (resuming a robot that is unreachable or lost does nothing)."""
    if mode == 'estopped':
        return Refused(409, f'{robot_id} is emergency-stopped; use "resume all"')
    return Refused(409, f'{robot_id} is {mode}; it cannot be {what}')


async def pause_robot(r: Redis, cfg: RestaurantConfig, robot_id: str, by: str) -> str:
    mode = (await _robot(r, cfg, robot_id))[1].mode
    if mode == 'paused':
        raise Refused(409, f'{robot_id} is already paused')
    if mode in UNAVAILABLE:
        raise _unavailable(robot_id, mode, 'paused')
    await commands.send(r, Command('pause', robot_id, by))
    return f'pause sent to {robot_id}'


async def resume_robot(r: Redis, cfg: RestaurantConfig, robot_id: str, by: str) -> str:
    mode = (await _robot(r, cfg, robot_id))[1].mode
    if mode in UNAVAILABLE:
        raise _unavailable(robot_id, mode, 'resumed')
    if mode != 'paused':
        raise Refused(409, f'{robot_id} is not paused (it is {mode})')
    await commands.send(r, Command('resume', robot_id, by))
    return f'resume sent to {robot_id}'


async def dock_robot(r: Redis, cfg: RestaurantConfig, robot_id: str, by: str) -> str:
    kind, state = await _robot(r, cfg, robot_id)
    mode = state.mode
    if kind != 'serving':
        raise Refused(409, f'{robot_id} is a cooking robot; only serving robots dock')
    if mode in UNAVAILABLE:
        raise _unavailable(robot_id, mode, 'sent to its dock')
    if mode == 'paused':
        raise Refused(409, f'{robot_id} is paused; resume it first')
    if mode == 'charging':
        raise Refused(409, f'{robot_id} is already at its dock')
    if state.jobs:
        raise Refused(409, f'{robot_id} is carrying food; it docks after its trip')
    dock = cfg.floor.points[cfg.serving_robot_by_id[robot_id].dock]
    if mode == 'idle' and math.hypot(state.x - dock.x, state.y - dock.y) <= AT_DOCK_M:
        raise Refused(409, f'{robot_id} is already at {dock.id}')
    await commands.send(r, Command('dock', robot_id, by))
    return f'{robot_id} sent to its dock'


async def stop_all(r: Redis, cfg: RestaurantConfig, by: str, ttl_s: float) -> str:
    """Queue an e-stop for every robot. Queued is not applied: each robot's answer (ok,
    refused, or expired when no dispatcher ran it within `ttl_s`) comes as a `robot.estop`
    audit entry, which the console shows against this request."""
    robot_ids = list(cfg.robot_kinds)
    await commands.send(r, *(Command('estop', rid, by) for rid in robot_ids))
    return (
        f'emergency stop queued for {len(robot_ids)} robots ({", ".join(robot_ids)}); '
        f'each robot acknowledges it in the audit log, or it expires after {ttl_s:g} s'
    )


async def resume_all(r: Redis, cfg: RestaurantConfig, by: str) -> str:
    states = await robots.get_many(r, cfg.robot_kinds)
    stopped = [rid for rid, s in states.items() if s is not None and s.mode == 'estopped']
    if not stopped:
        raise Refused(409, 'no robot is emergency-stopped')
    await commands.send(r, *(Command('release', rid, by) for rid in stopped))
    return f'release sent to {", ".join(stopped)}'


async def _open_order(r: Redis, order_id: str) -> OrderRecord:
    order = await orders.get(r, order_id) if ids.is_order_id(order_id) else None
    if order is None:
        raise Refused(404, f'no order {order_id!r}')
    _still_open(order)
    return order


def _not_on_a_trip(order: OrderRecord) -> None:
    """Food with a serving robot, or claimed for its trip and being loaded, stays as it is."""
    if order.status in WITH_ROBOT or order.trip_id:
        robot = order.robot_id or 'a serving robot'
        state = order.status if order.status in WITH_ROBOT else 'being loaded'
        raise Refused(
            409, f'order {order.id} is {state} with {robot}; it can no longer be changed'
        )


async def cancel(r: Redis, order_id: str, line: int | None, by: str) -> str:
    """Cancel a whole order or one line: unstarted and dead-lettered dishes are withdrawn,
    dishes on a robot are wasted (the robot is told to stop); a whole order ends `cancelled`
    even if some of its dishes were already cooked."""
    order = await _open_order(r, order_id)
    if line is None:
        cancelled = await jobs.cancel_order(r, order_id, order.job_ids(), by, _still_open)
        results = [c.result for c in cancelled]
    else:
        results = await _cancel_line(r, order, line, by)
    summary = {res: results.count(res) for res in set(results)}
    what = f'line {line} of order {order_id}' if line is not None else f'order {order_id}'
    done = ', '.join(f'{n} {res}' for res, n in sorted(summary.items())) or 'nothing to stop'
    return f'cancelled {what}: {done}'


async def _cancel_line(r: Redis, order: OrderRecord, line: int, by: str) -> list[str]:
    """Cancel one line's dishes still to cook (the order goes on, ready once the rest is)."""
    if not 0 <= line < len(order.lines):
        raise Refused(404, f'order {order.id} has no line {line}')
    job_ids = order.job_ids(line)
    before = await jobs.statuses(r, job_ids)
    open_jobs = [j for j, st in zip(job_ids, before, strict=True) if st not in jobs.FINISHED]
    done = [await jobs.cancel(r, jid, by) for jid in open_jobs]
    # Nothing was open, or another tap (another operator) cancelled it meanwhile.
    if not any(c.changed for c in done):
        now = [c.result for c in done] or [str(s) for s in before]
        raise Refused(
            409,
            f'line {line} of order {order.id} has nothing left to cancel '
            f'(all {", ".join(sorted(set(now)))})',
        )
    return [c.result for c in done if c.changed]


def _still_open(order: OrderRecord | None) -> None:
    """Refuse to cancel an order that ended or left for its table meanwhile."""
    if order is None:
        raise Refused(404, 'the order is gone')
    if order.final:
        raise Refused(409, f'order {order.id} is already {order.status}')
    _not_on_a_trip(order)


async def redeliver(r: Redis, order_id: str, by: str) -> str:
    """Send food that came back to the pass (nobody took it) out to its table again."""
    order = await orders.get(r, order_id) if ids.is_order_id(order_id) else None
    if order is None:
        raise Refused(404, f'no order {order_id!r}')
    if not order.returned:
        raise Refused(
            409,
            f'order {order_id} is {order.status or "?"}, not back at the pass; '
            'only returned food is sent out again',
        )
    if not await trips.redeliver(r, order_id, by):
        raise Refused(409, f'order {order_id} is no longer waiting at the pass')
    return f'order {order_id} sent out again to {order.table_id or "its table"}'


async def settle_lost(r: Redis, order_id: str, choice: str, by: str) -> str:
    """The operator's choice for food lost with its robot: remake, delivered by hand, cancel."""
    if not ids.is_order_id(order_id) or await orders.get(r, order_id) is None:
        raise Refused(404, f'no order {order_id!r}')
    try:
        done = await trips.settle_lost(r, order_id, choice, by)
    except trips.NotLost as e:
        raise Refused(
            409, f'order {order_id} is {e}, not lost in transit; nothing to decide'
        ) from e
    return f'order {order_id} {done}'


async def _dish_of_open_order(r: Redis, order_id: str, job_id: str) -> None:
    parsed = ids.parse_job_id(job_id)
    if parsed is None or parsed.order_id != order_id:
        raise Refused(404, f'dish {job_id!r} is not part of order {order_id}')
    await _open_order(r, order_id)


async def bump(r: Redis, order_id: str, job_id: str, by: str) -> str:
    """A person cooked this dish (a dead-lettered one too): mark it cooked so the order moves
    on."""
    await _dish_of_open_order(r, order_id, job_id)
    result = await jobs.complete(r, job_id, epoch=None, by=by)
    if result == 'missing':
        raise Refused(404, f'no dish {job_id!r}')
    if result != jobs.COOKED:
        already = jobs.COOKED if result == 'duplicate' else result
        raise Refused(409, f'dish {job_id} is already {already}')
    return f'{job_id} bumped'


async def drop(r: Redis, order_id: str, job_id: str, by: str) -> str:
    """Give up one dish (a dead-lettered one, typically): the order goes on without it, and
    is ready when the rest is cooked."""
    await _dish_of_open_order(r, order_id, job_id)
    [status] = await jobs.statuses(r, [job_id])
    if status is None:
        raise Refused(404, f'no dish {job_id!r}')
    done = await jobs.cancel(r, job_id, by)
    if not done.changed:  # settled already, maybe by another tap meanwhile
        raise Refused(409, f'dish {job_id} is already {done.result}')
    return f'{job_id} dropped ({done.result})'


async def requeue(r: Redis, dead_id: str, by: str) -> str:
    job_id = await jobs.requeue_dead(r, dead_id, by)
    if job_id is None:
        raise Refused(404, f'no dead-lettered job {dead_id!r} (already requeued?)')
    return f'{job_id} requeued'


def _dish(cfg: RestaurantConfig, dish_id: str) -> str:
    dish = cfg.dish_by_id.get(dish_id)
    if dish is None:
        raise Refused(404, f'no dish {dish_id!r} on the menu')
    return dish.name.en


async def set_soldout(
    r: Redis, cfg: RestaurantConfig, dish_id: str, soldout: bool, by: str
) -> str:
    """86 a dish (or bring it back); intake refuses orders for it while it is in the set."""
    name = _dish(cfg, dish_id)
    if await menu.is_soldout(r, dish_id) == soldout:
        raise Refused(409, f'{name} is already {"sold out" if soldout else "available"}')
    await menu.set_soldout(r, dish_id, soldout, by)
    return f'{name} {"sold out" if soldout else "back on"}'


async def set_price(
    r: Redis, cfg: RestaurantConfig, dish_id: str, price: int | None, by: str
) -> str:
    """Override a dish's price (minor units), or go back to the configured one (None)."""
    name = _dish(cfg, dish_id)
    if price is not None and not 0 <= price <= MAX_PRICE:
        raise Refused(422, f'price must be between 0 and {MAX_PRICE}')
    base = cfg.dish_by_id[dish_id].price
    await menu.set_price(r, dish_id, price, base if price is None else price, by)
    if price is None:
        return f'{name} price reset to {base}'
    return f'{name} price set to {price}'
