"""What an operator can do from the console, each refused with a reason when it cannot apply.

Robot commands are queued for the dispatcher (`store.commands`); dish and order changes go
through `store.jobs` and `store.trips` (which write the order timeline); menu changes through
`store.menu`, which tells diner pages. Every function returns a short summary of what it did or
raises Refused, each a text of the console's table by its key and values (`texts.Said`, in
English for the audit trail, in the operator's language on the console); the routes audit both.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from redis.asyncio import Redis

from orchestrator import ids
from orchestrator.closures import MAX_CLOSURES, ClosureError, Closures, closure_name, refusal
from orchestrator.config import RestaurantConfig
from orchestrator.store import closures, commands, jobs, menu, orders, robots, trips
from orchestrator.store.commands import Command
from orchestrator.store.feed import now_ms
from orchestrator.store.orders import OrderRecord
from orchestrator.store.robots import RobotRecord
from orchestrator.texts import Refused, Said

# Modes in which a robot cannot take a pause, resume or dock order. A robot in `fault` (its
# driver cannot drive on by itself and retries) can be paused, which stops the retries, and
# resumed; it is not sent to its dock, which would be one more goal for the same failing driver.
UNAVAILABLE = frozenset({'estopped', 'unreachable', 'lost', 'offline'})
# Order statuses in which the food is with a serving robot or the diner.
WITH_ROBOT = frozenset({orders.DELIVERING, orders.ARRIVED})
MAX_PRICE = 10_000_000
# A robot this close to its dock (m) is at it: the robots' own stop tolerance is smaller.
AT_DOCK_M = 0.3


async def _robot(r: Redis, cfg: RestaurantConfig, robot_id: str) -> tuple[str, RobotRecord]:
    """(kind, last state) of a configured robot; mode 'offline' if it was never heard."""
    kind = cfg.robot_kinds.get(robot_id)
    if kind is None:
        raise Refused(404, 'no_robot', robot=robot_id)
    state = await robots.get(r, robot_id)
    if state is None or not state.mode:
        return kind, RobotRecord(robot_id, kind, mode='offline')
    return kind, state


def _unavailable(robot_id: str, mode: str, what: str) -> Refused:
    """Why a robot out of reach or stopped cannot take a command (`what`: pause, resume or
    dock), and what to do instead (resuming a robot that is unreachable or lost does nothing)."""
    if mode == 'estopped':
        return Refused(409, 'resume_estopped', robot=robot_id)
    return Refused(409, f'cannot_{what}', robot=robot_id, mode=mode)


async def pause_robot(
    r: Redis, cfg: RestaurantConfig, robot_id: str, by: str, ttl_s: float
) -> Said:
    mode = (await _robot(r, cfg, robot_id))[1].mode
    if mode == 'paused':
        raise Refused(409, 'already_paused', robot=robot_id)
    if mode in UNAVAILABLE:
        raise _unavailable(robot_id, mode, 'pause')
    await _send_once(r, Command('pause', robot_id, by), ttl_s)
    return Said('done.pause_sent', {'robot': robot_id})


async def resume_robot(
    r: Redis, cfg: RestaurantConfig, robot_id: str, by: str, ttl_s: float
) -> Said:
    mode = (await _robot(r, cfg, robot_id))[1].mode
    if mode in UNAVAILABLE:
        raise _unavailable(robot_id, mode, 'resume')
    if mode != 'paused':
        raise Refused(409, 'not_paused', robot=robot_id, mode=mode)
    await _send_once(r, Command('resume', robot_id, by), ttl_s)
    return Said('done.resume_sent', {'robot': robot_id})


async def dock_robot(
    r: Redis, cfg: RestaurantConfig, robot_id: str, by: str, ttl_s: float
) -> Said:
    kind, state = await _robot(r, cfg, robot_id)
    mode = state.mode
    if kind != 'serving':
        raise Refused(409, 'cooking_robot_dock', robot=robot_id)
    if mode in UNAVAILABLE:
        raise _unavailable(robot_id, mode, 'dock')
    if mode == 'fault':
        raise Refused(409, 'dock_fault', robot=robot_id)
    if mode == 'paused':
        raise Refused(409, 'resume_first', robot=robot_id, mode=mode)
    if mode == 'charging':
        raise Refused(409, 'charging_at_dock', robot=robot_id)
    if state.jobs:
        raise Refused(409, 'carrying_food', robot=robot_id)
    dock = cfg.floor.points[cfg.serving_robot_by_id[robot_id].dock]
    if mode == 'idle' and math.hypot(state.x - dock.x, state.y - dock.y) <= AT_DOCK_M:
        raise Refused(409, 'at_dock', robot=robot_id, dock=dock.id)
    await _send_once(r, Command('dock', robot_id, by), ttl_s)
    return Said('done.dock_sent', {'robot': robot_id})


async def _send_once(r: Redis, c: Command, ttl_s: float) -> None:
    """Queue a robot command, refused (409) while the same one waits for a dispatcher: a
    second tap applies nothing, so it is told so and audited as refused, as a second cancel
    is (the robot's state, which the other checks read, changes only once it has run it)."""
    if not await commands.send_once(r, c, ttl_s):
        raise Refused(409, f'{c.command}_queued', robot=c.robot_id)


async def stop_all(r: Redis, cfg: RestaurantConfig, by: str, ttl_s: float) -> Said:
    """Queue an e-stop for every robot. Queued is not applied: each robot's answer (ok,
    refused, or expired when no dispatcher ran it within `ttl_s`) comes as a `robot.estop`
    audit entry, which the console shows against this request."""
    robot_ids = list(cfg.robot_kinds)
    await commands.send(r, *(Command('estop', rid, by) for rid in robot_ids))
    return Said(
        'done.estop_queued',
        {'n': len(robot_ids), 'robots': ', '.join(robot_ids), 'ttl': f'{ttl_s:g}'},
    )


async def resume_all(r: Redis, cfg: RestaurantConfig, by: str) -> Said:
    states = await robots.get_many(r, cfg.robot_kinds)
    stopped = [rid for rid, s in states.items() if s is not None and s.mode == 'estopped']
    if not stopped:
        raise Refused(409, 'none_estopped')
    await commands.send(r, *(Command('release', rid, by) for rid in stopped))
    return Said('done.release_sent', {'robots': ', '.join(stopped)})


async def _open_order(r: Redis, order_id: str) -> OrderRecord:
    order = await orders.get(r, order_id) if ids.is_order_id(order_id) else None
    if order is None:
        raise Refused(404, 'no_order', order=order_id)
    _still_open(order)
    return order


def _not_on_a_trip(order: OrderRecord) -> None:
    """Food with a serving robot, or claimed for its trip and being loaded, stays as it is."""
    if order.status in WITH_ROBOT or order.trip_id:
        where = 'with_robot' if order.status in WITH_ROBOT else 'being_loaded'
        if not order.robot_id:
            raise Refused(409, f'{where}_any', order=order.id, status=order.status)
        raise Refused(409, where, order=order.id, status=order.status, robot=order.robot_id)


async def cancel(r: Redis, order_id: str, line: int | None, by: str) -> Said:
    """Cancel a whole order or one line: unstarted and dead-lettered dishes are withdrawn,
    dishes on a robot are wasted (the robot is told to stop); a whole order ends `cancelled`
    even if some of its dishes were already cooked."""
    order = await _open_order(r, order_id)
    if line is None:
        cancelled = await jobs.cancel_order(r, order_id, order.job_ids(), by, _still_open)
        results = [c.result for c in cancelled]
    else:
        results = await _cancel_line(r, order, line, by)
    counts = {'withdrawn': results.count(jobs.WITHDRAWN), 'wasted': results.count(jobs.WASTED)}
    if line is None:
        return Said('done.cancelled_order', {'order': order_id, **counts})
    return Said('done.cancelled_line', {'order': order_id, 'line': line, **counts})


async def _cancel_line(r: Redis, order: OrderRecord, line: int, by: str) -> list[str]:
    """Cancel one line's dishes still to cook (the order goes on, ready once the rest is)."""
    if not 0 <= line < len(order.lines):
        raise Refused(404, 'no_line', order=order.id, line=line)
    job_ids = order.job_ids(line)
    before = await jobs.statuses(r, job_ids)
    open_jobs = [j for j, st in zip(job_ids, before, strict=True) if st not in jobs.FINISHED]
    done = [await jobs.cancel(r, jid, by) for jid in open_jobs]
    # Nothing was open, or another tap (another operator) cancelled it meanwhile.
    if not any(c.changed for c in done):
        now = [c.result for c in done] or [str(s) for s in before]
        status = ', '.join(sorted(set(now)))
        raise Refused(409, 'line_done', order=order.id, line=line, status=status)
    return [c.result for c in done if c.changed]


def _still_open(order: OrderRecord | None) -> None:
    """Refuse to cancel an order that ended or left for its table meanwhile."""
    if order is None:
        raise Refused(404, 'order_gone')
    if order.final:
        raise Refused(409, 'order_final', order=order.id, status=order.status)
    _not_on_a_trip(order)


async def redeliver(r: Redis, order_id: str, by: str) -> Said:
    """Send food that came back to the pass (nobody took it) out to its table again."""
    order = await orders.get(r, order_id) if ids.is_order_id(order_id) else None
    if order is None:
        raise Refused(404, 'no_order', order=order_id)
    if not order.returned:
        raise Refused(409, 'not_returned', order=order_id, status=order.status or '?')
    if not await trips.redeliver(r, order_id, by):
        raise Refused(409, 'not_waiting', order=order_id)
    return Said('done.redelivered', {'order': order_id, 'table': order.table_id or '?'})


async def settle_lost(r: Redis, order_id: str, choice: str, by: str) -> Said:
    """The operator's choice for food lost with its robot: remake, delivered by hand, cancel."""
    if not ids.is_order_id(order_id) or await orders.get(r, order_id) is None:
        raise Refused(404, 'no_order', order=order_id)
    try:
        return await trips.settle_lost(r, order_id, choice, by)
    except trips.NotLost as e:
        raise Refused(409, 'not_lost', order=order_id, status=str(e)) from e


async def _dish_of_open_order(r: Redis, order_id: str, job_id: str) -> None:
    parsed = ids.parse_job_id(job_id)
    if parsed is None or parsed.order_id != order_id:
        raise Refused(404, 'not_in_order', job=job_id, order=order_id)
    await _open_order(r, order_id)


async def bump(r: Redis, order_id: str, job_id: str, by: str) -> Said:
    """A person cooked this dish (a dead-lettered one too): mark it cooked so the order moves
    on."""
    await _dish_of_open_order(r, order_id, job_id)
    result = await jobs.complete(r, job_id, epoch=None, by=by)
    if result == 'missing':
        raise Refused(404, 'no_dish', job=job_id)
    if result != jobs.COOKED:
        already = jobs.COOKED if result == 'duplicate' else result
        raise Refused(409, 'dish_final', job=job_id, status=already)
    return Said('done.bumped', {'job': job_id})


async def drop(r: Redis, order_id: str, job_id: str, by: str) -> Said:
    """Give up one dish (a dead-lettered one, typically): the order goes on without it, and
    is ready when the rest is cooked."""
    await _dish_of_open_order(r, order_id, job_id)
    [status] = await jobs.statuses(r, [job_id])
    if status is None:
        raise Refused(404, 'no_dish', job=job_id)
    done = await jobs.cancel(r, job_id, by)
    if not done.changed:  # settled already, maybe by another tap meanwhile
        raise Refused(409, 'dish_final', job=job_id, status=done.result)
    return Said('done.dropped', {'job': job_id, 'status': done.result})


async def requeue(r: Redis, dead_id: str, by: str) -> Said:
    job_id = await jobs.requeue_dead(r, dead_id, by)
    if job_id is None:
        raise Refused(404, 'no_dead', dead=dead_id)
    return Said('done.requeued', {'job': job_id})


def _dish(cfg: RestaurantConfig, dish_id: str) -> str:
    """A dish's English name: a text's `{dish}`, beside `{dish_id}` (the console names it)."""
    dish = cfg.dish_by_id.get(dish_id)
    if dish is None:
        raise Refused(404, 'not_on_menu', dish=dish_id)
    return dish.name.en


async def set_soldout(
    r: Redis, cfg: RestaurantConfig, dish_id: str, soldout: bool, by: str
) -> Said:
    """86 a dish (or bring it back); intake refuses orders for it while it is in the set."""
    name = _dish(cfg, dish_id)
    if not await menu.set_soldout(r, dish_id, soldout, by):  # so already, maybe by another tap
        reason = 'already_soldout' if soldout else 'already_available'
        raise Refused(409, reason, dish=name, dish_id=dish_id)
    return Said('done.soldout' if soldout else 'done.back_on', {'dish': name, 'dish_id': dish_id})


async def set_price(
    r: Redis, cfg: RestaurantConfig, dish_id: str, price: int | None, by: str
) -> Said:
    """Override a dish's price (minor units), or go back to the configured one (None)."""
    dish = {'dish': _dish(cfg, dish_id), 'dish_id': dish_id}
    if price is not None and not 0 <= price <= MAX_PRICE:
        raise Refused(422, 'bad_price', field='price', max=MAX_PRICE)
    base = cfg.dish_by_id[dish_id].price
    await menu.set_price(r, dish_id, price, base if price is None else price, by)
    if price is None:
        return Said('done.price_reset', {**dish, 'price': base})
    return Said('done.price_set', {**dish, 'price': price})


# -- Re-route: closed aisles and waypoints (orchestrator/closures.py) -------------------------


def _closure(cfg: RestaurantConfig, a: str, b: str | None) -> str:
    try:
        return closure_name(cfg.floor, a, b)
    except ClosureError as e:
        raise Refused(404, e.what, **e.values) from e


async def close_floor(
    r: Redis, cfg: RestaurantConfig, a: str, b: str | None, by: str, traffic: bool
) -> Said:
    """Close waypoint `a`, or the aisle `a`-`b`: refused while the robots ask no traffic
    controller (nothing would keep them out), when already closed, one too many, or when the
    pass, or a dock's every way to it, would be closed."""
    name = _closure(cfg, a, b)
    if not traffic:
        raise Refused(409, 'closure_no_traffic', closure=name)

    def decide(now: closures.Closed) -> dict[str, dict[str, object]]:
        if name in now.closed:
            raise Refused(409, 'already_closed', closure=name)
        if len(now.closed) >= MAX_CLOSURES:
            raise Refused(409, 'too_many_closures', max=MAX_CLOSURES)
        after = {**now.closed, name: {'by': by, 'at': now_ms()}}
        if (why := refusal(cfg, Closures.of(cfg.floor, after))) is not None:
            raise Refused(409, why.what, closure=name, **why.values)
        return after

    await _change_closures(r, decide, by)
    return Said('done.floor_closed', {'closure': name})


async def reopen_floor(r: Redis, cfg: RestaurantConfig, a: str, b: str | None, by: str) -> Said:
    name = _closure(cfg, a, b)

    def decide(now: closures.Closed) -> dict[str, dict[str, object]]:
        if name not in now.closed:
            raise Refused(409, 'not_closed', closure=name)
        return {n: c for n, c in now.closed.items() if n != name}

    await _change_closures(r, decide, by)
    return Said('done.floor_reopened', {'closure': name})


async def _change_closures(
    r: Redis, decide: Callable[[closures.Closed], dict[str, dict[str, object]]], by: str
) -> None:
    try:
        await closures.change(r, decide, by)
    except closures.Busy as e:
        raise Refused(409, 'closures_busy') from e
