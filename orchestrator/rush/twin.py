"""The offline twin of `robodine rush`: a discrete-event model of the diners, the kitchen and the
pass, so that a scheduling policy can be tried on many seeds in seconds.

No ROS, no Redis, no wall clock. Parties are drawn from the scenario exactly as the rush draws
them (same seed, same draws), sit at the smallest free table that fits or wait at the door,
order after `order_after_s`; each dish unit is a cook job (as intake makes them). The real
policy functions of `orchestrator.dispatch.scheduling` choose which dish starts on which
cooking robot; a dish takes its cook time (plus `Latency.cook_extra_s`) in one slot, and the
slot is free again for the policy `Latency.slot_release_s` later. Ready orders leave the pass
as the dispatcher batches them (`dispatch.delivery.next_trip` itself); a free serving robot is
sent to wait at the pass when food is predicted ready within its drive there (as
`dispatch/serving.py` stages one), else the least recently used free robot drives dock → pass;
then to the tables (nearest first, rest to rest at its top speed and acceleration along the
floor graph), waits at each table for the diner's pickup and goes back to its dock. Its battery
drains by distance and time (`battery`); one below `battery.low` between trips drives to its
charger, charges to `battery.charged` and comes back, out of service meanwhile. Diners
ask for the bill `dine_min` after being served and pay (a declined payment again
`retry_after_s` later); the table is free once closed, `service.close_after_paid_s` after
the last payment.

`run_twin` returns the rush report's key numbers plus the capacity bound and the ETA error;
`compare` runs policies × seeds.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import Any

from orchestrator.config import CookingRobot, RestaurantConfig, ServingRobot, Table
from orchestrator.dispatch import delivery
from orchestrator.dispatch.delivery import Coming, ReadyOrder, Timing
from orchestrator.dispatch.eta import fetch_s
from orchestrator.dispatch.scheduling import (
    CookerView,
    DishView,
    OrderSpec,
    Policy,
    Snapshot,
    capacity_bound,
    drive_s,
    eta,
    get_policy,
    pass_to_table_s,
)
from orchestrator.dispatch.serving import STAGE_MARGIN
from orchestrator.rush.diners import Party, plan_parties
from orchestrator.rush.report import stats
from orchestrator.rush.scenario import Scenario

# As in the rush runner: parties get this long after the last arrival to be served.
DRAIN_S = 45 * 60


@dataclass(frozen=True)
class Latency:
    """Delays of the real system around the model's physics, in simulated seconds."""

    # A dish is done this long after its cook time (the robot's result goes out when it looks).
    cook_extra_s: float = 0.0
    # The policy sees the slot free this long after the dish is done.
    slot_release_s: float = 0.0
    # A new trip's robot sets off this long after the dispatcher decided it.
    trip_start_s: float = 0.0
    # Paying a bill takes this long besides the declined payments' retries.
    pay_s: float = 0.0
    # A paid table is closed this long after `service.close_after_paid_s`.
    close_extra_s: float = 0.0


# `rush`: measured in `robodine rush` at 60× (robot ledgers): a dish ends 0.2 s after its cook
# time (5 s until 2026-12-04, when the sim robot's stages ended on its ticks), its slot is free
# again about 1 s later (the Cook result), and a robot sets off about 3 s after a trip is
# decided. Sessions (Harbor, seed 20, 2026-12-02): paying takes 10 s besides the retries (the
# shares' round trips), and the auto-close, which looks every 30 s at 60×, closes a table 13 s
# after its due time.
LATENCIES = {
    'ideal': Latency(),
    'rush': Latency(
        cook_extra_s=0.2, slot_release_s=1.0, trip_start_s=3.0, pay_s=10.0, close_extra_s=13.0
    ),
}


@dataclass
class _Dish:
    view: DishView
    start_s: float | None = None
    done_s: float | None = None
    robot_id: str = ''


@dataclass
class _Order:
    order_id: str
    party: Party
    table: Table
    placed_s: float
    dishes: list[_Dish]
    eta_s: float = math.inf
    ready_s: float | None = None
    trip_start_s: float | None = None
    left_pass_s: float | None = None
    arrived_s: float | None = None
    served_s: float | None = None

    def spec(self) -> OrderSpec:
        dishes = tuple((d.view.station, d.view.cook_time_s) for d in self.dishes)
        return OrderSpec(
            self.order_id, self.placed_s, self.table.id, dishes, self.party.pickup_after_s
        )


