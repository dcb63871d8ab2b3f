"""The kitchen's scheduling decision as a pure function: which pending dishes start on which
cooking robots now.

The dispatcher (and the offline twin, `orchestrator.rush.twin`) builds a `Snapshot` — pending
dishes with their orders, cooking robots with their free slots and what they cook — and asks a
`Policy` for `Assignment`s. A policy never starts more dishes on a robot than it has free
slots, never uses a robot that is unavailable or does not serve the dish's station, and uses a
robot the dish already failed on only when no other robot can take it now.

Policies (`POLICIES`, knobs through `get_policy`):

- `legacy`: the dispatcher before this module — stations in config order, FIFO inside each,
  least loaded robot by ratio. Kept to calibrate the twin against `robodine rush`.
- `fifo`: arrival order across all stations, least loaded robot. The baseline.
- `srpt`: one queue for all stations, ordered by the remaining work of the dish's order on its
  pool of robots that share stations (shortest first; within an order its longest dish first),
  minus an ageing term; routed so that a robot that is the scarce supply of another station
  is used last; when the robots cannot take every dish, a look-ahead searches the order of the
  first four orders (each try routed as usual and with a shared robot's slots left to its
  scarcer station's dishes: the only fryer robot to fryer dishes), plays the queue forward
  with each, and keeps the best.
- `srpt-fire`: `srpt` with the soft "fire by prep time": an order's dishes that would be ready
  long before its longest one go after every other dish, but still take a slot nobody else
  wants.

`eta` plays the known queue forward with a policy to predict when each order is ready;
`capacity_bound` is the lower bound of the mean ticket time that no policy can beat.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Protocol

from orchestrator.config import RestaurantConfig
from orchestrator.dispatch.lagrangian import ready_bound


@dataclass(frozen=True)
class DishView:
    """A dish unit (cook job) waiting for a robot."""

    job_id: str
    order_id: str
    table_id: str
    station: str
    cook_time_s: float
    # When its order was placed (the job became pending), seconds on the snapshot's clock.
    arrived_s: float
    failed_on: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CookerView:
    robot_id: str
    stations: frozenset[str]
    capacity: int
    free_slots: int
    # Predicted finish of each dish it cooks now (one per occupied slot when known).
    busy_until: tuple[float, ...] = ()
    # Working and reachable: it may be given a dish now.
    available: bool = True

    @property
    def load(self) -> int:
        return self.capacity - self.free_slots


@dataclass(frozen=True)
class Snapshot:
    now_s: float
    # In arrival order (stream order per station): the tie-break of every policy.
    pending: tuple[DishView, ...]
    cookers: tuple[CookerView, ...]
    # Orders with dishes on a robot now: the predicted finish of the latest of them.
    in_flight: Mapping[str, float] = field(default_factory=dict)
    # Stations in config order (the legacy policy walks them in this order).
    stations: tuple[str, ...] = ()


@dataclass(frozen=True)
class Assignment:
    job_id: str
    robot_id: str


Policy = Callable[[Snapshot], list[Assignment]]


class _Slots:
    """Free slots while a policy hands them out."""

    def __init__(self, snap: Snapshot) -> None:
        self.cookers = [c for c in snap.cookers if c.available]
        self.free = {c.robot_id: c.free_slots for c in self.cookers}
        self.left = sum(max(0, n) for n in self.free.values())
        self._serving: dict[str, list[CookerView]] = {}
        for c in self.cookers:
            for s in c.stations:
                self._serving.setdefault(s, []).append(c)

    def able(self, dish: DishView) -> list[CookerView]:
        """Robots that may take `dish` now; those it failed on only if no other can."""
        able = [c for c in self._serving.get(dish.station, ()) if self.free[c.robot_id] > 0]
        return [c for c in able if c.robot_id not in dish.failed_on] or able

    def take(self, dish: DishView, robot: CookerView, out: list[Assignment]) -> None:
        self.free[robot.robot_id] -= 1
        self.left -= 1
        out.append(Assignment(dish.job_id, robot.robot_id))

    def least_loaded(self, robots: Iterable[CookerView]) -> CookerView | None:
        """Shortest queue relative to capacity (the dispatcher's routing before scheduling)."""

        def key(c: CookerView) -> tuple[float, int, str]:
            load = c.capacity - self.free[c.robot_id]
            return load / c.capacity, load, c.robot_id

        return min(robots, key=key, default=None)


def legacy(snap: Snapshot) -> list[Assignment]:
    """Stations in config order, FIFO inside each, least loaded robot: earlier stations take
    the robots they share with later ones first."""
    slots, out = _Slots(snap), list[Assignment]()
    order = list(snap.stations) + sorted({d.station for d in snap.pending} - set(snap.stations))
    for station in order:
        for dish in (d for d in snap.pending if d.station == station):
            robot = slots.least_loaded(slots.able(dish))
            if robot is not None:
                slots.take(dish, robot, out)
    return out


def fifo(snap: Snapshot) -> list[Assignment]:
    """Arrival order across all stations, least loaded robot."""
    slots, out = _Slots(snap), list[Assignment]()
    for dish in sorted(snap.pending, key=lambda d: d.arrived_s):
        robot = slots.least_loaded(slots.able(dish))
        if robot is not None:
            slots.take(dish, robot, out)
    return out


@dataclass(frozen=True)
class SrptKnobs:
    # Seconds of order work one second of waiting is worth: 0 is pure shortest-remaining-work
    # (best mean, long waits for big orders); more bounds the wait of big orders (p95).
    age_weight: float = 0.25
    # When robots cannot take every dish now, search the order in which the first `lookahead`
    # orders that can start go (moving one before another, `lookahead_rounds` times over) and
    # keep the choice whose played-forward queue is ready soonest on average (0 or 1: no
    # look-ahead). Each try plays the queue once with that order kept.
    lookahead: int = 4
    lookahead_rounds: int = 2
    # A decision plays at most this many dishes in all (plays × dishes a play), so that a long
    # queue shortens the search rather than the decision growing with its square.
    lookahead_budget: int = 1500
    # Only orders whose priority is within this many seconds of the first one's are tried, so
    # an order whose ageing credit is that much ahead is never overtaken: its wait stays bounded.
    lookahead_margin_s: float = 1200.0
    # A play sees only the dishes of the first `lookahead_orders` orders in priority order
    # (and those started now): the choice hardly moves the orders behind them, and a play
    # costs the square of its length, which must stay small beside a long rush queue.
    lookahead_orders: int = 30
    # The look-ahead also plays each candidate routed with a shared robot's slots left to the
    # pending dishes of its scarcer stations (`_route`'s reserve): when grill dishes fill the
    # only fryer robot while the grill-only robot is about to free a slot, a fryer dish of an
    # order beyond the first `lookahead` waits a whole grill cook time, which no reordering
    # of the first orders undoes. Played, not always on: reserving idles nothing but
    # reorders, and on Saturday it starves the fryer's big orders (mean ×1.03, p95 ×1.32).
    reserve: bool = True
    # Soft fire by prep time: a dish that would be ready more than `fire_slack_s` before its
    # order's longest dish goes after every other dish, but still takes a slot nobody wants.
    fire_by_prep: bool = False
    fire_slack_s: float = 60.0


class _Cooks(Protocol):
    """A cooking robot as far as pools go: a `CookerView`, or a robot of the config."""

    @property
    def stations(self) -> Collection[str]: ...


def pools(cookers: Iterable[_Cooks]) -> dict[str, int]:
    """Station → pool number, a pool being the stations connected by robots that share them."""
    pool: dict[str, int] = {}
    for n, c in enumerate(cookers):
        joined = {pool[s] for s in c.stations if s in pool}
        for s, p in pool.items():
            if p in joined:
                pool[s] = n
        for s in c.stations:
            pool[s] = n
    return pool


def _ranked(snap: Snapshot, knobs: SrptKnobs) -> tuple[list[DishView], set[str], dict[str, float]]:
    """Pending dishes by priority — least remaining order work on the dish's pool (less the
    ageing credit), the order's longest dish first — and the jobs fire by prep time holds
    back (ranked last)."""
    pool_of = pools(snap.cookers)
    work: dict[tuple[str, int], float] = {}
    longest: dict[str, float] = {}
    for d in snap.pending:
        key = (d.order_id, pool_of.get(d.station, -1))
        work[key] = work.get(key, 0.0) + d.cook_time_s
        longest[d.order_id] = max(longest.get(d.order_id, 0.0), d.cook_time_s)
    held: set[str] = set()
    if knobs.fire_by_prep:
        for d in snap.pending:
            target = max(snap.in_flight.get(d.order_id, 0.0), snap.now_s + longest[d.order_id])
            if snap.now_s + d.cook_time_s + knobs.fire_slack_s < target:
                held.add(d.job_id)

    prio = {
        d.job_id: work[(d.order_id, pool_of.get(d.station, -1))]
        - knobs.age_weight * (snap.now_s - d.arrived_s)
        for d in snap.pending
    }

    def rank(d: DishView) -> tuple[bool, float, float, float]:
        return d.job_id in held, prio[d.job_id], -d.cook_time_s, d.arrived_s

    return sorted(snap.pending, key=rank), held, prio


def _route(snap: Snapshot, ranked: Iterable[DishView], reserve: bool = False) -> list[Assignment]:
    """Each dish in turn to the robot whose other stations are least wanted (pending work per
    slot), so a station's only robot stays free for it while another robot can take the dish;
    then the least loaded.

    With `reserve`, a dish leaves a shared robot's free slots to the dishes ranked after it of
    the robot's stations that fewer slots cook (the fryer robot to fryer dishes, while grill
    dishes have a grill robot too), and takes what they leave once every dish had its turn."""
    slots, out = _Slots(snap), list[Assignment]()
    supply: dict[str, int] = {}
    for c in slots.cookers:
        for s in c.stations:
            supply[s] = supply.get(s, 0) + c.capacity
    demand: dict[str, float] = {}
    left: dict[str, int] = {}
    for d in snap.pending:
        demand[d.station] = demand.get(d.station, 0.0) + d.cook_time_s
        left[d.station] = left.get(d.station, 0) + 1

    def scarcity(d: DishView, c: CookerView) -> tuple[float, float, float, str]:
        others = c.stations - {d.station}
        wanted = sum(demand[s] / supply[s] for s in others if s in demand)
        exclusive = sum(1 / supply[s] for s in others)
        load = c.capacity - slots.free[c.robot_id]
        return wanted, exclusive, load / c.capacity, c.robot_id

    def unclaimed(d: DishView, c: CookerView) -> bool:
        scarcer = (s for s in c.stations if supply[s] < supply[d.station])
        return slots.free[c.robot_id] > sum(left.get(s, 0) for s in scarcer)

    later = []
    for dish in ranked:
        if not slots.left:
            break  # the rest wait: nothing left to hand out
        able = slots.able(dish)
        if reserve and able and not (able := [c for c in able if unclaimed(dish, c)]):
            later.append(dish)
        if able:
            slots.take(dish, min(able, key=partial(scarcity, dish)), out)
        demand[dish.station] -= dish.cook_time_s
        left[dish.station] -= 1
    for dish in later:
        if able := slots.able(dish):
            slots.take(dish, min(able, key=partial(scarcity, dish)), out)
    return out


def srpt(
    snap: Snapshot, knobs: SrptKnobs = SrptKnobs(), pin: Sequence[str] = ()
) -> list[Assignment]:
    """Shortest remaining order work first, with ageing; scarce robots used last.

    An order is ready when its last dish is, so finishing orders one at a time — the one with
    the least work left on its pool first, its longest dish first — lowers the mean ticket
    (an order's dishes are not interleaved with others'); the ageing term keeps big orders
    from waiting without bound. The priority is blind to how orders fit together on the
    robots, which the look-ahead sees (`_search`). `pin`: orders that go first, in this order
    (a try of the look-ahead, kept while it plays the queue forward).
    """
    ranked, held, prio = _ranked(snap, knobs)
    if pin:
        ranked = _pinned(ranked, held, pin)
    plan = _route(snap, ranked)
    if knobs.lookahead < 2:
        return plan
    able = {s for c in snap.cookers if c.available and c.free_slots > 0 for s in c.stations}
    if len(plan) == sum(d.station in able for d in snap.pending):
        return plan  # every dish that can start does: nothing to choose
    return _search(snap, knobs, ranked, held, prio, plan)


def _pinned(ranked: Sequence[DishView], held: set[str], pin: Sequence[str]) -> list[DishView]:
    """`ranked` with the orders of `pin` first, in that order (held dishes still last)."""
    at = {order_id: n for n, order_id in enumerate(pin)}
    return sorted(ranked, key=lambda d: (d.job_id in held, at.get(d.order_id, len(at))))


def _search(
    snap: Snapshot,
    knobs: SrptKnobs,
    ranked: list[DishView],
    held: set[str],
    prio: Mapping[str, float],
    plan: list[Assignment],
) -> list[Assignment]:
    """The look-ahead: a local search over the order in which the first orders by priority go.
    A try moves one of them before or after another; it is routed as usual and with a
    shared robot's slots left to its scarcer stations' dishes (`_route`'s reserve), and played
    forward with its order of those orders kept; the try whose played orders are ready soonest
    in all wins (orders no robot can cook left out), and the next round moves orders of the
    best try. Only orders within `lookahead_margin_s` of the first's priority take part, so
    none overtakes an order that has waited that much longer for its work. `plan`: the
    decision without look-ahead."""
    top = prio[ranked[0].job_id]
    near = (d.order_id for d in ranked if prio[d.job_id] - top <= knobs.lookahead_margin_s)
    window = tuple(dict.fromkeys(near))[: knobs.lookahead]
    front = set(list(dict.fromkeys(d.order_id for d in ranked))[: knobs.lookahead_orders])
    order_of = {d.job_id: d.order_id for d in snap.pending}
    plain = replace(knobs, lookahead=0)
    budget = knobs.lookahead_budget
    best, seq = (math.inf, math.inf), window
    tried: set[tuple[str, ...]] = set()

    def attempt(order: tuple[str, ...]) -> None:
        nonlocal best, plan, seq, budget
        tried.add(order)
        first = _pinned(ranked, held, order)
        trials = [_route(snap, first)]
        if knobs.reserve and (kept := _route(snap, first, reserve=True)) != trials[0]:
            trials.append(kept)
        for trial in trials:
            seen = front | {order_of[a.job_id] for a in trial}
            ahead = replace(snap, pending=tuple(d for d in snap.pending if d.order_id in seen))
            budget -= len(ahead.pending)
            played = eta(_apply(ahead, trial), partial(srpt, knobs=plain, pin=order)).values()
            score = (sum(map(math.isinf, played)), sum(t for t in played if not math.isinf(t)))
            if score < best:
                best, plan, seq = score, trial, order

    attempt(window)
    for _ in range(knobs.lookahead_rounds):
        base = seq
        for i, j in itertools.permutations(range(len(base)), 2):
            rest = base[:i] + base[i + 1 :]
            moved = (*rest[:j], base[i], *rest[j:])
            if moved not in tried and budget > 0:
                attempt(moved)
        if seq == base:
            break
    return plan


POLICIES: dict[str, Policy] = {
    'legacy': legacy,
    'fifo': fifo,
    'srpt': partial(srpt, knobs=SrptKnobs()),
    'srpt-fire': partial(srpt, knobs=SrptKnobs(fire_by_prep=True)),
}


def get_policy(name: str, **knobs: float | bool) -> Policy:
    """The named policy, with knobs (fields of `SrptKnobs`) changed from its defaults."""
    policy = POLICIES.get(name)
    if policy is None:
        raise ValueError(f'unknown policy {name!r}; known: {", ".join(POLICIES)}')
    if not knobs:
        return policy
    if not isinstance(policy, partial) or 'knobs' not in policy.keywords:
        raise ValueError(f'policy {name!r} has no knobs')
    try:
        return partial(policy.func, knobs=replace(policy.keywords['knobs'], **knobs))
    except TypeError as e:
        raise ValueError(f'policy {name!r}: {e}') from e


def _apply(snap: Snapshot, plan: Sequence[Assignment]) -> Snapshot:
    """The snapshot once `plan`'s dishes are on their robots (each due after its cook time)."""
    by_job = {d.job_id: d for d in snap.pending}
    started: dict[str, list[float]] = {}
    in_flight = dict(snap.in_flight)
    for a in plan:
        d = by_job.pop(a.job_id)
        done = snap.now_s + d.cook_time_s
        started.setdefault(a.robot_id, []).append(done)
        in_flight[d.order_id] = max(in_flight.get(d.order_id, done), done)
    cookers = tuple(
        replace(
            c,
            free_slots=c.free_slots - len(started[c.robot_id]),
            busy_until=tuple(sorted(c.busy_until + tuple(started[c.robot_id]))),
        )
        if c.robot_id in started
        else c
        for c in snap.cookers
    )
    pending = tuple(d for d in snap.pending if d.job_id in by_job)
    return replace(snap, pending=pending, cookers=cookers, in_flight=in_flight)


def _advance(snap: Snapshot, now_s: float) -> Snapshot:
    """The snapshot at `now_s` when every dish due by then is done."""
    cookers = tuple(
        replace(
            c,
            free_slots=c.free_slots + sum(t <= now_s for t in c.busy_until),
            busy_until=tuple(t for t in c.busy_until if t > now_s),
        )
        for c in snap.cookers
    )
    in_flight = {o: t for o, t in snap.in_flight.items() if t > now_s}
    return replace(snap, now_s=now_s, cookers=cookers, in_flight=in_flight)


def forecaster(policy: Policy) -> Policy:
    """The policy without its look-ahead, which would play the whole queue forward again at
    every step of a play (cubic: 17 s for 300 dishes); its own look-ahead plays with it too."""
    if not isinstance(policy, partial):
        return policy
    knobs = policy.keywords.get('knobs')
    if isinstance(knobs, SrptKnobs) and knobs.lookahead:
        return partial(policy.func, knobs=replace(knobs, lookahead=0))
    return policy


def _held(c: CookerView, now_s: float) -> CookerView:
    """The robot with one predicted finish per occupied slot, as its free slots say. A slot
    held without a known finish frees at once. A finish beyond its occupied slots is a dish
    already done whose slot is counted free (the dispatcher hears the result before it
    forgets the dish): played again, it would free that slot twice, and the look-ahead, seeing
    a phantom slot on the only fryer robot, put a grill dish there, counting on the phantom
    for the fryer dish."""
    load = max(0, c.load)
    known = sorted(c.busy_until)[max(0, len(c.busy_until) - load) :]
    return replace(c, busy_until=tuple(known) + (now_s,) * (load - len(known)))


def eta(snap: Snapshot, policy: Policy) -> dict[str, float]:
    """Predicted ready time (last dish cooked) of every pending or in-flight order.

    Plays the known queue forward with `forecaster(policy)` — no new orders, dishes take their
    cook time, a slot frees when its dish is due (a slot held without a known finish: at
    once) — so the prediction is as good as the schedule it is played with. An order that no
    robot can cook is `math.inf`.
    """
    policy = forecaster(policy)
    ready = dict(snap.in_flight)
    for d in snap.pending:
        ready.setdefault(d.order_id, snap.now_s)
    snap = replace(snap, cookers=tuple(_held(c, snap.now_s) for c in snap.cookers))
    while snap.pending:
        snap = _apply(snap, policy(snap))
        for order_id, t in snap.in_flight.items():
            ready[order_id] = max(ready[order_id], t)
        due = [t for c in snap.cookers for t in c.busy_until]
        if not snap.pending or not due:
            break
        snap = _advance(snap, max(snap.now_s, min(due)))
    for d in snap.pending:
        ready[d.order_id] = math.inf
    return ready


# --- the physical limit ----------------------------------------------------------------------


@dataclass(frozen=True)
class OrderSpec:
    """An order as the bound sees it."""

    order_id: str
    placed_s: float
    table_id: str
    # (station, cook time) of each dish unit.
    dishes: tuple[tuple[str, float], ...]
    # How long the diner takes to pick the food off the robot.
    pickup_s: float = 0.0


@dataclass(frozen=True)
class TicketBound:
    # Lower bound of the mean ticket time (placed → food taken).
    mean_s: float
    # The same without any capacity limit (longest dish, drive, pickup).
    unlimited_mean_s: float
    # The stations that set the bound: the pool's, or the limit's whose price weighs most in the
    # slots bound (empty: no pool limits it).
    pool: tuple[str, ...]


def drive_s(length_m: float, speed_mps: float, accel_mps2: float) -> float:
    """Rest to rest along `length_m`: accelerate, cruise at top speed, brake."""
    if length_m <= speed_mps**2 / accel_mps2:
        return 2 * math.sqrt(length_m / accel_mps2)
    return length_m / speed_mps + speed_mps / accel_mps2


def pass_to_table_s(cfg: RestaurantConfig) -> dict[str, float]:
    """Fastest drive from the pass to each table's stop, over all serving robots."""
    floor = cfg.floor
    out = {}
    for t in cfg.tables:
        length = floor.length(floor.pass_point.id, t.waypoint)
        out[t.id] = min(drive_s(length, r.speed_mps, r.max_accel_mps2) for r in cfg.serving_robots)
    return out


def _station_sets(cfg: RestaurantConfig) -> Iterator[frozenset[str]]:
    """Every non-empty set of stations inside one pool of robots that share stations."""
    groups: dict[int, list[str]] = {}
    for station, pool in sorted(pools(cfg.cooking_robots).items()):
        groups.setdefault(pool, []).append(station)
    for members in groups.values():
        for n in range(1, len(members) + 1):
            yield from map(frozenset, itertools.combinations(members, n))


def _srpt_completions(jobs: Sequence[tuple[float, float]]) -> list[float]:
    """Completion times, sorted, of (release, work) jobs on one preemptive machine run
    shortest-remaining-processing-time first (which makes every k-th completion earliest)."""
    jobs = sorted(jobs)
    done: list[float] = []
    heap: list[float] = []
    now, i = 0.0, 0
    while i < len(jobs) or heap:
        if not heap:
            now = max(now, jobs[i][0])
        while i < len(jobs) and jobs[i][0] <= now:
            heapq.heappush(heap, jobs[i][1])
            i += 1
        left = heapq.heappop(heap)
        until = jobs[i][0] if i < len(jobs) else math.inf
        if now + left <= until:
            now += left
            done.append(now)
        else:
            heapq.heappush(heap, left - (until - now))
            now = until
    return done


def capacity_bound(orders: Sequence[OrderSpec], cfg: RestaurantConfig) -> TicketBound:
    """A lower bound of the mean ticket time of `orders` that no dispatcher can beat, even one
    that knows every future order.

    An order's food is taken at ready + drive + pickup, where the drive (pass → table along
    the shortest drivable path, rest to rest at the fastest serving robot's top speed and
    acceleration) and the diner's pickup delay are as given, and Σ ready (its last dish
    cooked) is bounded below in three ways, the highest counting:

    - ready ≥ placed + its longest cook time (a dish takes its cook time on one slot);
    - pooled: for each set S of stations, the orders' work on S (Σ cook times) can only be
      done by the robots that cook any of S: one preemptive machine as fast as all their
      slots together does it no later. This relaxes which of those robots may cook which
      station, lets a dish be split across slots and be preempted, and ignores all other
      work. On it, shortest remaining work first makes every k-th completion as early as
      possible, so sorted ready times are at least those completions; matching them in
      sorted order with the first bound gives the least Σ max(both) any schedule can reach.
    - slots (`lagrangian.ready_bound`): a dish holds one slot of one robot that cooks its
      station for its whole cook time, so at any instant at most slots(S) dishes of S cook,
      for every S, and at most its slots on each robot. On a grid of 10 s (starts and cook
      times rounded down, which only relaxes) a price on each of these limits at each step
      splits the problem into one per order, solved exactly; by weak duality any prices ≥ 0
      give a lower bound, and subgradient steps raise it, first on the sets' limits, then on
      the robots' (which also keeps a dish on one robot for its whole cook time, where the
      sets' limits let it move between robots). It sees what pooling hides: a 240 s dish
      takes 240 s on its slot, not 240 / slots.

    S runs over the subsets of each group of robots that share stations (a scarce station,
    say grill with one robot inside a pool of seven slots, limits alone). The bound also
    relaxes: the pass (a serving robot always waits there, no batching, trays or trips in the
    way), robot and software latency, and the door.
    """
    if not orders:
        return TicketBound(0.0, 0.0, ())
    drive = pass_to_table_s(cfg)
    earliest = {o.order_id: o.placed_s + max(c for _, c in o.dishes) for o in orders}
    best, pool = sum(earliest.values()), tuple[str, ...]()
    limits = []
    for stations in _station_sets(cfg):
        slots = sum(r.capacity for r in cfg.cooking_robots if stations & set(r.stations))
        limits.append((stations, slots))
        jobs = {
            o.order_id: (o.placed_s, sum(c for s, c in o.dishes if s in stations) / slots)
            for o in orders
            if any(s in stations for s, _ in o.dishes)
        }
        completions = _srpt_completions(list(jobs.values()))
        inside = sorted(earliest[o] for o in jobs)
        total = sum(map(max, inside, completions))
        total += sum(t for o, t in earliest.items() if o not in jobs)
        if total > best:
            best, pool = total, tuple(sorted(stations))
    robots = [(r.stations, r.capacity) for r in cfg.cooking_robots]
    slotted, limit = ready_bound([(o.placed_s, o.dishes) for o in orders], limits, robots)
    if slotted > best:
        best, pool = slotted, limit
    tail = sum(drive[o.table_id] + o.pickup_s - o.placed_s for o in orders)
    unlimited = sum(earliest.values())
    return TicketBound((best + tail) / len(orders), (unlimited + tail) / len(orders), pool)
