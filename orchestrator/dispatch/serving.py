"""Ready orders to serving robots: trips, their progress on the diner's timeline, and returns.

Orders arrive from `rd:deliveries` once every dish is cooked. After a short scaled wait (or at
once when the trays are full; longer, within `service.batch_window_s`, while a neighbour's food
is about to be ready, see `delivery.due`) the oldest ready order and its neighbours become a
trip for the free serving robot that has been waiting longest. Feedback moves the orders to
`delivering` (with ETA, throttled progress) and `arrived`; a confirmed pickup (or the robot's
DELIVERED stop result) makes them `served`. A NOT_PICKED_UP stop brings them back `ready` with
an operator alert and is not re-sent on its own.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from orchestrator import redis_keys as keys
from orchestrator import timeline
from orchestrator.dispatch import delivery, trips
from orchestrator.dispatch.delivery import ReadyOrder, Stop

if TYPE_CHECKING:
    from orchestrator.dispatch.service import Dispatcher

log = logging.getLogger(__name__)

# StopResult outcomes.
DELIVERED, NOT_PICKED_UP = 0, 1
# Real seconds between two `delivery.progress` events of one trip.
PROGRESS_EVERY_S = 1.0
# Real seconds before a goal nobody answered is sent again.
RESEND_AFTER_S = 1.0


@dataclass
class Trip:
    trip_id: str
    robot_id: str
    epoch: int
    stops: list[Stop]
    entries: list[tuple[str, ReadyOrder]] = field(default_factory=list)
    arrived: set[str] = field(default_factory=set)
    started: bool = False
    last_progress: float = 0.0
    # The last of the trip's event writes; each waits for the one before.
    writes: asyncio.Task[None] | None = field(default=None, repr=False)
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def order_ids(self) -> list[str]:
        return [o for s in self.stops for o in s.order_ids]

    def stop(self, table_id: str) -> Stop | None:
        return next((s for s in self.stops if s.table_id == table_id), None)


class Serving:
    def __init__(self, d: Dispatcher) -> None:
        self.d = d
        self.ready: dict[str, ReadyOrder] = {}
        self.trips: dict[str, Trip] = {}
        # time.monotonic() of each serving robot's last trip from here: trips go round.
        self.last_trip: dict[str, float] = {}

    @property
    def wait_s(self) -> float:
        return max(0.05, delivery.BATCH_WAIT_S / self.d.time_scale)

    @property
    def window_s(self) -> float:
        return self.d.cfg.service.batch_window_s / self.d.time_scale

    def _busy(self, order_id: str) -> bool:
        return order_id in self.ready or any(order_id in t.order_ids for t in self.trips.values())

    async def add_entries(self, entries: list[tuple[str, dict[str, str]]]) -> None:
        for entry_id, f in entries:
            order_id = f.get('order_id', '')
            if self._busy(order_id):
                continue
            order = await self.d.r.hgetall(keys.order(order_id))
            status, trip_id = order.get('status'), order.get('trip_id')
            if trip_id and status in trips.ON_THE_WAY:
                await self.recover(trip_id)
            elif status == timeline.READY:
                self.ready[order_id] = ReadyOrder(
                    order_id,
                    order['table_id'],
                    entry_id,
                    time.monotonic(),
                    delivery.items_of(self.d.cfg, order.get('lines', '[]')),
                )
            else:  # served, cancelled, or gone: nothing to carry
                await self._ack([entry_id])

    async def _ack(self, entry_ids: list[str]) -> None:
        async with self.d.r.pipeline(transaction=True) as pipe:
            pipe.xack(keys.DELIVERIES, keys.DELIVERY_GROUP, *entry_ids)
            pipe.xdel(keys.DELIVERIES, *entry_ids)
            await pipe.execute()

    def free_robots(self) -> list[str]:
        """Serving robots that can leave now: idle ones first, then the one whose last trip
        from here is oldest, so the work (and the battery drain) is shared."""
        busy = {t.robot_id for t in self.trips.values()}
        free = [
            v
            for v in self.d.robots.values()
            if v.kind == 'serving' and v.available and v.robot_id not in busy and not v.reported
        ]
        return [
            v.robot_id
            for v in sorted(
                free,
                key=lambda v: (v.mode != 'idle', self.last_trip.get(v.robot_id, 0.0), v.robot_id),
            )
        ]

    async def plan(self) -> None:
        while self.ready:
            free = self.free_robots()
            if not free:
                return
            robot_id = free[0]
            trays = self.d.robot_cfg(robot_id).trays
            timing = delivery.Timing(self.wait_s, self.window_s, self.d.cooking.coming())
            chosen = delivery.next_trip(
                self.d.cfg, list(self.ready.values()), trays, time.monotonic(), timing
            )
            if not chosen:
                return
            for o in chosen:
                del self.ready[o.order_id]
            trip_id = 'tr' + secrets.token_hex(5)
            by_id = {o.order_id: o for o in chosen}
            stops = await trips.create(
                self.d.r,
                trip_id,
                robot_id,
                self.d.name,
                self.d.lease_s,
                {o.order_id: o.entry_id for o in chosen},
                partial(self._stops, by_id),
            )
            taken = [by_id[o] for s in stops for o in s.order_ids]
            # Checked with the claim: cancelled (or taken by another dispatcher) meanwhile.
            if dropped := [o.entry_id for o in chosen if o not in taken]:
                await self._ack(dropped)
            if not stops:
                continue
            self.last_trip[robot_id] = time.monotonic()
            trip = Trip(trip_id, robot_id, 1, stops, [(o.entry_id, o) for o in taken])
            self._launch(trip)

    def _stops(self, by_id: dict[str, ReadyOrder], order_ids: list[str]) -> list[Stop]:
        return delivery.stops(self.d.cfg, [by_id[o] for o in order_ids])

    def _launch(self, trip: Trip) -> None:
        old = self.trips.get(trip.trip_id)
        if old is not None and old.task is not None:
            old.task.cancel()
        self.trips[trip.trip_id] = trip
        self.d.robots[trip.robot_id].assigned.add(trip.trip_id)
        trip.task = self.d.spawn(self._run(trip), f'trip {trip.trip_id}/{trip.epoch}')

    def _drop(self, trip: Trip) -> None:
        if self.trips.get(trip.trip_id) is trip:
            del self.trips[trip.trip_id]
            self.d.robots[trip.robot_id].assigned.discard(trip.trip_id)
            self.d.wake()

    def _etas(self, trip: Trip) -> dict[str, float]:
        """Real seconds from leaving the pass to each stop (driving only)."""
        floor, speed = self.d.cfg.floor, self.d.robot_cfg(trip.robot_id).speed_mps
        here, dist, out = floor.pass_point.id, 0.0, {}
        for s in trip.stops:
            there = self.d.cfg.table_by_id[s.table_id].waypoint
            dist += floor.path_length(floor.path(here, there))
            out[s.table_id] = round(dist / speed / self.d.time_scale, 1)
            here = there
        return out

    async def _run(self, trip: Trip) -> None:
        goal = await self.d.bridge.deliver(
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
                await self.d.until_reachable(trip.robot_id)
                await self.recover(trip.trip_id, trip.epoch)
            return
        response = None if goal.result is None else await goal.result
        if response is None or response.result.outcome == 'rejected':
            await self._refused(trip, response.result.reason if response else 'refused')
        else:
            await self._finish(trip, response.result)

    async def _refused(self, trip: Trip, reason: str) -> None:
        """The robot would not take the trip (busy, or our epoch is stale): the orders are
        plain `ready` again for the next plan, unless another dispatcher has the trip."""
        log.warning('%s refused trip %s/%d: %s', trip.robot_id, trip.trip_id, trip.epoch, reason)
        await self._chained(trip)
        if await self.d.retrying(lambda: trips.release(self.d.r, trip.trip_id, trip.epoch)):
            for _, o in trip.entries:
                self.ready[o.order_id] = o
        self._drop(trip)

    def _write(
        self,
        trip: Trip,
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
            self.d.r,
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
            await self.d.retrying(write)

        trip.writes = self.d.spawn(chained(), f'{kind} {trip.trip_id}')

    async def _chained(self, trip: Trip) -> None:
        if trip.writes is not None:
            await asyncio.gather(trip.writes, return_exceptions=True)

    def _feedback(self, trip: Trip, fb: Any) -> None:
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
                    timeline.DELIVERING,
                    frozenset({timeline.READY, timeline.DELIVERING}),
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
                timeline.ARRIVED,
                frozenset({timeline.DELIVERING}),
            )
        elif fb.stage == 'to_table' and time.monotonic() - trip.last_progress >= PROGRESS_EVERY_S:
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
                frozenset({timeline.DELIVERING}),
            )

    async def _finish(self, trip: Trip, result: Any) -> None:
        if self.trips.get(trip.trip_id) is not trip:
            return
        await self._chained(trip)
        r, done = self.d.r, set()
        for sr in result.results:
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
        await self.d.retrying(lambda: trips.finish(r, trip.trip_id, trip.epoch, result.outcome))
        log.info('trip %s of %s: %s', trip.trip_id, trip.robot_id, result.outcome)
        self._drop(trip)

    async def _returned(self, trip: Trip, stop: Stop, reason: str, alert_kind: str) -> None:
        await self.d.retrying(
            partial(
                trips.returned,
                self.d.r,
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
            await self.d.retrying(
                lambda: trips.record(
                    self.d.r,
                    trip_id,
                    epoch,
                    list(stop.order_ids),
                    'delivery.served',
                    {'robot_id': robot_id, 'table_id': stop.table_id, 'by': by},
                    timeline.SERVED,
                )
            )
        )

    async def pickup_confirmed(self, trip_id: str, table_id: str, by: str) -> None:
        """The robot accepted a pickup confirmation: that stop's orders are served now, not
        when the robot is back at the pass."""
        trip = await self.d.r.hgetall(keys.trip(trip_id))
        stop = next((s for s in trips.load_stops(trip) if s.table_id == table_id), None)
        if stop is not None and trip.get('status') == 'active':
            await self._served(trip_id, int(trip['epoch']), stop, trip['robot_id'], by)

    async def renew(self) -> None:
        for t in list(self.trips.values()):
            if self.d.robots[t.robot_id].mode == 'lost':
                continue
            ok = await trips.renew(self.d.r, t.trip_id, t.epoch, self.d.name, self.d.lease_s)
            if not ok and self.trips.get(t.trip_id) is t:
                log.warning('trip %s/%d was taken over', t.trip_id, t.epoch)
                if t.task is not None:
                    t.task.cancel()
                self._drop(t)

    async def recover(self, trip_id: str, expect_epoch: int | None = None) -> None:
        """Take over a trip (its dispatcher died, or its robot came back) and re-send it to
        the same robot, which carries the food; the robot answers a known trip from its
        ledger."""
        epoch = await trips.take_over(self.d.r, trip_id, self.d.name, self.d.lease_s, expect_epoch)
        if not epoch:
            return
        data = await self.d.r.hgetall(keys.trip(trip_id))
        trip = Trip(trip_id, data['robot_id'], epoch, trips.load_stops(data))
        log.info('re-sending trip %s to %s under epoch %d', trip_id, trip.robot_id, epoch)
        self._launch(trip)

    async def robot_back(self, robot_id: str) -> None:
        for t in [t for t in self.trips.values() if t.robot_id == robot_id]:
            await self.recover(t.trip_id, t.epoch)