@dataclass
class _Cooker:
    robot: CookingRobot
    free: int
    # Predicted finish (start + cook time, as the dispatcher knows it) per occupied slot.
    busy: dict[str, float] = field(default_factory=dict)
    busy_slot_s: float = 0.0
    cooked: int = 0


@dataclass
class _Server:
    robot: ServingRobot
    free: bool = True
    # When it is (or will be) at the pass, sent there for food about to be ready.
    staged_at: float | None = None
    last_trip_s: float = 0.0
    busy_s: float = 0.0
    trips: int = 0
    trays: int = 0
    distance_m: float = 0.0
    # Battery charge as of `level_at` (simulated s); it drains by time from then on.
    level: float = 1.0
    level_at: float = 0.0
    charges: int = 0
    # Out of service to charge: to the charger, charging, and back to the dock.
    charging_s: float = 0.0


class _Twin:
    """One service: the event queue and the state of diners, kitchen and pass."""

    def __init__(
        self, cfg: RestaurantConfig, scenario: Scenario, policy: Policy, latency: Latency
    ) -> None:
        self.cfg, self.scenario, self.policy, self.latency = cfg, scenario, policy, latency
        self.now = 0.0
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.parties = plan_parties(scenario, cfg)
        # Where each seated party sits.
        self.table_of: dict[int, Table] = {}
        self.free_tables = sorted(scenario.seating(cfg), key=lambda t: (t.seats, t.id))
        self.door: list[Party] = []
        self.orders: list[_Order] = []
        self.pending: list[_Dish] = []
        self.cooking: dict[str, _Dish] = {}
        self.ready: list[_Order] = []
        self.cookers = {r.id: _Cooker(r, r.capacity) for r in cfg.cooking_robots}
        self.servers = {r.id: _Server(r, level=r.battery_start) for r in cfg.serving_robots}
        self.stations = tuple(s.id for s in cfg.stations)
        # Trays (orders) of each trip.
        self.trip_trays: list[int] = []
        self.last_back_s = 0.0
        self.order_by_id: dict[str, _Order] = {}
        self._checks: set[float] = set()
        self._legs: dict[tuple[str, str, str], float] = {}
        self.to_table = pass_to_table_s(cfg)
        # What the diner is told, as the dispatcher does (dispatch/eta.py): kitchen ready, a
        # robot from the nearest dock to the pass, then to the table.
        self.fetch_s = fetch_s(cfg)
        # A robot is sent to the pass this long before food is due there (as serving.py).
        self.stage_lead_s = self.fetch_s * STAGE_MARGIN

    # -- the clock ----------------------------------------------------------------------------

    def at(self, t: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._events, (t, next(self._seq), fn))

    def run(self) -> None:
        for p in self.parties:
            self.at(p.arrive_s, partial(self.arrive, p))
        end = self.scenario.duration_min * 60 + DRAIN_S
        while self._events and self._events[0][0] <= end:
            self.now, _, fn = heapq.heappop(self._events)
            fn()

    # -- diners -------------------------------------------------------------------------------

    def arrive(self, p: Party) -> None:
        if not self.seat(p):
            self.door.append(p)
            self.at(self.now + self.scenario.max_queue_wait_min * 60, partial(self.give_up, p))

    def seat(self, p: Party) -> bool:
        table = next((t for t in self.free_tables if t.seats >= p.size), None)
        if table is None:
            return False
        self.free_tables.remove(table)
        self.table_of[p.party_id], p.seated_s = table, self.now
        self.at(self.now + p.order_after_s, partial(self.place, p))
        return True

    def give_up(self, p: Party) -> None:
        if p in self.door:
            self.door.remove(p)
            p.turned_away = True

    def leave(self, table: Table) -> None:
        self.free_tables.append(table)
        self.free_tables.sort(key=lambda t: (t.seats, t.id))
        for p in list(self.door):
            if self.seat(p):
                self.door.remove(p)

    def place(self, p: Party) -> None:
        table = self.table_of[p.party_id]
        order_id = f'o{p.party_id:03d}'
        dishes = []
        for li, (dish_id, n) in enumerate(Counter(p.dishes).items()):
            dish = self.cfg.dish_by_id[dish_id]
            for unit in range(n):
                view = DishView(
                    f'{order_id}-{li:02d}-{unit:02d}',
                    order_id,
                    table.id,
                    dish.station,
                    dish.cook_time_s,
                    self.now,
                )
                dishes.append(_Dish(view))
        # As the dispatcher lists them (its queues in station order): policies break ties in
        # this order, fifo inside an order too.
        dishes.sort(key=lambda d: self.stations.index(d.view.station))
        order = _Order(order_id, p, table, self.now, dishes)
        self.orders.append(order)
        self.order_by_id[order_id] = order
        self.pending += dishes
        ready = eta(self.snapshot(), self.policy)[order_id]
        order.eta_s = ready + self.fetch_s + self.to_table[table.id]
        self.schedule()

    # -- kitchen ------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        in_flight: dict[str, float] = {}
        for d in self.cooking.values():
            assert d.start_s is not None
            done = d.start_s + d.view.cook_time_s
            in_flight[d.view.order_id] = max(in_flight.get(d.view.order_id, 0.0), done)
        cookers = tuple(
            CookerView(
                c.robot.id,
                frozenset(c.robot.stations),
                c.robot.capacity,
                c.free,
                tuple(sorted(c.busy.values())),
            )
            for c in self.cookers.values()
        )
        return Snapshot(
            self.now, tuple(d.view for d in self.pending), cookers, in_flight, self.stations
        )

    def schedule(self) -> None:
        by_job = {d.view.job_id: d for d in self.pending}
        for a in self.policy(self.snapshot()):
            dish, cooker = by_job.pop(a.job_id), self.cookers[a.robot_id]
            if cooker.free <= 0 or dish.view.station not in cooker.robot.stations:
                raise RuntimeError(f'policy put {a.job_id} on {a.robot_id}, which cannot take it')
            cooker.free -= 1
            cooker.busy[a.job_id] = self.now + dish.view.cook_time_s
            dish.start_s, dish.robot_id = self.now, a.robot_id
            self.cooking[a.job_id] = dish
            done = self.now + dish.view.cook_time_s + self.latency.cook_extra_s
            self.at(done, partial(self.cooked, dish))
        self.pending = [d for d in self.pending if d.view.job_id in by_job]

    def cooked(self, dish: _Dish) -> None:
        assert dish.start_s is not None
        dish.done_s = self.now
        del self.cooking[dish.view.job_id]
        cooker = self.cookers[dish.robot_id]
        cooker.cooked += 1
        cooker.busy_slot_s += self.now - dish.start_s
        self.at(self.now + self.latency.slot_release_s, partial(self.slot_free, dish))
        order = self.order_by_id[dish.view.order_id]
        if all(d.done_s is not None for d in order.dishes):
            order.ready_s = self.now
            self.ready.append(order)
        self.plan_trips()

    def slot_free(self, dish: _Dish) -> None:
        cooker = self.cookers[dish.robot_id]
        cooker.free += 1
        del cooker.busy[dish.view.job_id]
        self.schedule()

    # -- the pass -----------------------------------------------------------------------------

    def _coming(self) -> tuple[Coming, ...]:
        """Orders whose every uncooked dish is cooking, and when the last should be done."""
        waiting = {d.view.order_id for d in self.pending}
        due: dict[str, Coming] = {}
        for d in self.cooking.values():
            o = d.view.order_id
            if o in waiting or d.start_s is None:
                continue
            t = d.start_s + d.view.cook_time_s
            if o not in due or t > due[o].eta:
                due[o] = Coming(o, d.view.table_id, t)
        return tuple(due.values())

    def _free(self) -> list[_Server]:
        """As `Serving.free_robots`: the one waiting at the pass first, then the least
        recently used. A free robot whose battery fell below `battery.low` goes to charge
        first, as the robot does between trips."""
        for s in self.servers.values():
            if s.free and self._level(s) < self.cfg.battery.low:
                self._charge(s)
        free = [s for s in self.servers.values() if s.free]
        return sorted(free, key=lambda s: (s.staged_at is None, s.last_trip_s, s.robot.id))

    def _level(self, s: _Server) -> float:
        return s.level - self.cfg.battery.used(0.0, self.now - s.level_at)

    def _charge(self, s: _Server) -> None:
        """Dock → charger, charge to `battery.charged` (no drain on the charger), back to the
        dock (`serving_robot._manage_charge`); out of service meanwhile."""
        battery, robot = self.cfg.battery, s.robot
        charger = self.cfg.charger_of(robot)
        there = self._length(robot.dock, charger)
        go, back = self._leg_s(robot, robot.dock, charger), self._leg_s(robot, charger, robot.dock)
        level = self._level(s) - battery.used(there, go)
        hours = max(0.0, battery.charged - level) / battery.charge_per_h
        end = self.now + go + hours * 3600 + back
        s.free, s.staged_at = False, None
        s.charges += 1
        s.charging_s += end - self.now
        s.distance_m += 2 * there
        s.level, s.level_at = battery.charged - battery.used(there, back), end
        self.at(end, partial(self.back, s))

    def _check_at(self, t: float) -> None:
        if t < math.inf and t not in self._checks:
            self._checks.add(t)
            self.at(t, self.plan_trips)

    def plan_trips(self) -> None:
        """The dispatcher's batching (`delivery.next_trip`, the very function), then its
        staging of a robot at the pass."""
        coming = self._coming()
        window = self.cfg.service.batch_window_s
        while self.ready and (free := self._free()):
            ready = [ReadyOrder(o.order_id, o.table.id, '', o.ready_s or 0.0) for o in self.ready]
            timing = Timing(delivery.BATCH_WAIT_S, window, coming)
            chosen = delivery.next_trip(self.cfg, ready, free[0].robot.trays, self.now, timing)
            if not chosen:
                limit = max(delivery.BATCH_WAIT_S, window)
                self._check_at(min((o.ready_s or 0.0) + limit for o in self.ready))
                break
            taken = [self.order_by_id[o.order_id] for o in chosen]
            for o in taken:
                self.ready.remove(o)
            self.trip(free[0], taken)
        self._stage(coming)

    def _stage(self, coming: tuple[Coming, ...]) -> None:
        """As `Serving._stage`: when food is ready or due within the lead, the first free
        robot goes there, unless one waits there."""
        free = self._free()
        if not free or any(s.staged_at is not None for s in free) or not (coming or self.ready):
            return
        soonest = self.now if self.ready else min(c.eta for c in coming)
        if soonest - self.now > self.stage_lead_s:
            self._check_at(soonest - self.stage_lead_s)
            return
        server = free[0]
        drive = self._leg_s(server.robot, server.robot.dock, self.cfg.floor.pass_point.id)
        server.staged_at = self.now + self.latency.trip_start_s + drive

    def _length(self, a: str, b: str) -> float:
        return self.cfg.floor.length(a, b)

    def _leg_s(self, robot: ServingRobot, a: str, b: str) -> float:
        key = (robot.id, a, b)
        if key not in self._legs:
            length = self._length(a, b)
            self._legs[key] = drive_s(length, robot.speed_mps, robot.max_accel_mps2)
        return self._legs[key]

    def trip(self, server: _Server, orders: list[_Order]) -> None:
        """The whole trip is known once it starts: drives, and the diners' pickup delays."""
        robot, pass_id = server.robot, self.cfg.floor.pass_point.id
        server.free, server.last_trip_s = False, self.now
        server.trips += 1
        server.trays += len(orders)
        start = self.now + self.latency.trip_start_s
        if server.staged_at is not None:  # waiting at the pass, or on its way there
            t = max(start, server.staged_at)
            server.staged_at = None
        else:
            t = start + self._leg_s(robot, robot.dock, pass_id)
        here, route, back = pass_id, [robot.dock, pass_id], False
        for o in orders:
            o.trip_start_s, o.left_pass_s = start, t
        left = list(orders)
        while left:
            o = min(left, key=lambda o: (self._leg_s(robot, here, o.table.waypoint), o.table.id))
            left.remove(o)
            t += self._leg_s(robot, here, o.table.waypoint)
            here = o.table.waypoint
            route.append(here)
            o.arrived_s = t
            if o.party.pickup_after_s <= self.cfg.service.pickup_timeout_s:
                t += o.party.pickup_after_s
                self.at(t, partial(self.served, o))
            else:
                t += self.cfg.service.pickup_timeout_s
                back = True
        for stop in ([pass_id] if back else []) + [robot.dock]:
            t += self._leg_s(robot, here, stop)
            here = stop
            route.append(here)
        server.busy_s += t - self.now
        distance = sum(self._length(a, b) for a, b in itertools.pairwise(route))
        server.distance_m += distance
        server.level = self._level(server) - self.cfg.battery.used(distance, t - self.now)
        server.level_at = t
        self.trip_trays.append(len(orders))
        self.last_back_s = max(self.last_back_s, t)
        self.at(t, partial(self.back, server))

    def served(self, o: _Order) -> None:
        o.served_s = self.now
        self.at(self.now + o.party.dine_s + self._paying_s(o.party), partial(self.leave, o.table))

    def _paying_s(self, p: Party) -> float:
        """Bill asked for → table closed: the table stays taken that long after dinner, so
        fewer parties get one before they give up at the door."""
        retries = p.declines_planned * self.scenario.retry_after_s
        close = self.cfg.service.close_after_paid_s + self.latency.close_extra_s
        return retries + self.latency.pay_s + close

    def back(self, server: _Server) -> None:
        server.free = True
        self.plan_trips()

    # -- the report ---------------------------------------------------------------------------

    def span_s(self) -> float:
        """Until the last diner is served and the last robot is back, as the rush runs (1 s:
        a service without orders)."""
        ends = [o.served_s for o in self.orders if o.served_s is not None]
        return max([self.last_back_s, *ends]) or 1.0

    def serving_figures(self, span: float) -> dict[str, dict[str, Any]]:
        """Each serving robot's part of the report over `span` simulated seconds (without the
        rest of it: the capacity bound takes most of a report's time)."""
        return {
            s.robot.id: {
                'kind': 'serving',
                'trips': s.trips,
                'trays': s.trays,
                'utilization': round(s.busy_s / span, 3),
                'distance_m': round(s.distance_m, 1),
                'charges': s.charges,
                'charging_s': round(s.charging_s, 1),
            }
            for s in self.servers.values()
        }

    def report(self) -> dict[str, Any]:
        served = [o for o in self.orders if o.served_s is not None]
        tickets = [o.served_s - o.placed_s for o in served if o.served_s is not None]
        span = self.span_s()
        ticket = stats(tickets)
        floor = self.cfg.floor
        top = max(r.speed_mps for r in self.cfg.serving_robots)
        naive = [
            max(d.view.cook_time_s for d in o.dishes)
            + self._length(floor.pass_point.id, o.table.waypoint) / top
            for o in served
        ]
        bound = capacity_bound([o.spec() for o in served], self.cfg)
        starts: dict[str, list[float]] = {}
        for o in self.orders:
            for d in o.dishes:
                if d.start_s is not None:
                    starts.setdefault(d.view.station, []).append(d.start_s - o.placed_s)
        # (ready, trip decided, left the pass) of each order a robot took.
        moved = [
            (o, o.ready_s, o.trip_start_s, o.left_pass_s)
            for o in self.orders
            if o.ready_s is not None and o.trip_start_s is not None and o.left_pass_s is not None
        ]
        eta_errors = [o.arrived_s - o.eta_s for o in self.orders if o.arrived_s is not None]
        lower = stats(naive)

        def ratio(a: float | int | None, b: float | int | None) -> float | None:
            return round(a / b, 2) if a and b else None

        return {
            'scenario': self.scenario.name,
            'seed': self.scenario.seed,
            'simulated_s': round(span, 1),
            'parties': {
                'arrived': len(self.parties),
                'seated': sum(p.seated_s is not None for p in self.parties),
                'turned_away': sum(p.turned_away for p in self.parties),
                'door_wait_s': stats(
                    [p.seated_s - p.arrive_s for p in self.parties if p.seated_s is not None]
                ),
            },
            'orders': {
                'placed': len(self.orders),
                'served': len(served),
                'dishes': sum(len(o.dishes) for o in self.orders),
            },
            'ticket_s': ticket,
            'dispatch_wait_s': stats([start - ready for _, ready, start, _ in moved]),
            'pass_wait_s': stats([left - ready for _, ready, _, left in moved]),
            'dish_hold_s': stats(
                [
                    left - d.done_s
                    for o, _, _, left in moved
                    for d in o.dishes
                    if d.done_s is not None
                ]
            ),
            'start_wait_s': {s: stats(starts[s]) for s in self.stations if s in starts},
            'lower_bound_ticket_s': lower,
            'ticket_to_lower_bound': ratio(ticket['mean'], lower['mean']),
            'capacity_bound_ticket_s': round(bound.mean_s, 1),
            'capacity_bound_pool': list(bound.pool),
            'ticket_to_capacity_bound': ratio(ticket['mean'], bound.mean_s),
            'eta_error_s': {
                **stats([abs(e) for e in eta_errors]),
                'bias': round(sum(eta_errors) / len(eta_errors), 1) if eta_errors else None,
            },
            'robots': {
                **{
                    c.robot.id: {
                        'kind': 'cooking',
                        'dishes_cooked': c.cooked,
                        'utilization': round(c.busy_slot_s / (c.robot.capacity * span), 3),
                    }
                    for c in self.cookers.values()
                },
                **self.serving_figures(span),
            },
            'trips': {
                'count': len(self.trip_trays),
                'trays_per_trip': round(sum(self.trip_trays) / len(self.trip_trays), 2)
                if self.trip_trays
                else None,
            },
        }


