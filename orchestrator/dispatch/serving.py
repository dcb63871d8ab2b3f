"""Ready orders to serving robots: trips, their progress on the diner's timeline, and returns.

Orders arrive from `rd:deliveries` once every dish is cooked. After a short scaled wait (or at
once when the trays are full; longer, within `service.batch_window_s`, while a neighbour's food
is about to be ready, see `delivery.due`) the oldest ready order and its neighbours become a
trip for the free serving robot that has been waiting longest. Feedback moves the orders to
`delivering` (with ETA, throttled progress) and `arrived`; a confirmed pickup (or the robot's
DELIVERED stop result) makes them `served`. A NOT_PICKED_UP stop brings them back `ready` with
an operator alert and is not re-sent on its own. A robot lost mid-trip fails its trip: the
orders on it go `lost_in_transit` with an alert (an operator decides each); if it is heard again
still holding that trip, it is told to cancel it (it brings the food back to the pass) and the
console says so.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from orchestrator import ids
from orchestrator.config import RestaurantConfig, ServingRobot
from orchestrator.dispatch import delivery
from orchestrator.dispatch.context import DispatchContext
from orchestrator.dispatch.delivery import Coming, ReadyOrder
from orchestrator.dispatch.eta import STAGE_MARGIN, fetch_s
from orchestrator.dispatch.robot_view import RobotView
from orchestrator.dispatch.ros_bridge import DELIVERED, NOT_PICKED_UP, GoalResult
from orchestrator.store import alerts, deliveries, orders, replication, robots, trips
from orchestrator.store.deliveries import DeliveryEntry
from orchestrator.store.trips import Stop
from orchestrator.texts import Said
from orchestrator.traffic import TrafficMap

log = logging.getLogger(__name__)

# Real seconds between two `delivery.progress` events of one trip.
PROGRESS_EVERY_S = 1.0
# Real seconds before a goal nobody answered is sent again.
RESEND_AFTER_S = 1.0
# Wall seconds before a robot that would not go to the pass is asked again.
STAGE_REFUSED_S = 1.0
# An idle serving robot this close (m) to the pass waits there, whichever dispatcher sent it;
# one sent there is forgotten when it stands idle elsewhere this long (wall s) after.
AT_PASS_M = 0.5
STAGE_GONE_S = 2.0
# Deliver feedback is not signed (README "Security"): a drive's estimate beyond these, or not
# a number, is not passed on to the diners.
MAX_ETA_S = 3600.0
MAX_DISTANCE_M = 1000.0


def plausible_drive(fb: Any) -> bool:
    """Deliver feedback whose estimate and pose may be shown to diners."""
    eta, distance, x, y = (float(v) for v in (fb.eta_s, fb.distance_remaining_m, fb.x, fb.y))
    numbers = all(math.isfinite(v) and abs(v) <= MAX_DISTANCE_M for v in (distance, x, y))
    return numbers and 0.0 <= eta <= MAX_ETA_S and distance >= 0.0


@dataclass
class TripFlight:
    """A trip this dispatcher has sent (or is sending) to a robot, under one epoch."""

    trip_id: str
    robot_id: str
    epoch: int
    stops: list[Stop]
    entries: list[tuple[str, ReadyOrder]] = field(default_factory=list)
    arrived: set[str] = field(default_factory=set)
    started: bool = False
    # The robot accepted the goal: its heartbeats list the trip until it is over.
    accepted: bool = False
    last_progress: float = 0.0
    # The last of the trip's event writes; each waits for the one before.
    writes: asyncio.Task[None] | None = field(default=None, repr=False)
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def order_ids(self) -> list[str]:
        return [o for s in self.stops for o in s.order_ids]

    def stop(self, table_id: str) -> Stop | None:
        return next((s for s in self.stops if s.table_id == table_id), None)


def _not_ours(trip: trips.TripRecord | None, epoch: int, me: str) -> str:
    """What became of a trip whose write or lease renewal under `epoch` Redis refused, as read
    after it, for the log of dispatcher `me`: its record is gone, it was taken over (by another
    dispatcher, or by this one re-sending it), or it is over (until 2026-12-05 a renewal
    logged each as taken over, as cooking logged a cancelled dish)."""
    if trip is None:
        return 'is gone (its record was lost: a Redis failover?)'
    if trip.epoch != epoch or trip.owner != me:
        by = 'this dispatcher, re-sending it' if trip.owner == me else trip.owner
        return f'was taken over by {by} (epoch {trip.epoch})'
    return f'is over ({trip.outcome or trip.status})'


def trip_charge(
    cfg: RestaurantConfig, robot: ServingRobot, at: tuple[float, float], tables: list[str]
) -> float:
    """Charge a trip takes, at most: from where the robot is to the pass, to each table
    (waiting the whole pickup timeout at each), back by the pass (food may come back) to its
    charger, at its top speed."""
    floor = cfg.floor
    here = floor.nearest(*at)
    route = [here, floor.pass_point.id, *(cfg.table_by_id[t].waypoint for t in tables)]
    route += [floor.pass_point.id, cfg.charger_of(robot)]
    distance = sum(floor.length(a, b) for a, b in itertools.pairwise(route))
    seconds = distance / robot.speed_mps + len(tables) * cfg.service.pickup_timeout_s
    return cfg.battery.used(distance, seconds)


class Serving:
    def __init__(self, ctx: DispatchContext, coming: Callable[[], tuple[Coming, ...]]) -> None:
        """`coming`: orders still cooking and when they should be ready (from cooking)."""
        self.ctx = ctx
        self.coming = coming
        self.ready: dict[str, ReadyOrder] = {}
        # Orders whose stream entry is being looked at (`add_entries`).
        self._adding: set[str] = set()
        self.trips: dict[str, TripFlight] = {}
        # time.monotonic() of each serving robot's last trip from here: trips go round.
        self.last_trip: dict[str, float] = {}
        # Robots sent to wait at the pass for food about to be ready (until their next trip,
        # or until they stand elsewhere: made way for another), and when (time.monotonic()).
        self.staged: dict[str, float] = {}
        # Robots that would not go to the pass, and until when they are not asked again.
        self._stage_refused: dict[str, float] = {}
        # Robots on another dispatcher's trip that their heartbeats do not list yet (its claim
        # in Redis came first, or the robot rejected our goal), and their `beats` then: no trip
        # until they are heard again, or every plan would try them again.
        self._trip_refused: dict[str, int] = {}
        # Lost trips whose robot came back holding them and was told to bring the food back.
        self._brought_back: set[str] = set()
        # Another dispatcher's active trips a robot reports, and the lanes of their tables.
        self._foreign: dict[str, frozenset[str]] = {}
        self._lead_s = fetch_s(ctx.cfg) / ctx.time_scale * STAGE_MARGIN
        # The narrow stretch (a dead-end table lane) each table and waypoint is in, if any.
        self._stretch = TrafficMap.of_restaurant(ctx.cfg).inside
        self._lane_of = {t.id: self._stretch.get(t.waypoint) for t in ctx.cfg.tables}
        # Tables no open way reaches from the pass (the operator's closures): table -> closure.
        self.unreachable: dict[str, str] = {}

    @property
    def wait_s(self) -> float:
        return max(0.05, delivery.BATCH_WAIT_S / self.ctx.time_scale)

    @property
    def window_s(self) -> float:
        return self.ctx.cfg.service.batch_window_s / self.ctx.time_scale

    def _busy(self, order_id: str) -> bool:
        return (
            order_id in self.ready
            or order_id in self._adding
            or any(order_id in t.order_ids for t in self.trips.values())
        )

    async def add_entries(self, entries: list[tuple[str, DeliveryEntry]]) -> None:
        for entry_id, e in entries:
            if self._busy(e.order_id):
                continue
            # The read of new entries and the take-over's reclaim run side by side: the other
            # may meet this order (a second entry of it) while this one waits on Redis.
            self._adding.add(e.order_id)
            try:
                await self._add(entry_id, e)
            finally:
                self._adding.discard(e.order_id)

    async def _add(self, entry_id: str, e: DeliveryEntry) -> None:
        order = await orders.get(self.ctx.r, e.order_id)
        if order is not None and order.trip_id and order.status in orders.ON_THE_WAY:
            await self.recover(order.trip_id)
        elif order is not None and order.status == orders.READY:
            self.ready[order.id] = ReadyOrder(
                order.id,
                order.table_id,
                entry_id,
                time.monotonic(),
                delivery.items_of(self.ctx.cfg, order.lines),
            )
        else:  # served, cancelled, or gone: nothing to carry
            await deliveries.ack_now(self.ctx.r, entry_id)

    def ready_times(self) -> dict[str, tuple[str, float]]:
        """Order id -> (table id, now in simulated seconds) of the orders ready at the pass."""
        now = time.time() * self.ctx.time_scale
        return {o.order_id: (o.table_id, now) for o in self.ready.values()}

    def free_robots(self) -> list[str]:
        """Serving robots that can leave now: the one waiting at the pass first, then idle ones,
        then the one whose last trip from here is oldest, so the work (and the battery drain)
        is shared; none that rejected a trip since its last heartbeat."""
        self._forget_gone()
        busy = {t.robot_id for t in self.trips.values()}
        free = [
            v
            for v in self.ctx.robots.values()
            if v.kind == 'serving'
            and v.available
            and v.robot_id not in busy
            and not v.reported
            and self._trip_refused.get(v.robot_id) != v.beats
        ]
        return [
            v.robot_id
            for v in sorted(
                free,
                key=lambda v: (
                    not self._at_pass(v),
                    v.mode != 'idle',
                    self.last_trip.get(v.robot_id, 0.0),
                    v.robot_id,
                ),
            )
        ]

    async def plan(self) -> None:
        await self._send_trips()
        self._stage()

    def _near_pass(self, v: RobotView) -> bool:
        p = self.ctx.cfg.floor.pass_point
        return math.hypot(v.x - p.x, v.y - p.y) <= AT_PASS_M

    def _at_pass(self, v: RobotView) -> bool:
        """Waiting at the pass (whichever dispatcher sent it), or sent there by this one."""
        return v.robot_id in self.staged or (v.mode == 'idle' and self._near_pass(v))

    def _until_heard(self, robot_id: str) -> None:
        """Offer `robot_id` no trip until its next heartbeat (`free_robots`)."""
        self._trip_refused[robot_id] = self.ctx.robots[robot_id].beats

    def _forget_gone(self) -> None:
        """Forget robots sent to the pass that stand idle elsewhere since (they made way for
        another robot, or an operator sent them home) or cannot serve (charging, paused, lost)."""
        now = time.monotonic()
        for robot_id, sent in list(self.staged.items()):
            v = self.ctx.robots[robot_id]
            gone = v.mode == 'idle' and not self._near_pass(v) and now - sent >= STAGE_GONE_S
            if gone or not v.available:
                del self.staged[robot_id]

    def stage_in(self) -> float:
        """Wall seconds until a free robot should set off for the pass (`_stage`)."""
        return self._next_stage()[0]

    def _next_stage(self) -> tuple[float, str]:
        """When (wall seconds from now) and which robot to send to the pass: when food is ready
        or predicted ready (the schedule's predictions, `coming`) within a drive there; the
        first free one (`free_robots`: work and battery drain shared); inf when none is (or
        each refused a moment ago), one already waits there or is on its way, or nothing is
        coming."""
        now, free = time.monotonic(), self.free_robots()
        if self.staged or any(self._at_pass(self.ctx.robots[r]) for r in free):
            return math.inf, ''
        willing = [r for r in free if self._stage_refused.get(r, 0.0) <= now]
        soonest = now if self.ready else min((c.eta for c in self.coming()), default=math.inf)
        if not willing or soonest == math.inf:
            return math.inf, ''
        return max(0.0, soonest - self._lead_s - now), willing[0]

    def _stage(self) -> None:
        """Send a free robot to the pass when its time has come, so that the food does not wait
        for the drive. One robot waits there at a time; the next trip goes to it first."""
        wait, robot_id = self._next_stage()
        if wait > 0:
            return
        self.staged[robot_id] = time.monotonic()
        self.ctx.spawn(self._send_stage(robot_id), f'stage {robot_id}')

    async def _send_stage(self, robot_id: str) -> None:
        accepted, message = await self.ctx.ros.control(robot_id, 'stage')
        if not accepted:
            log.info('%s would not wait at the pass: %s', robot_id, message)
            self.staged.pop(robot_id, None)
            self._stage_refused[robot_id] = time.monotonic() + STAGE_REFUSED_S

    def _can_make(self, robot_id: str, orders: list[ReadyOrder]) -> bool:
        """Enough trays, and enough charge for the trip and the drive to its charger after."""
        view, cfg = self.ctx.robots[robot_id], self.ctx.cfg
        robot = self.ctx.serving_robot(robot_id)
        tables = [s.table_id for s in delivery.stops(cfg, orders)]
        need = trip_charge(cfg, robot, (view.x, view.y), tables) + cfg.battery.reserve
        return robot.trays >= len(orders) and view.battery >= need

    def lanes_taken(self) -> set[str]:
        """The narrow stretches a serving robot is in, one of our trips is still bound for, or
        another dispatcher's trip has a table in (until its robot no longer reports it)."""
        # Where each is, from its heartbeats; a lost robot's food was settled by an operator
        # (remade, say), and it no longer drives out of its lane.
        heard = [
            v
            for v in self.ctx.robots.values()
            if v.kind == 'serving' and v.beats and v.mode != 'lost'
        ]
        near = (self.ctx.cfg.floor.nearest(v.x, v.y) for v in heard)
        ahead = (
            self.ctx.cfg.table_by_id[s.table_id].waypoint
            for t in self.trips.values()
            for s in t.stops
            if s.table_id not in t.arrived
        )
        taken = {lane for w in itertools.chain(near, ahead) if (lane := self._stretch.get(w))}
        reported = {t for v in heard for t in v.reported}
        return taken.union(*(lanes for t, lanes in self._foreign.items() if t in reported))

    def sendable(self) -> list[ReadyOrder]:
        """Ready orders whose table's lane no robot is in or bound for. A dead-end lane takes
        one robot at a time, so a second one sent there would only wait at the pass, loaded,
        holding it: when the one in the lane then brings back food nobody took, each waits for
        the other for good (the traffic controller's one deadlock). Orders of one lane still
        share a trip. Orders of a table the operator's closures cut off wait too."""
        taken, cut_off = self.lanes_taken(), self.unreachable
        return [
            o
            for o in self.ready.values()
            if self._lane_of.get(o.table_id) not in taken and o.table_id not in cut_off
        ]

    async def _send_trips(self) -> None:
        while sendable := self.sendable():
            free = self.free_robots()
            if not free:
                return
            trays = self.ctx.serving_robot(free[0]).trays
            timing = delivery.Timing(self.wait_s, self.window_s, self.coming())
            chosen = delivery.next_trip(self.ctx.cfg, sendable, trays, time.monotonic(), timing)
            if not chosen:
                return
            robot_id = next((r for r in free if self._can_make(r, chosen)), None)
            if robot_id is None:
                # Every free robot is short of charge for it: they go to charge by themselves
                # (below battery.low), and the food leaves with the first one back.
                log.debug('no free serving robot has the charge for %s', chosen)
                return
            for o in chosen:
                del self.ready[o.order_id]
            trip_id = ids.new_trip_id()
            by_id = {o.order_id: o for o in chosen}
            try:
                stops = await trips.create(
                    self.ctx.r,
                    trip_id,
                    robot_id,
                    self.ctx.name,
                    self.ctx.lease_s,
                    {o.order_id: o.entry_id for o in chosen},
                    partial(self._stops, by_id),
                )
            except trips.RobotBusy as busy:
                log.info('%s: not for %s', busy, self.ctx.name)
                self._until_heard(robot_id)
                for o in chosen:
                    self.ready.setdefault(o.order_id, o)
                continue
            taken = [by_id[o] for s in stops for o in s.order_ids]
            # Checked with the claim: cancelled (or taken by another dispatcher) meanwhile.
            if dropped := [o.entry_id for o in chosen if o not in taken]:
                await deliveries.ack_now(self.ctx.r, *dropped)
            if not stops or not await self._replicated(trip_id):
                continue
            self.last_trip[robot_id] = time.monotonic()
            trip = TripFlight(trip_id, robot_id, 1, stops, [(o.entry_id, o) for o in taken])
            self._launch(trip)

    async def _replicated(self, trip_id: str) -> bool:
        """With replicas configured, a new trip goes to its robot only once one has it: a
        failover would roll it back, and its orders would go out again on another robot while
        this one carries them. Its lease is renewed (with a WAIT) until then; False if it is
        no longer ours."""
        if self.ctx.replicas is None:
            return True
        renew = partial(
            trips.renew, self.ctx.r, trip_id, 1, self.ctx.name, self.ctx.lease_s, self.ctx.replicas
        )
        return await replication.confirmed(partial(self.ctx.retrying, renew), f'trip {trip_id}')

    def _stops(self, by_id: dict[str, ReadyOrder], order_ids: list[str]) -> list[Stop]:
        return delivery.stops(self.ctx.cfg, [by_id[o] for o in order_ids])

    def _launch(self, trip: TripFlight) -> None:
        old = self.trips.get(trip.trip_id)
        if old is not None and old.task is not None:
            old.task.cancel()
        self.trips[trip.trip_id] = trip
        self.staged.pop(trip.robot_id, None)
        self.ctx.robots[trip.robot_id].assigned.add(trip.trip_id)
        trip.task = self.ctx.spawn(self._run(trip), f'trip {trip.trip_id}/{trip.epoch}')

    def _drop(self, trip: TripFlight) -> None:
        if self.trips.get(trip.trip_id) is trip:
            del self.trips[trip.trip_id]
            self.ctx.robots[trip.robot_id].assigned.discard(trip.trip_id)
            self.ctx.wake()

    def _etas(self, trip: TripFlight) -> dict[str, float]:
        """Real seconds from leaving the pass to each stop (driving only)."""
        cfg = self.ctx.cfg
        floor, speed = cfg.floor, self.ctx.serving_robot(trip.robot_id).speed_mps
        here, dist, out = floor.pass_point.id, 0.0, {}
        for s in trip.stops:
            there = cfg.table_by_id[s.table_id].waypoint
            dist += floor.length(here, there)
            out[s.table_id] = round(dist / speed / self.ctx.time_scale, 1)
            here = there
        return out

    async def _run(self, trip: TripFlight) -> None:
        goal = await self.ctx.ros.deliver(
            trip.robot_id,
            trip.trip_id,
            trip.epoch,
            trip.stops,
            lambda fb: self._feedback(trip, fb),
        )
        if goal is None:
            # No answer (restarting?): ask again under a new epoch; its ledger knows the trip.
            await asyncio.sleep(RESEND_AFTER_S)
            if self.trips.get(trip.trip_id) is trip:
                await self.ctx.until_reachable(trip.robot_id)
                if not self.ctx.silent(trip.robot_id):  # else re-sent when it is back
                    await self.recover(trip.trip_id, trip.epoch)
            return
        if goal.result is None:
            await self._refused(trip, 'the robot rejected the trip')
        else:
            trip.accepted = True
            await self._finish(trip, await goal.result)

    async def _refused(self, trip: TripFlight, reason: str) -> None:
        """The robot would not take the trip (busy, or our epoch is stale): the orders are
        plain `ready` again for the next plan, unless another dispatcher has the trip."""
        log.warning('%s refused trip %s/%d: %s', trip.robot_id, trip.trip_id, trip.epoch, reason)
        self._until_heard(trip.robot_id)
        await self._chained(trip)
        if await self.ctx.retrying(lambda: trips.release(self.ctx.r, trip.trip_id, trip.epoch)):
            for _, o in trip.entries:
                self.ready[o.order_id] = o
        self._drop(trip)

    def _write(
        self,
        trip: TripFlight,
        kind: str,
        stop: Stop,
        data: dict[str, Any],
        status: str | None,
        only: frozenset[str],
    ) -> None:
        """Record an event of the trip's stop after the trip's earlier events, in order."""
        before = trip.writes
        write = partial(
            trips.record,
            self.ctx.r,
            trip.trip_id,
            trip.epoch,
            list(stop.order_ids),
            kind,
            {'robot_id': trip.robot_id, 'table_id': stop.table_id, **data},
            status,
            only,
        )

        async def chained() -> None:
            if before is not None:
                await asyncio.gather(before, return_exceptions=True)
            if not await self.ctx.retrying(write):
                # Fenced (counted in Redis): say why, as the cooking side does.
                record = await trips.get(self.ctx.r, trip.trip_id)
                log.warning(
                    'trip %s/%d: %s not written: the trip %s',
                    trip.trip_id,
                    trip.epoch,
                    kind,
                    _not_ours(record, trip.epoch, self.ctx.name),
                )

        trip.writes = self.ctx.spawn(chained(), f'{kind} {trip.trip_id}')

    async def _chained(self, trip: TripFlight) -> None:
        if trip.writes is not None:
            await asyncio.gather(trip.writes, return_exceptions=True)

    def _feedback(self, trip: TripFlight, fb: Any) -> None:
        if self.trips.get(trip.trip_id) is not trip:
            return
        if not trip.started:
            # The robot is on its way: the diners hear who brings their food, and when.
            trip.started = True
            etas = self._etas(trip)
            for s in trip.stops:
                self._write(
                    trip,
                    'delivery.started',
                    s,
                    {'eta_s': etas[s.table_id]},
                    orders.DELIVERING,
                    frozenset({orders.READY, orders.DELIVERING}),
                )
        stop = trip.stop(fb.next_stop)
        if stop is None:
            return
        if fb.stage == 'waiting_pickup' and stop.table_id not in trip.arrived:
            trip.arrived.add(stop.table_id)
            self._write(
                trip,
                'delivery.arrived',
                stop,
                {},
                orders.ARRIVED,
                frozenset({orders.DELIVERING}),
            )
        elif (
            fb.stage == 'to_table'
            and time.monotonic() - trip.last_progress >= PROGRESS_EVERY_S
            and plausible_drive(fb)
        ):
            trip.last_progress = time.monotonic()
            self._write(
                trip,
                'delivery.progress',
                stop,
                {
                    'eta_s': round(float(fb.eta_s), 1),
                    'distance_m': round(float(fb.distance_remaining_m), 1),
                    'x': round(fb.x, 2),
                    'y': round(fb.y, 2),
                },
                None,
                frozenset({orders.DELIVERING}),
            )

    async def _finish(self, trip: TripFlight, result: GoalResult) -> None:
        if self.trips.get(trip.trip_id) is not trip:
            return
        await self._chained(trip)
        r, done = self.ctx.r, set()
        for sr in result.stops:
            stop = trip.stop(sr.table_id)
            if stop is None:
                continue
            done.add(stop.table_id)
            if sr.outcome == DELIVERED:
                await self._served(trip.trip_id, trip.epoch, stop, trip.robot_id, 'robot')
            else:
                kind = 'pickup_timeout' if sr.outcome == NOT_PICKED_UP else 'delivery_failed'
                reason = sr.reason or (
                    'nobody took the food'
                    if kind == 'pickup_timeout'
                    else 'the robot could not deliver it'
                )
                await self._returned(trip, stop, reason, kind)
        for stop in trip.stops:
            if stop.table_id not in done:
                await self._returned(trip, stop, f'trip {result.outcome}', 'delivery_failed')
        await self.ctx.retrying(lambda: trips.finish(r, trip.trip_id, trip.epoch, result.outcome))
        log.info('trip %s of %s: %s', trip.trip_id, trip.robot_id, result.outcome)
        self._drop(trip)

    async def _returned(self, trip: TripFlight, stop: Stop, reason: str, alert_kind: str) -> None:
        await self.ctx.retrying(
            partial(
                trips.returned,
                self.ctx.r,
                trip.trip_id,
                trip.epoch,
                list(stop.order_ids),
                stop.table_id,
                reason,
                alert_kind,
            )
        )

    async def _served(self, trip_id: str, epoch: int, stop: Stop, robot_id: str, by: str) -> bool:
        return bool(
            await self.ctx.retrying(
                lambda: trips.record(
                    self.ctx.r,
                    trip_id,
                    epoch,
                    list(stop.order_ids),
                    'delivery.served',
                    {'robot_id': robot_id, 'table_id': stop.table_id, 'by': by},
                    orders.SERVED,
                )
            )
        )

    async def pickup_confirmed(self, trip_id: str, table_id: str, by: str) -> None:
        """The robot accepted a pickup confirmation: that stop's orders are served now, not
        when the robot is back at the pass."""
        trip = await trips.get(self.ctx.r, trip_id)
        if trip is None or trip.status != trips.ACTIVE:
            return
        stop = next((s for s in trip.stop_list() if s.table_id == table_id), None)
        if stop is not None:
            await self._served(trip_id, trip.epoch, stop, trip.robot_id, by)

    async def renew(self) -> None:
        for t in list(self.trips.values()):
            if self.ctx.robots[t.robot_id].mode == 'lost':
                continue
            ok, _ = await trips.renew(
                self.ctx.r, t.trip_id, t.epoch, self.ctx.name, self.ctx.lease_s
            )
            if not ok and self.trips.get(t.trip_id) is t:
                record = await trips.get(self.ctx.r, t.trip_id)
                why = _not_ours(record, t.epoch, self.ctx.name)
                log.warning('trip %s/%d %s: not renewed', t.trip_id, t.epoch, why)
                if t.task is not None:
                    t.task.cancel()
                self._drop(t)

    async def recover(self, trip_id: str, expect_epoch: int | None = None) -> None:
        """Take over a trip (its dispatcher died, or its robot came back) and re-send it to
        the same robot, which carries the food; the robot answers a known trip from its
        ledger."""
        epoch = await trips.take_over(
            self.ctx.r, trip_id, self.ctx.name, self.ctx.lease_s, expect_epoch
        )
        if not epoch:
            return
        record = await trips.get(self.ctx.r, trip_id)
        if record is None:
            return
        trip = TripFlight(trip_id, record.robot_id, epoch, record.stop_list())
        if self.ctx.robots[trip.robot_id].mode == 'lost':
            await self._lost(trip)
            return
        log.info('re-sending trip %s to %s under epoch %d', trip_id, trip.robot_id, epoch)
        self._launch(trip)

    def accepted_on(self, robot_id: str) -> list[str]:
        """Trips whose goal the robot accepted and whose result has not come (its view's
        assigned trips: asked at every heartbeat)."""
        trips = (self.trips.get(t) for t in self.ctx.robots[robot_id].assigned)
        return [t.trip_id for t in trips if t and t.accepted and t.robot_id == robot_id]

    async def result_lost(self, trip_id: str) -> None:
        """The robot is no longer on the trip and its result never came: send it again."""
        if (trip := self.trips.get(trip_id)) is not None:
            await self.recover(trip_id, trip.epoch)

    async def robot_back(self, robot_id: str) -> None:
        for t in [t for t in self.trips.values() if t.robot_id == robot_id]:
            await self.recover(t.trip_id, t.epoch)

    async def robot_lost(self, robot_id: str) -> None:
        """The robot went silent (`service.robot_lost_after_s`): its trips fail with the food
        on board, and it gets no new trip until it is heard again (`free_robots`)."""
        for trip in [t for t in self.trips.values() if t.robot_id == robot_id]:
            if trip.task is not None:
                trip.task.cancel()
            # Off our books first: food still at the pass comes back as a new delivery entry.
            self._drop(trip)
            await self._lost(trip)

    async def _lost(self, trip: TripFlight) -> None:
        await self._chained(trip)
        where = await self.ctx.retrying(lambda: self._last_seen(trip.robot_id))
        lost = await self.ctx.retrying(
            lambda: trips.lost(self.ctx.r, trip.trip_id, trip.epoch, where)
        )
        log.warning(
            'trip %s lost with %s (last seen %s): orders %s',
            trip.trip_id,
            trip.robot_id,
            where,
            ', '.join(lost) or 'none left',
        )

    async def _last_seen(self, robot_id: str) -> str:
        """Where the robot was last heard from: its pose and the nearest waypoint."""
        state = await robots.get(self.ctx.r, robot_id)
        if state is None:
            return 'nowhere (never heard)'
        near = min(
            self.ctx.cfg.floor.waypoints, key=lambda w: math.hypot(w.x - state.x, w.y - state.y)
        )
        return f'at ({state.x:.1f}, {state.y:.1f}) m near {near.id}'

    def strays(self, robot_id: str, reported: dict[str, int]) -> dict[str, int]:
        """Trips (and the epoch it holds) a serving robot reports that we have not sent it:
        another dispatcher's, or one failed as lost while it was silent."""
        if self.ctx.robots[robot_id].kind != 'serving':
            return {}
        return {
            t: e
            for t, e in reported.items()
            if t not in self.trips and t not in self._brought_back
        }

    async def strays_found(self, robot_id: str, held: dict[str, int]) -> None:
        """Trips a robot reports that we did not send it. Another dispatcher's: its tables'
        lanes are taken (`lanes_taken`) from this heartbeat on, not only once the robot is in
        one, which would leave a drive's time for a second robot to be sent into the lane.
        One failed as lost while the robot was silent: cancel it (the robot brings any food on
        board back to the pass) and tell the console."""
        reported = {t for v in self.ctx.robots.values() if v.kind == 'serving' for t in v.reported}
        self._foreign = {t: lanes for t, lanes in self._foreign.items() if t in reported}
        for trip_id, held_epoch in held.items():
            record = await trips.get(self.ctx.r, trip_id)
            if record is not None and record.status == trips.ACTIVE:
                stops = record.stop_list()
                lanes = (self._lane_of.get(s.table_id) for s in stops)
                self._foreign[trip_id] = frozenset(lane for lane in lanes if lane)
            if record is None or record.outcome != trips.LOST:
                continue
            self._brought_back.add(trip_id)
            ok, message = await self.ctx.ros.control(
                robot_id, 'cancel', trip_id, max(record.epoch, held_epoch)
            )
            log.warning('%s is back on lost trip %s: cancel %s %s', robot_id, trip_id, ok, message)
            tables = ', '.join(s.table_id for s in record.stop_list())
            await alerts.raise_once(
                self.ctx.r,
                'robot_back_with_food',
                trip_id,
                'warning',
                Said(
                    'alert.texts.robot_back_with_food',
                    {'robot': robot_id, 'trip': trip_id, 'tables': tables, 'message': message},
                ),
                robot_id=robot_id,
                trip_id=trip_id,
            )
