"""The console's own alert checks, run in the background of the API processes.

Lost robots, dead-lettered dishes and pickups that timed out are raised where they happen (the
dispatcher); the console raises `order_late` itself, once per order, when a ticket passes
`age_late_s` of simulated time (real age × time scale, like everything in `service`),
`robot_fault`, once per fault, when a robot's mirrored mode is `fault`, `robot_stuck` when
another robot has held a serving robot up for `traffic_stuck_s` (simulated), `robot_at_closure`
when a serving robot waits before a closure no way leads round, and `battery_low`
when a serving robot will soon leave service to charge, for hours (the dispatcher announces
it when it goes: `robot_charging`; what restaurants hold against serving robots is that they
leave for the charger without warning). An alert whose cause is gone resolves by itself
(`resolve_gone`): one about an order once the order is over, one about a robot once a
heartbeat heard after it says the robot is past it; the console stops counting it.
Every API process
starts the checks, one of them runs each (`store.duties`: N processes looking would cost N
times the reads, ~9 % of an API process's CPU in `bench/scale.py`), and another takes a check
over when that one stops; the once-markers (`store.alerts.raise_once`) keep an alert single
across such a hand-over.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial

import redis.exceptions
from redis.asyncio import Redis

from orchestrator.config import Battery, RestaurantConfig
from orchestrator.console import tickets
from orchestrator.held_up import closed_before, held_up_by
from orchestrator.store import alerts, duties, orders, robots
from orchestrator.store.feed import now_ms
from orchestrator.store.orders import FINAL
from orchestrator.store.robots import RobotRecord
from orchestrator.tasks import cancel_requested, nap
from orchestrator.texts import Said

log = logging.getLogger(__name__)
# Simulated seconds between two late checks (ticket ages are minutes), real seconds between
# two fault checks (faults want attention now); a check runs at most once a real second.
LATE_CHECK_S = 15.0
FAULT_CHECK_S = 2.0
MIN_CHECK_S = 1.0
# Periods a process that runs a check may miss before another takes it over.
HOLD_PERIODS = 3
# Alerts that ask for an order to move on (sent again, cooked, served): once it is served,
# cancelled or failed, their cause is gone.
ORDER_ALERTS = frozenset({'order_late', 'pickup_timeout', 'delivery_failed'})
# `battery_low` is raised this far above `battery.low`: some 20-30 minutes of service at the
# default drain, time to charge the robot in a lull rather than lose it mid-rush.
BATTERY_WARN_MARGIN = 0.05


def _heard(s: RobotRecord, _: Battery) -> bool:
    """The robot is heard again (past going quiet or lost)."""
    return s.mode not in ('unreachable', 'lost')


# Alerts about a robot's condition, and whether a state of the robot is past it.
ROBOT_ALERTS: dict[str, Callable[[RobotRecord, Battery], bool]] = {
    'robot_unreachable': _heard,
    'robot_lost': _heard,
    'robot_fault': lambda s, _: s.mode != 'fault',
    'robot_stuck': lambda s, _: not (s.mode == 'busy' and held_up_by(s.detail)),
    'battery_low': lambda s, b: s.mode == 'charging' or s.battery >= b.low + BATTERY_WARN_MARGIN,
    'robot_charging': lambda s, _: s.mode != 'charging',
}


class LateOrders:
    """Raises `order_late` for every open order older than age_late_s (simulated: the real age
    times `time_scale`), once, looking at each order about once.

    An order turns late at a fixed time, `created_at` + age_late_s, and a final order never
    opens again, so a check only needs the orders that crossed that line since the last one:
    those placed up to the new cut-off after the previous cut-off. Looking at every order of the
    service window instead (as this check once did, whole tickets and their cook jobs, every
    second at a fast clock) costs CPU and a working set in proportion to the day's orders, and
    the API process's memory grew with every order (issue 14). The first check after a start
    looks at the whole window once, in chunks; a failed check moves nothing, so the next one
    looks again (the once-markers keep an alert from being raised twice).

    The window reaches `OVERLAP_MS` behind the previous cut-off for an order whose intake took
    that long (its score is when it was priced, not when Redis stored it); the orders already
    looked at in that overlap are remembered, and forgotten once behind it.
    """

    # Real milliseconds each check looks back behind the previous cut-off.
    OVERLAP_MS = 10_000
    # Orders whose status one round trip reads (the first check reads the whole window).
    CHUNK = 500

    def __init__(self, r: Redis, cfg: RestaurantConfig, time_scale: float = 1.0) -> None:
        self.r, self.cfg, self.time_scale = r, cfg, time_scale
        # Orders placed up to here have been looked at (None: nothing yet, since the start).
        self.checked_to: int | None = None
        # Order id -> created_at of the orders looked at within OVERLAP_MS of `checked_to`.
        self.looked_at: dict[str, int] = {}

    def _is_late(self, created_at: int, now: int) -> bool:
        return int((now - created_at) * self.time_scale) >= self.cfg.service.age_late_s * 1000

    async def raise_late(self) -> int:
        """One look; returns how many alerts it raised."""
        now = now_ms()
        cutoff = now - int(self.cfg.service.age_late_s * 1000 / self.time_scale)
        since = now - tickets.WINDOW_MS
        if self.checked_to is not None:
            since = max(since, self.checked_to - self.OVERLAP_MS)
        placed = await orders.placed_between(
            self.r, (t.id for t in self.cfg.tables), since, cutoff
        )
        due = [p for p in placed if p[0] not in self.looked_at and self._is_late(p[2], now)]
        raised = 0
        done: dict[str, int] = {}
        for i in range(0, len(due), self.CHUNK):
            chunk = due[i : i + self.CHUNK]
            found = await orders.statuses(self.r, [oid for oid, _, _ in chunk])
            for (oid, table_id, created_at), status in zip(chunk, found, strict=True):
                if status is not None and status not in FINAL:
                    raised += await self._raise(oid, table_id, created_at, status, now)
                done[oid] = created_at
        self.checked_to = max(cutoff, self.checked_to or cutoff)
        horizon = self.checked_to - self.OVERLAP_MS
        self.looked_at = {oid: at for oid, at in (self.looked_at | done).items() if at >= horizon}
        return raised

    async def _raise(self, oid: str, table_id: str, created_at: int, status: str, now: int) -> int:
        table = self.cfg.table_by_id.get(table_id)
        age_ms = int((now - created_at) * self.time_scale)
        return int(
            await alerts.raise_once(
                self.r,
                'order_late',
                oid,
                'warning',
                Said(
                    'alert.texts.order_late',
                    {
                        'table': table.name.en if table else table_id,
                        'table_id': table_id,
                        'order': oid,
                        'minutes': age_ms // 60000,
                        'status': status,
                    },
                ),
                ttl_s=tickets.WINDOW_MS // 1000,
                order_id=oid,
                table_id=table_id,
            )
        )


async def raise_late_orders(r: Redis, cfg: RestaurantConfig, time_scale: float = 1.0) -> int:
    """Raise `order.late` for every open order of the service window older than age_late_s
    (simulated), once; returns how many. One whole look: the background check is a
    `LateOrders` that looks only at what is new."""
    return await LateOrders(r, cfg, time_scale).raise_late()


class RobotAlerts:
    """Raises `robot_fault` when a robot reports fault, once per fault, and `robot_stuck` when
    another robot has held a serving robot up (its obstacle stop, or the traffic controller)
    for `service.traffic_stuck_s` (simulated) on end, once per such wait, and `battery_low`
    when a serving robot's battery is within `BATTERY_WARN_MARGIN` of `battery.low` (until it
    charges); clears each marker when its condition is over, so the next one raises a new
    alert.

    A wait is timed from the first look that saw it: a robot's state says who holds it up, not
    since when. A look after a gap longer than `GAP_PERIODS` periods (another process ran the
    check meanwhile, or none did) times every wait afresh: what it remembers may be over."""

    GAP_PERIODS = 2

    def __init__(self, r: Redis, cfg: RestaurantConfig, time_scale: float = 1.0) -> None:
        self.r, self.cfg, self.time_scale = r, cfg, time_scale
        self.serving = {s.id for s in cfg.serving_robots}
        # Serving robot -> when a look first saw it held up (real ms); the last look.
        self.held_since: dict[str, int] = {}
        self.looked_at = 0

    async def check(self) -> int:
        """One look; returns how many alerts it raised."""
        now = now_ms()
        if now - self.looked_at > self.GAP_PERIODS * FAULT_CHECK_S * 1000:
            self.held_since = {}
        self.looked_at = now
        states = {
            rid: s
            for rid, s in (await robots.get_many(self.r, self.cfg.robot_kinds)).items()
            if s is not None
        }
        faulty = {rid: s for rid, s in states.items() if s.mode == 'fault'}
        held = {rid: s for rid, s in states.items() if s.mode == 'busy' and held_up_by(s.detail)}
        self.held_since = {rid: self.held_since.get(rid, now) for rid in held}
        serving = {rid: s for rid, s in states.items() if rid in self.serving}
        warn_below = self.cfg.battery.low + BATTERY_WARN_MARGIN
        low = {
            rid: s for rid, s in serving.items() if s.mode != 'charging' and s.battery < warn_below
        }
        await alerts.clear_once(self.r, ['robot_fault'], *(r for r in states if r not in faulty))
        await alerts.clear_once(self.r, ['robot_stuck'], *(r for r in states if r not in held))
        await alerts.clear_once(self.r, ['battery_low'], *(r for r in serving if r not in low))
        at_closure = {rid: s for rid, s in serving.items() if closed_before(s.detail)}
        await alerts.clear_once(
            self.r, ['robot_at_closure'], *(r for r in serving if r not in at_closure)
        )
        raised = 0
        for rid, state in faulty.items():
            raised += await alerts.raise_once(
                self.r,
                'robot_fault',
                rid,
                'critical',
                Said('alert.texts.robot_fault', {'robot': rid, 'detail': state.detail or '—'}),
                robot_id=rid,
            )
        for rid, state in held.items():
            held_s = (now - self.held_since[rid]) * self.time_scale / 1000
            if held_s >= self.cfg.service.traffic_stuck_s:
                raised += await alerts.raise_once(
                    self.r,
                    'robot_stuck',
                    rid,
                    'warning',
                    Said(
                        'alert.texts.robot_stuck',
                        {
                            'robot': rid,
                            'by': held_up_by(state.detail),
                            'minutes': round(held_s / 60),
                            'detail': state.detail,
                        },
                    ),
                    robot_id=rid,
                )
        for rid, state in at_closure.items():
            raised += await alerts.raise_once(
                self.r,
                'robot_at_closure',
                rid,
                'warning',
                Said(
                    'alert.texts.robot_at_closure',
                    {'robot': rid, 'closure': closed_before(state.detail), 'detail': state.detail},
                ),
                robot_id=rid,
            )
        battery = self.cfg.battery
        out_for = _charge_minutes(battery, battery.charged - battery.low)
        for rid, state in low.items():
            raised += await alerts.raise_once(
                self.r,
                'battery_low',
                rid,
                'info',
                Said(
                    'alert.texts.battery_low',
                    {
                        'robot': rid,
                        'battery': round(state.battery * 100),
                        'low': round(battery.low * 100),
                        'hours': out_for // 60,
                        'minutes': out_for % 60,
                    },
                ),
                robot_id=rid,
            )
        return raised


async def resolve_gone(r: Redis, cfg: RestaurantConfig) -> int:
    """Resolve the open alerts (of those the console shows) whose cause is gone: an
    `ORDER_ALERTS` one whose order is over (or gone), a `ROBOT_ALERTS` one whose robot a
    heartbeat heard after the alert says is past it (so not on a state mirrored before it was
    raised); returns how many."""
    shown = [a for a in await alerts.recent(r) if not alerts.handled(a)]
    of_orders = [a for a in shown if a.get('kind') in ORDER_ALERTS and a.get('order_id')]
    of_robots = [a for a in shown if a.get('kind') in ROBOT_ALERTS and a.get('robot_id')]
    over = []
    if of_orders:
        found = await orders.statuses(r, [a['order_id'] for a in of_orders])
        over += [a['id'] for a, st in zip(of_orders, found, strict=True) if not st or st in FINAL]
    if of_robots:
        states = await robots.get_many(r, {a['robot_id'] for a in of_robots})
        for a in of_robots:
            s = states[a['robot_id']]
            if (
                s is not None
                and s.seen_at > int(a['at'])
                and ROBOT_ALERTS[a['kind']](s, cfg.battery)
            ):
                over.append(a['id'])
    await alerts.resolve(r, over)
    return len(over)


def _charge_minutes(battery: Battery, fraction: float) -> int:
    """How many minutes charging `fraction` of a full charge takes."""
    return round(fraction / battery.charge_per_h * 60)


async def periodic(
    r: Redis, name: str, check: Callable[[], Awaitable[int]], every_s: float, holder: str
) -> None:
    """Run a check every `every_s` for the life of the process while `holder` (this process)
    holds it, surviving Redis outages."""
    ttl_ms = int(HOLD_PERIODS * every_s * 1000)
    try:
        while not cancel_requested():
            try:
                if await duties.hold(r, name, holder, ttl_ms):
                    await check()
            except redis.exceptions.ConnectionError:
                pass
            except (redis.exceptions.RedisError, ValueError) as e:
                log.warning('alert check %s failed: %s', name, e)
            await nap(every_s)
    finally:
        await duties.release(r, name, holder)


def checkers(
    r: Redis, cfg: RestaurantConfig, time_scale: float
) -> list[Coroutine[None, None, None]]:
    """The console's own alert checks, to run as background tasks."""
    holder = secrets.token_hex(8)
    late_s = max(MIN_CHECK_S, LATE_CHECK_S / time_scale)
    return [
        periodic(r, 'order_late', LateOrders(r, cfg, time_scale).raise_late, late_s, holder),
        periodic(r, 'robot_alerts', RobotAlerts(r, cfg, time_scale).check, FAULT_CHECK_S, holder),
        periodic(r, 'alerts_resolved', partial(resolve_gone, r, cfg), FAULT_CHECK_S, holder),
    ]