def play(
    cfg: RestaurantConfig, scenario: Scenario, policy: Policy, seed: int | None, latency: Latency
) -> _Twin:
    """One modelled service: the scenario (with `seed` instead of its own, if given) played
    with `policy`; the twin, with its orders and `report()`."""
    if seed is not None:
        scenario = scenario.model_copy(update={'seed': seed})
    twin = _Twin(cfg, scenario, policy, latency)
    twin.run()
    return twin


def run_twin(
    cfg: RestaurantConfig,
    scenario: Scenario,
    policy_name: str,
    seed: int | None = None,
    latency: Latency = LATENCIES['rush'],
    **knobs: float | bool,
) -> dict[str, Any]:
    """One modelled service: the scenario (with `seed` instead of its own, if given) played
    with the named policy and `knobs` (see `scheduling.get_policy`); the rush report's key
    numbers."""
    twin = play(cfg, scenario, get_policy(policy_name, **knobs), seed, latency)
    return {
        'policy': policy_name,
        'knobs': dict(knobs),
        'latency': asdict(latency),
        **twin.report(),
    }


@dataclass(frozen=True)
class Row:
    """One policy on one scenario over several seeds, every ticket of every seed pooled."""

    scenario: str
    policy: str
    seeds: int
    orders: int
    mean_s: float
    p95_s: float
    capacity_bound_s: float
    # Mean over the capacity bound; mean and p95 over `fifo`'s (1.0 when fifo is not compared).
    to_bound: float
    to_fifo: float
    p95_to_fifo: float
    # Mean absolute error of the ETA given at order time; mean wait of a cooked dish until a
    # robot leaves the pass with it.
    eta_error_s: float
    dish_hold_s: float


