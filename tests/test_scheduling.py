"""The scheduling policies, the ETA and the capacity bound alone, on crafted snapshots."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import replace

import pytest

from orchestrator.config import RestaurantConfig
from orchestrator.dispatch import lagrangian, scheduling
from orchestrator.dispatch.scheduling import (
    POLICIES,
    Assignment,
    CookerView,
    DishView,
    OrderSpec,
    Snapshot,
    SrptKnobs,
    capacity_bound,
    drive_s,
    eta,
    get_policy,
    pass_to_table_s,
)

STATIONS = ('wok', 'grill', 'fryer', 'noodle')


def cooker(robot_id: str, stations: str, capacity: int, free: int | None = None) -> CookerView:
    return CookerView(
        robot_id, frozenset(stations.split()), capacity, capacity if free is None else free
    )


def dish(job_id: str, station: str, cook_s: float, arrived_s: float = 0.0) -> DishView:
    """Job ids are '<order>-<n>', as intake makes them."""
    return DishView(job_id, job_id.split('-')[0], 't01', station, cook_s, arrived_s)


def snap(now_s: float, pending: list[DishView], cookers: list[CookerView]) -> Snapshot:
    return Snapshot(now_s, tuple(pending), tuple(cookers), {}, STATIONS)


def placed(plan: list[Assignment]) -> dict[str, str]:
    return {a.job_id: a.robot_id for a in plan}


def test_the_only_fryer_robot_is_kept_for_the_fryer() -> None:
    # grill1 only grills; combi1 is the only robot with a fryer.
    robots = [cooker('grill1', 'grill', 2), cooker('combi1', 'grill fryer', 3)]
    pending = [dish(f'g{i}-0', 'grill', 300) for i in range(3)]
    pending += [dish(f'f{i}-0', 'fryer', 300, 1.0) for i in range(3)]
    # Before: grill dishes go to the least loaded robot, combi1 first, and a fryer dish waits
    # while grill1 has a free slot.
    legacy = POLICIES['legacy'](snap(10, pending, robots))
    assert len(legacy) == 4 and list(placed(legacy).values()).count('grill1') == 1
    for name in ('srpt', 'srpt-fire'):
        plan = placed(POLICIES[name](snap(10, pending, robots)))
        assert len(plan) == 5, name  # every slot busy
        assert list(plan.values()).count('grill1') == 2, name
        assert sum(j.startswith('f') for j in plan) == 2, name


def test_the_last_station_is_not_starved() -> None:
    """Stations in config order gave every shared slot to wok and grill dishes; one queue
    ordered by remaining order work lets a small fryer order through."""
    robots = [cooker('wok1', 'wok', 2), cooker('wok2', 'wok fryer', 2)]
    robots.append(cooker('grill1', 'grill fryer', 3))
    pending = [dish(f'a-{i}', 'wok', 240) for i in range(4)]
    pending += [dish(f'b-{i}', 'grill', 300) for i in range(3)]
    pending.append(dish('c-0', 'fryer', 180, 5.0))
    assert 'c-0' not in placed(POLICIES['legacy'](snap(10, pending, robots)))
    assert 'c-0' in placed(POLICIES['srpt'](snap(10, pending, robots)))


def test_the_fryer_robot_is_reserved_when_the_grill_robot_frees_soon() -> None:
    """The grill robot frees both slots in 10 s; the only fryer robot has one now. A small
    grill order in it leaves order c's fryer dish waiting 120 s more, and no reordering of
    the first two orders (a, b) puts c first: only the reserving candidate does (and a search
    over the first three orders, which moves c first)."""
    grill1 = replace(cooker('grill1', 'grill', 2, free=0), busy_until=(20.0, 20.0))
    robots = [grill1, cooker('fry1', 'grill fryer', 1)]
    pending = [dish('a-0', 'grill', 120), dish('b-0', 'grill', 120), dish('c-0', 'fryer', 480)]
    now = snap(10, pending, robots)
    assert placed(get_policy('srpt', reserve=False, lookahead=2)(now)) == {'a-0': 'fry1'}
    assert placed(get_policy('srpt', lookahead=2)(now)) == {'c-0': 'fry1'}
    assert placed(get_policy('srpt', reserve=False)(now)) == {'c-0': 'fry1'}
    assert placed(POLICIES['srpt'](now)) == {'c-0': 'fry1'}
    # Reserving idles nothing: with no fryer dish waiting, a grill dish takes the fryer robot.
    assert placed(POLICIES['srpt'](snap(10, pending[:2], robots))) == {'a-0': 'fry1'}


def test_a_done_dish_does_not_free_its_slot_twice() -> None:
    """The dispatcher hears a result (the slot is free) before it forgets the dish, which its
    snapshot still lists as cooking. Played as cooking, the done dish freed its slot a second
    time: with that phantom slot on the only fryer robot, the look-ahead put the order's grill
    dish there, and its fryer dish waited two minutes for the next real slot (robodine rush,
    Harbor: fryer dishes waited up to 1225 s where the twin's waited 905 s)."""
    grill1 = replace(cooker('grill1', 'grill', 3, free=0), busy_until=(125.0, 140.0, 265.0))
    fry1 = replace(cooker('fry1', 'grill fryer', 3, free=1), busy_until=(210.0, 340.0))
    pending = [dish('b-0', 'grill', 480, 100.0), dish('b-1', 'fryer', 480, 100.0)]
    now = snap(200, pending, [grill1, fry1])
    assert placed(POLICIES['srpt'](now)) == {'b-1': 'fry1'}
    assert eta(now, POLICIES['srpt']) == {'b': 690.0}
    # The done dish (due at 190) still listed: the same decision and the same ETA.
    done = replace(fry1, busy_until=(190.0, *fry1.busy_until))
    listed = replace(now, cookers=(grill1, done))
    assert placed(POLICIES['srpt'](listed)) == {'b-1': 'fry1'}
    assert eta(listed, POLICIES['srpt']) == {'b': 690.0}


def test_an_order_is_not_interleaved_with_another() -> None:
    robots = [cooker('wok1', 'wok', 2)]
    big = [dish(f'a-{i}', 'wok', 240) for i in range(3)]
    small = [dish('b-0', 'wok', 200, 5.0), dish('b-1', 'wok', 150, 5.0)]
    plan = placed(POLICIES['srpt'](snap(10, big + small, robots)))
    assert set(plan) == {'b-0', 'b-1'}  # the order with less work, both its dishes
    # One slot: the order's longest dish first.
    robots = [cooker('wok1', 'wok', 1)]
    assert placed(POLICIES['srpt'](snap(10, small, robots))) == {'b-0': 'wok1'}


@pytest.mark.parametrize('age_weight', [0.25, 1.0])
@pytest.mark.parametrize('lookahead', [0, 2])
def test_ageing_bounds_the_wait(age_weight: float, lookahead: int) -> None:
    """A big order waits for smaller ones only until its age makes up for its work (and, with
    the look-ahead, for the look-ahead's margin)."""
    robots = [cooker('grill1', 'grill', 1)]
    big = [dish(f'a-{i}', 'grill', 400) for i in range(3)]  # 1200 s of work, placed at 0
    policy = get_policy('srpt', age_weight=age_weight, lookahead=lookahead)
    # Its credit reaches the difference in work (1200 − 300 s) at 900 / age_weight s.
    waits = [(900 / age_weight - 60, 'b')]
    margin = SrptKnobs().lookahead_margin_s if lookahead else 0.0
    waits.append(((900 + margin) / age_weight + 60, 'a'))
    for now, first in waits:
        small = [dish('b-0', 'grill', 300, now - 1)]  # just placed
        (a,) = policy(snap(now, big + small, robots))
        assert a.job_id.startswith(first), (now, a)
    # Without ageing the big order waits for as long as smaller ones keep coming.
    small = [dish('b-0', 'grill', 300, 99_999)]
    (a,) = get_policy('srpt', age_weight=0)(snap(100_000, big + small, robots))
    assert a.job_id == 'b-0'


def random_snapshot(rng: random.Random) -> Snapshot:
    cookers = []
    for i in range(rng.randint(1, 5)):
        stations = frozenset(rng.sample(STATIONS, rng.randint(1, 2)))
        capacity = rng.randint(1, 3)
        free = rng.randint(-1, capacity)
        busy = tuple(sorted(rng.uniform(0, 400) for _ in range(max(0, capacity - free))))
        cookers.append(CookerView(f'r{i}', stations, capacity, free, busy, rng.random() > 0.2))
    pending = []
    for i in range(rng.randint(0, 25)):
        order = f'o{rng.randint(0, 6)}'
        failed = frozenset(c.robot_id for c in cookers if rng.random() < 0.15)
        pending.append(
            DishView(
                f'{order}-{i}',
                order,
                't01',
                rng.choice(STATIONS),
                rng.choice((60.0, 180.0, 240.0, 420.0)),
                rng.uniform(0, 300),
                failed,
            )
        )
    in_flight = {f'o{i}': rng.uniform(300, 900) for i in range(3)}
    return Snapshot(300.0, tuple(pending), tuple(cookers), in_flight, STATIONS)


@pytest.mark.parametrize('name', sorted(POLICIES))
def test_every_policy_keeps_the_rules(name: str) -> None:
    """Never more than the free slots, never a robot that cannot cook the station or is
    unavailable, each dish once, a robot the dish failed on only when no other can take it."""
    policy, rng = POLICIES[name], random.Random(name)
    for _ in range(300):
        s = random_snapshot(rng)
        plan = policy(s)
        jobs = {d.job_id: d for d in s.pending}
        robots = {c.robot_id: c for c in s.cookers}
        assert len({a.job_id for a in plan}) == len(plan)
        used: dict[str, int] = {}
        for a in plan:
            d, c = jobs[a.job_id], robots[a.robot_id]
            assert c.available and d.station in c.stations
            used[c.robot_id] = used.get(c.robot_id, 0) + 1
        assert all(n <= robots[r].free_slots for r, n in used.items())
        for a in plan:
            d = jobs[a.job_id]
            if a.robot_id in d.failed_on:
                fresh = [
                    c
                    for c in s.cookers
                    if c.available and d.station in c.stations and c.robot_id not in d.failed_on
                ]
                assert all(used.get(c.robot_id, 0) >= c.free_slots for c in fresh)


def test_policies_work_conserve() -> None:
    """A dish that some robot with a free slot can cook is started (no slot left idle)."""
    rng = random.Random(7)
    for name, policy in POLICIES.items():
        for _ in range(200):
            s = random_snapshot(rng)
            plan = placed(policy(s))
            left = {c.robot_id: c.free_slots for c in s.cookers if c.available}
            for robot_id in plan.values():
                left[robot_id] -= 1
            for d in s.pending:
                if d.job_id not in plan:
                    able = [c for c in s.cookers if c.robot_id in left and d.station in c.stations]
                    assert all(left[c.robot_id] <= 0 for c in able), name


def test_get_policy() -> None:
    assert set(POLICIES) == {'legacy', 'fifo', 'srpt', 'srpt-fire'}
    assert get_policy('fifo') is POLICIES['fifo']
    with pytest.raises(ValueError, match='unknown policy'):
        get_policy('lifo')
    with pytest.raises(ValueError, match='no knobs'):
        get_policy('fifo', age_weight=1)
    with pytest.raises(ValueError, match='srpt'):
        get_policy('srpt', speed=2)


def test_eta_plays_the_queue_forward() -> None:
    robots = [CookerView('wok1', frozenset({'wok'}), 1, 0, (50.0,))]
    pending = [dish('a-0', 'wok', 100), dish('b-0', 'wok', 200, 1.0), dish('c-0', 'soup', 10)]
    s = Snapshot(0.0, tuple(pending), tuple(robots), {'z': 50.0}, STATIONS)
    ready = eta(s, POLICIES['fifo'])
    assert ready == {'z': 50.0, 'a': 150.0, 'b': 350.0, 'c': math.inf}
    # srpt takes the order with less work first.
    assert eta(s, POLICIES['srpt'])['a'] == 150.0
    # A slot held without a known finish frees at once.
    robots = [CookerView('wok1', frozenset({'wok'}), 1, 0)]
    s = Snapshot(0.0, (dish('a-0', 'wok', 100),), tuple(robots), {}, STATIONS)
    assert eta(s, POLICIES['srpt']) == {'a': 100.0}


def test_a_long_queue_costs_plays_not_plays_of_plays(monkeypatch: pytest.MonkeyPatch) -> None:
    """300 dishes queued at once (a burst of orders): the ETA plays the queue once without the
    look-ahead (it was cubic: 17 s for this queue, with the dispatcher's event loop stalled
    for as long), and a decision's look-ahead plays only the orders near the front, within
    its budget."""
    rnd = random.Random(3)
    robots = [cooker('wok1', 'wok', 2), cooker('wok2', 'wok grill', 2), cooker('fry1', 'fryer', 2)]
    pending = [
        dish(f'o{i}-{k}', rnd.choice(['wok', 'grill', 'fryer']), rnd.choice([60, 240, 420]), i)
        for i in range(100)
        for k in range(3)
    ]
    s = snap(100.0, pending, robots)
    calls = 0
    ranked = scheduling._ranked

    def counted(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return ranked(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(scheduling, '_ranked', counted)
    ready = eta(s, POLICIES['srpt'])
    assert calls <= len(pending) + 1  # one policy call per step of one play
    assert ready == eta(s, get_policy('srpt', lookahead=0))
    calls = 0
    plan = POLICIES['srpt'](s)
    # Plays of about the first 30 orders' 90 dishes, not of all 300, and only as many as the
    # budget of dishes played allows (the last try's two plays may overrun it).
    plays = SrptKnobs().lookahead_budget // 90 + 3
    assert calls <= plays * (90 + len(plan) + 1) + 1
    assert len(plan) == 6
    # On a short queue the bound changes nothing: every order is in front.
    short = snap(100.0, pending[:30], robots)
    assert POLICIES['srpt'](short) == get_policy('srpt', lookahead_orders=1000)(short)


def test_drive_time() -> None:
    assert drive_s(10, 1.0, 0.5) == pytest.approx(12.0)  # 2 s up, 8 m cruise, 2 s down
    assert drive_s(1, 1.0, 0.5) == pytest.approx(2 * math.sqrt(2))  # never at top speed


def test_capacity_bound(demo_config: RestaurantConfig) -> None:
    drive = pass_to_table_s(demo_config)
    one = OrderSpec('a', 0.0, 't01', (('wok', 240.0), ('drinks', 45.0)), 20.0)
    bound = capacity_bound([one], demo_config)
    assert bound.mean_s == pytest.approx(240 + drive['t01'] + 20)
    assert bound.mean_s == bound.unlimited_mean_s
    # 40 orders of 4 wok dishes at once: only the wok robots (wok1 and wok2, 4 slots) cook
    # wok, so the k-th order is ready at the earliest k × 960 / 4 s — tighter than their
    # whole pool (wok, grill and fryer robots: 7 slots) would say.
    many = [OrderSpec(f'o{i}', 0.0, 't01', (('wok', 240.0),) * 4) for i in range(40)]
    bound = capacity_bound(many, demo_config)
    pooled = sum(max(240.0, (k + 1) * 960 / 4) for k in range(40)) / 40
    assert bound.mean_s == pytest.approx(pooled + drive['t01'])
    assert bound.unlimited_mean_s == pytest.approx(240 + drive['t01'])
    assert bound.pool == ('wok',)
    # Grill dishes alone: one robot (grill1, 3 slots) cooks grill. Pooled, its slots would
    # be one machine three times as fast; the slots bound sees three slots of 300 s each
    # (the best schedule: three batches, ready at 300, 600 and 900 s).
    grill = [OrderSpec(f'g{i}', 0.0, 't01', (('grill', 300.0),)) for i in range(9)]
    alone = sum(max(300.0, (k + 1) * 100.0) for k in range(9)) / 9
    bound = capacity_bound(grill, demo_config)
    assert alone + drive['t01'] + 40 < bound.mean_s <= 600 + drive['t01']
    assert bound.pool == ('grill',)
    assert capacity_bound([], demo_config).mean_s == 0


# --- the slots bound against schedules ---------------------------------------------------------


Robots = list[tuple[frozenset[str], int]]


def limits_of(robots: Robots) -> Robots:
    """Every set of stations and the slots of the robots that cook any of it."""
    names = sorted({s for st, _ in robots for s in st})
    return [
        (frozenset(ss), sum(cap for st, cap in robots if st & set(ss)))
        for n in range(1, len(names) + 1)
        for ss in itertools.combinations(names, n)
    ]


def optimum(orders: list[lagrangian.Order], robots: Robots) -> float:
    """The least Σ ready of any schedule, by brute force: some order of the dishes, each on
    some robot at its first free slot, does as well as the best schedule (take the dishes in
    the order they start there, on the same robots)."""
    dishes = [(r, j, s, p) for j, (r, ds) in enumerate(orders) for s, p in ds]
    best = math.inf

    def place(
        left: list[tuple[float, int, str, float]], free: list[list[float]], ready: list[float]
    ) -> None:
        nonlocal best
        if not left:
            best = min(best, sum(ready))
            return
        for i, (r, j, s, p) in enumerate(left):
            for k, (st, _) in enumerate(robots):
                if s in st:
                    slot = min(range(len(free[k])), key=free[k].__getitem__)
                    end = max(r, free[k][slot]) + p
                    nfree = [list(f) for f in free]
                    nfree[k][slot] = end
                    nready = list(ready)
                    nready[j] = max(ready[j], end)
                    place(left[:i] + left[i + 1 :], nfree, nready)

    place(dishes, [[0.0] * cap for _, cap in robots], [r for r, _ in orders])
    return best


def random_schedule(orders: list[lagrangian.Order], robots: Robots, rng: random.Random) -> float:
    """Σ ready of a feasible schedule: the dishes in a random order, each on a random robot
    that cooks it, at its first free slot."""
    dishes = [(r, j, s, p) for j, (r, ds) in enumerate(orders) for s, p in ds]
    rng.shuffle(dishes)
    free = [[0.0] * cap for _, cap in robots]
    ready = [r for r, _ in orders]
    for r, j, s, p in dishes:
        k = rng.choice([k for k, (st, _) in enumerate(robots) if s in st])
        slot = min(range(len(free[k])), key=free[k].__getitem__)
        free[k][slot] = max(r, free[k][slot]) + p
        ready[j] = max(ready[j], free[k][slot])
    return sum(ready)


KITCHENS: list[Robots] = [
    [(frozenset({'a'}), 1)],
    [(frozenset({'a'}), 2)],
    [(frozenset({'a'}), 1), (frozenset({'a', 'b'}), 1)],
    [(frozenset({'a', 'b'}), 2)],
    [(frozenset({'a'}), 2), (frozenset({'b'}), 1)],
]
# Robots that share a station with others: a dish the set limits let move between them.
SHARED: list[Robots] = [
    [(frozenset({'a'}), 1), (frozenset({'a', 'b'}), 1)],
    [(frozenset({'a', 'b'}), 1), (frozenset({'a', 'c'}), 1)],
    [(frozenset({'a'}), 1), (frozenset({'a', 'b'}), 2), (frozenset({'b'}), 1)],
]


def random_kitchen(
    rng: random.Random, n_orders: int, kitchens: list[Robots] = KITCHENS
) -> tuple[list[lagrangian.Order], Robots]:
    robots = rng.choice(kitchens)
    names = sorted({s for st, _ in robots for s in st})
    orders: list[lagrangian.Order] = []
    for _ in range(n_orders):
        dishes = [
            (rng.choice(names), float(rng.choice([30, 45, 60, 90, 120, 240])))
            for _ in range(rng.randint(1, 2))
        ]
        orders.append((float(rng.randint(0, 200)), dishes))
    return orders, robots


@pytest.mark.parametrize('seed', range(12))
def test_the_slots_bound_is_below_the_best_schedule(seed: int) -> None:
    rng = random.Random(seed)
    orders, robots = random_kitchen(rng, rng.randint(3, 4))
    while sum(len(ds) for _, ds in orders) > 6:  # (brute force: 6 dishes at most)
        orders.pop()
    best = optimum(orders, robots)
    for step in (5.0, 10.0, 7.0):
        bound, _ = lagrangian.ready_bound(orders, limits_of(robots), robots, step, 300)
        assert bound <= best + 1e-6


def test_the_slots_bound_is_below_the_best_of_crafted_rushes() -> None:
    one = [(frozenset({'a'}), 1)]
    # Three orders on one slot at once: shortest first, 60 + 150 + 390.
    orders: list[lagrangian.Order] = [
        (0.0, [('a', 90.0)]),
        (0.0, [('a', 60.0)]),
        (0.0, [('a', 240.0)]),
    ]
    assert optimum(orders, one) == 60 + 150 + 390
    bound, stations = lagrangian.ready_bound(orders, limits_of(one), one, 5.0, 300)
    assert 60 + 60 + 90 + 240 < bound <= 600 + 1e-6
    assert stations == ('a',)
    # Times before 0 shift along.
    early = [(r - 100, ds) for r, ds in orders]
    shifted, _ = lagrangian.ready_bound(early, limits_of(one), one, 5.0, 300)
    assert shifted == pytest.approx(bound - 300)
    # Two slots, four long dishes and a short one a little later: the best schedule keeps a
    # slot free for it (0-240, 3-33, 33-273, 240-480, 273-513).
    two = [(frozenset({'a'}), 2)]
    orders = [(0.0, [('a', 240.0)]), (0.0, [('a', 240.0)])] * 2
    orders.append((3.0, [('a', 30.0)]))
    best = optimum(orders, two)
    assert best == 240 + 33 + 273 + 480 + 513
    assert lagrangian.ready_bound(orders, limits_of(two), two)[0] <= best + 1e-6


@pytest.mark.parametrize('seed', range(6))
def test_the_slots_bound_is_below_random_schedules(seed: int) -> None:
    rng = random.Random(100 + seed)
    orders, robots = random_kitchen(rng, 12)
    feasible = min(random_schedule(orders, robots, rng) for _ in range(300))
    bound, _ = lagrangian.ready_bound(orders, limits_of(robots), robots)
    assert bound <= feasible + 1e-6
    assert bound >= sum(r + max(p for _, p in ds) for r, ds in orders) - 1e-6


def test_the_slots_bound_sees_what_pooling_hides(demo_config: RestaurantConfig) -> None:
    drive = pass_to_table_s(demo_config)['t01']
    # Eight 240 s wok dishes at once on the four wok slots: the best schedule has two
    # batches (mean ready 360 s); pooled, four slots cook one dish in 60 s (mean 315 s).
    rush = [OrderSpec(f'o{i}', 0.0, 't01', (('wok', 240.0),)) for i in range(8)]
    pooled = sum(max(240.0, (k + 1) * 60.0) for k in range(8)) / 8
    bound = capacity_bound(rush, demo_config)
    assert pooled + drive + 30 < bound.mean_s <= 360 + drive + 1e-6
    assert bound.pool == ('wok',)


# --- the robots model: a dish stays on one robot -----------------------------------------------


@pytest.mark.parametrize('seed', range(12))
def test_the_robots_bound_is_below_the_best_schedule(seed: int) -> None:
    """Priced on the robots alone (no steps on the sets' limits) and after them."""
    rng = random.Random(200 + seed)
    orders, robots = random_kitchen(rng, rng.randint(3, 4), SHARED)
    while sum(len(ds) for _, ds in orders) > 6:  # (brute force: 6 dishes at most)
        orders.pop()
    best = optimum(orders, robots)
    for step in (5.0, 10.0, 7.0):
        for before in (0, 150):
            bound, _ = lagrangian.ready_bound(orders, limits_of(robots), robots, step, before, 300)
            assert bound <= best + 1e-6


@pytest.mark.parametrize('seed', range(6))
def test_the_robots_bound_is_below_random_schedules(seed: int) -> None:
    rng = random.Random(300 + seed)
    orders, robots = random_kitchen(rng, 12, SHARED)
    feasible = min(random_schedule(orders, robots, rng) for _ in range(300))
    for before in (0, 150):
        bound, _ = lagrangian.ready_bound(orders, limits_of(robots), robots, 10.0, before)
        assert bound <= feasible + 1e-6
        assert bound >= sum(r + max(p for _, p in ds) for r, ds in orders) - 1e-6


def test_the_robots_bound_keeps_a_dish_on_one_robot() -> None:
    """Robot A cooks a, robot B a and b, one slot each. a1 (0-100 s) on A and b1 (0-50 s) on
    B; a2, placed at 50 s, could run at once only on B, where b2, placed at 100 s, then waits
    until 150 s. The sets' limits (a ≤ 2, b ≤ 1, a + b ≤ 2 at every instant) let a2 move from
    B to A at 100 s and every order be ready at its earliest, Σ 450 s; the best schedule is
    50 s later, and so is the robots' bound."""
    robots = [(frozenset({'a'}), 1), (frozenset({'a', 'b'}), 1)]
    orders: list[lagrangian.Order] = [
        (0.0, [('a', 100.0)]),
        (0.0, [('b', 50.0)]),
        (50.0, [('a', 100.0)]),
        (100.0, [('b', 50.0)]),
    ]
    best = optimum(orders, robots)
    assert best == 100 + 50 + 150 + 200
    for step in (5.0, 10.0):
        sets, _ = lagrangian.ready_bound(orders, limits_of(robots), robots, step, 300, 0)
        assert sets == pytest.approx(450)
        bound, stations = lagrangian.ready_bound(orders, limits_of(robots), robots, step)
        assert 495 < bound <= best + 1e-6
        assert stations == ('a', 'b')
