"""The dispatcher's view of its robots and trip batching (pure logic, the demo restaurant)."""

from __future__ import annotations

from typing import get_args

from orchestrator.config import PolicyName, RestaurantConfig
from orchestrator.dispatch import delivery
from orchestrator.dispatch.delivery import Coming, ReadyOrder, Timing
from orchestrator.dispatch.robot_view import RobotView
from orchestrator.dispatch.scheduling import POLICIES


def fleet(**modes: str) -> dict[str, RobotView]:
    robots = {
        'wok1': RobotView('wok1', 'cooking', frozenset({'wok'}), 2),
        'wok2': RobotView('wok2', 'cooking', frozenset({'wok', 'fryer'}), 2),
        'grill1': RobotView('grill1', 'cooking', frozenset({'grill', 'fryer'}), 3),
    }
    for r in robots.values():
        r.mode, r.reachable = modes.get(r.robot_id, 'idle'), True
    return robots


def test_slots_count_what_was_sent_and_what_the_robot_reports() -> None:
    robots = fleet()
    wok1 = robots['wok1']
    wok1.assigned = {'a'}
    assert (wok1.load, wok1.free) == (1, 1)
    wok1.heard(frozenset({'a', 'b'}))  # its heartbeat shows one more: full
    assert (wok1.load, wok1.free) == (2, 0)


def test_a_result_frees_the_slot_before_the_next_heartbeat() -> None:
    wok1 = fleet()['wok1']
    wok1.heard(frozenset({'a', 'b'}))
    wok1.released.add('a')  # 'a' came back cooked
    assert wok1.free == 1
    wok1.heard(frozenset({'b'}))  # the heartbeat caught up: nothing left to remember
    assert wok1.released == set() and wok1.free == 1


def test_unavailable_robots() -> None:
    for mode in ('paused', 'estopped', 'lost', 'fault', 'charging', 'unknown'):
        assert not fleet(wok1=mode)['wok1'].available, mode
    robots = fleet()
    robots['wok2'].reachable = False  # action server not discovered yet
    assert robots['wok1'].available and not robots['wok2'].available


def ready(order_id: str, table_id: str, since: float) -> ReadyOrder:
    return ReadyOrder(order_id, table_id, f'{since}-0', since)


def test_batch_takes_the_oldest_and_its_neighbours(demo_config: RestaurantConfig) -> None:
    # t01 (4.5, 9.5), t05 (4.5, 7.0) and t02 (8.5, 9.5) are within 4 m of t01; t16 is not.
    orders = [
        ready('o16', 't16', 0.0),
        ready('o1', 't01', 1.0),
        ready('o5', 't05', 2.0),
        ready('o2', 't02', 3.0),
        ready('o1b', 't01', 4.0),
    ]
    first = delivery.batch(demo_config, orders, trays=4)
    assert [o.order_id for o in first] == ['o16']  # the oldest leaves, alone: nobody near
    second = delivery.batch(demo_config, orders[1:], trays=3)
    assert {o.order_id for o in second} == {'o1', 'o1b', 'o5'}  # nearest first, 3 trays
    stops = delivery.stops(demo_config, second)
    floor = demo_config.floor

    def from_pass(table_id: str) -> float:
        waypoint = demo_config.table_by_id[table_id].waypoint
        return floor.path_length(floor.path(floor.pass_point.id, waypoint))

    assert stops[0].table_id == min(('t01', 't05'), key=from_pass)  # nearest first
    trays = [t for s in stops for t in s.trays]
    assert sorted(trays) == [0, 1, 2]
    assert next(s for s in stops if s.table_id == 't01').order_ids == ('o1', 'o1b')


def test_due_at_once_without_a_neighbour_coming_or_when_full(
    demo_config: RestaurantConfig,
) -> None:
    orders = [ready('o1', 't01', 10.0)]
    assert delivery.due(demo_config, orders, 4, 10.0, Timing(0.1))
    # A neighbour (t02, 4 m away) finishing within the short wait is waited for.
    soon = Coming('o2', 't02', 10.05)
    assert not delivery.due(demo_config, orders, 4, 10.05, Timing(0.1, 0.0, (soon,)))
    assert delivery.due(demo_config, orders, 4, 10.2, Timing(0.1, 0.0, (soon,)))
    full = [ready(f'o{i}', 't01', 10.0) for i in range(4)]
    assert delivery.due(demo_config, full, 4, 10.0, Timing(0.1, 60.0, (soon,)))


def test_held_for_a_neighbour_about_to_be_ready(demo_config: RestaurantConfig) -> None:
    orders = [ready('o1', 't01', 10.0)]

    def due_at(now: float, *coming: Coming, window_s: float = 60.0) -> bool:
        return delivery.due(demo_config, orders, 4, now, Timing(1.0, window_s, coming))

    # t02 (4 m away) is due 30 s after o1 was ready: inside a 60 s window, so o1 waits...
    near = Coming('o2', 't02', 40.0)
    assert not due_at(15.0, near)
    # ...but never past the window, even if the neighbour is late.
    assert due_at(70.0, near)
    # A neighbour due after the window, or a table out of the radius, is not waited for.
    assert due_at(15.0, Coming('o2', 't02', 80.0))
    assert due_at(15.0, Coming('o', 't16', 20.0))
    # No window: only the short wait.
    assert due_at(15.0, near, window_s=0.0)
    assert not due_at(10.5, Coming('o2', 't02', 10.8), window_s=0.0)
    # The neighbour is ready: the two leave together.
    both = [*orders, ready('o2', 't02', 40.0)]
    trip = delivery.next_trip(demo_config, both, 4, 41.0, Timing(1.0, 60.0))
    assert [o.order_id for o in trip] == ['o1', 'o2']


def test_a_held_batch_does_not_hold_back_other_tables(demo_config: RestaurantConfig) -> None:
    orders = [ready('o1', 't01', 10.0), ready('o16', 't16', 11.0)]
    timing = Timing(1.0, 60.0, (Coming('o2', 't02', 40.0),))
    trip = delivery.next_trip(demo_config, orders, 4, 15.0, timing)
    assert [o.order_id for o in trip] == ['o16']
    # No neighbour is coming for t16: it leaves the moment it is ready.
    assert [o.order_id for o in delivery.next_trip(demo_config, orders, 4, 11.0, timing)] == [
        'o16'
    ]


def test_the_config_names_every_policy() -> None:
    assert set(get_args(PolicyName)) == set(POLICIES)