def compare(
    cfg: RestaurantConfig,
    scenario: Scenario,
    policies: Sequence[str],
    seeds: Sequence[int],
    latency: Latency = LATENCIES['rush'],
) -> list[Row]:
    """Each policy on the same seeds, so on the same parties (as far as their tables free up
    alike)."""
    rows = []
    for name in policies:
        tickets, bounds, errors, holds = [], [], [], []
        for seed in seeds:
            twin = play(cfg, scenario, get_policy(name), seed, latency)
            served = [o for o in twin.orders if o.served_s is not None]
            tickets += [o.served_s - o.placed_s for o in served if o.served_s is not None]
            bound = capacity_bound([o.spec() for o in served], cfg).mean_s
            bounds += [bound] * len(served)
            errors += [abs(o.arrived_s - o.eta_s) for o in served if o.arrived_s is not None]
            holds += [
                o.left_pass_s - d.done_s
                for o in served
                for d in o.dishes
                if o.left_pass_s is not None and d.done_s is not None
            ]
        p95 = stats(tickets)['p95']
        assert p95 is not None
        mean, bound = sum(tickets) / len(tickets), sum(bounds) / len(bounds)
        rows.append(
            Row(
                scenario.name,
                name,
                len(seeds),
                len(tickets),
                mean,
                p95,
                bound,
                mean / bound,
                1.0,
                1.0,
                sum(errors) / len(errors),
                sum(holds) / len(holds),
            )
        )
    fifo = next((r for r in rows if r.policy == 'fifo'), None)
    if fifo is None:
        return rows
    return [
        replace(r, to_fifo=r.mean_s / fifo.mean_s, p95_to_fifo=r.p95_s / fifo.p95_s) for r in rows
    ]


def table(rows: Sequence[Row]) -> str:
    """The comparison as a Markdown table (what `robodine rush --model` and bench/twin.py
    print)."""
    lines = [
        '| scenario | policy | seeds | orders | mean | p95 | capacity bound | mean / bound '
        '| mean / fifo | p95 / fifo | ETA error | dish hold |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ]
    for r in rows:
        lines.append(
            f'| {r.scenario} | {r.policy} | {r.seeds} | {r.orders} | {r.mean_s:.0f} s '
            f'| {r.p95_s:.0f} s | {r.capacity_bound_s:.0f} s | {r.to_bound:.2f} '
            f'| {r.to_fifo:.3f} | {r.p95_to_fifo:.3f} | {r.eta_error_s:.0f} s '
            f'| {r.dish_hold_s:.0f} s |'
        )
    return '\n'.join(lines)
