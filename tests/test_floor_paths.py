"""Shortest drivable paths on a floor (`orchestrator.config.Floor`): `length` is the length of
`path`, `path_over` finds the same ways when every aisle is usable, an unreachable or unknown
place is an error, and planning from every place keeps no memory per start."""

from __future__ import annotations

import gc
import itertools
import tracemalloc

import pytest

from orchestrator.config import Aisle, Floor, Waypoint, load_restaurant
from orchestrator.settings import DEFAULT_CONFIG

SEEDS = DEFAULT_CONFIG.parent
FLOORS = ['restaurant.yaml', 'harbor.yaml', 'flagship.yaml']


@pytest.mark.parametrize('seed', FLOORS)
def test_lengths_are_those_of_the_paths(seed: str) -> None:
    floor = load_restaurant(SEEDS / seed).floor
    ids = [w.id for w in floor.waypoints]
    reached = 0
    for a, b in itertools.product(ids, ids[::7]):
        try:
            path = floor.path(a, b)
        except ValueError:
            with pytest.raises(ValueError, match='no drivable path'):
                floor.length(a, b)
            continue
        reached += 1
        assert (path[0], path[-1]) == (a, b)
        assert all(floor.width(x, y) >= floor.min_aisle_m for x, y in itertools.pairwise(path))
        assert floor.length(a, b) == floor.path_length(path)
        assert floor.path_over(a, b, lambda x, y: True) == path
    assert reached > len(ids)
    assert floor.path(ids[0], ids[0]) == [ids[0]] and floor.length(ids[0], ids[0]) == 0.0


def test_an_unknown_or_unreachable_place_has_no_path() -> None:
    floor = load_restaurant(DEFAULT_CONFIG).floor
    pass_id = floor.pass_point.id
    for a, b in [('nowhere', pass_id), (pass_id, 'nowhere'), ('back', pass_id)]:
        for find in (floor.path, floor.length):
            with pytest.raises(ValueError, match=f'no drivable path from {a!r} to {b!r}'):
                find(a, b)


def test_a_way_over_usable_aisles_goes_round_the_others() -> None:
    # A ring a-b-c-d with a spur to e off b, and a narrow aisle d-e no robot may take.
    spots = {'a': (0, 0), 'b': (4, 0), 'c': (4, 3), 'd': (0, 3), 'e': (6, 0)}
    floor = Floor(
        width_m=8,
        depth_m=5,
        waypoints=[Waypoint(id=w, x=x, y=y) for w, (x, y) in spots.items()],
        aisles=[
            Aisle(a=a, b=b, width_m=1.0)
            for a, b in [('a', 'b'), ('b', 'c'), ('c', 'd'), ('d', 'a'), ('b', 'e')]
        ]
        + [Aisle(a='d', b='e', width_m=0.5)],
    )
    assert floor.path('a', 'e') == ['a', 'b', 'e'] and floor.length('a', 'e') == 6.0
    assert floor.path('d', 'e') == ['d', 'a', 'b', 'e']  # not the narrow aisle
    round_ = floor.path_over('a', 'e', lambda x, y: {x, y} != {'a', 'b'})
    assert round_ == ['a', 'd', 'c', 'b', 'e']
    with pytest.raises(ValueError, match="no drivable path from 'a' to 'e'"):
        floor.path_over('a', 'e', lambda x, y: {x, y} != {'b', 'e'})
    # What the way round found is not remembered.
    assert floor.path('a', 'e') == ['a', 'b', 'e']


def test_planning_from_every_place_keeps_no_memory() -> None:
    """Each start's shortest-path tree was kept as a dict on first use: a serving robot that
    had set off from every place of the flagship held 1.65 MB more than at its start, and its
    process's memory grew over a long run as if it leaked (issue 14)."""
    floor = load_restaurant(SEEDS / 'flagship.yaml').floor
    ids = [w.id for w in floor.waypoints]
    floor.length(ids[0], ids[1])
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for a, b in itertools.product(ids, ids[::11]):
            try:
                floor.path(a, b)
                floor.length(a, b)
            except ValueError:
                pass
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 10_000
