"""Which serving robots the dispatcher offers a trip (`Serving.free_robots`), alone, and what
its log says of a trip no longer its own: the robots' views and the dispatcher's context are
plain objects here (Redis a real one where a test needs it), no ROS."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict
from types import SimpleNamespace
from typing import Any

import pytest
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.dispatch.cooking import plausible_stage
from orchestrator.dispatch.delivery import ReadyOrder
from orchestrator.dispatch.robot_view import RobotView
from orchestrator.dispatch.serving import Serving, TripFlight, _not_ours, plausible_drive
from orchestrator.store.records import to_fields
from orchestrator.store.trips import DONE, Stop, TripRecord


async def _never(_call: Any) -> bool:
    return False  # the trip is no longer this dispatcher's to release: nothing to write


def serving(cfg: RestaurantConfig, r: Redis | None = None) -> Serving:
    robots = {
        r.id: RobotView(r.id, 'serving', capacity=r.trays, mode='idle', reachable=True)
        for r in cfg.serving_robots
    }
    for view in robots.values():
        view.heard(frozenset())
    ctx = SimpleNamespace(
        cfg=cfg, r=r, robots=robots, time_scale=1.0, retrying=_never, wake=lambda: 0
    )
    return Serving(ctx, lambda: ())  # type: ignore[arg-type]


async def test_a_robot_that_rejected_a_trip_is_offered_none_until_heard_again(
    demo_config: RestaurantConfig,
) -> None:
    """Another dispatcher's trip reached it first and its heartbeats do not list it yet: each
    plan would send it another trip to reject."""
    s = serving(demo_config)
    assert sorted(s.free_robots()) == ['serve1', 'serve2', 'serve3']
    await s._refused(TripFlight('tr1', 'serve2', 1, []), 'the robot rejected the trip')
    assert sorted(s.free_robots()) == ['serve1', 'serve3']
    s.ctx.robots['serve2'].heard(frozenset({'tr-other'}))  # busy with the other one
    assert sorted(s.free_robots()) == ['serve1', 'serve3']
    s.ctx.robots['serve2'].heard(frozenset())  # done with it
    assert sorted(s.free_robots()) == ['serve1', 'serve2', 'serve3']


def test_no_trip_goes_into_a_lane_another_robot_is_in_or_bound_for(
    demo_config: RestaurantConfig,
) -> None:
    """A second robot sent into a dead-end lane waits at the pass, loaded, holding it; when the
    one in the lane brings back food nobody took, each waits for the other for good (seen in
    the demo: t03's diner away, t07's food loaded). Orders of the lane wait at the pass."""
    s = serving(demo_config)
    at = {w.id: w for w in demo_config.floor.waypoints}
    for rid, spot in (('serve1', 'stop-t03'), ('serve2', 'pass'), ('serve3', 'dock3')):
        s.ctx.robots[rid].x, s.ctx.robots[rid].y = at[spot].x, at[spot].y
    s.ready = {
        t: ReadyOrder(f'o-{t}', t, f'{n}-0', 0.0) for n, t in enumerate(('t07', 't05', 't06'))
    }
    # t03 and t07 share a lane; t05 and t06 are in two others.
    assert s.lanes_taken() == {'stretch:c13_5~stop-t03'}
    assert [o.table_id for o in s.sendable()] == ['t05', 't06']
    # Our trip bound for t02 (t06's lane) takes that lane too, until the robot is there.
    trip = TripFlight('tr1', 'serve2', 1, [Stop('t02', (0,), ('o-x',), ())])
    s.trips['tr1'] = trip
    assert [o.table_id for o in s.sendable()] == ['t05']
    trip.arrived.add('t02')
    assert [o.table_id for o in s.sendable()] == ['t05', 't06']
    # The robot in t03's lane leaves it, or is lost there: t07's food can go.
    s.ctx.robots['serve1'].mode = 'lost'
    assert [o.table_id for o in s.sendable()] == ['t07', 't05', 't06']
    s.ctx.robots['serve1'].mode = 'busy'
    assert [o.table_id for o in s.sendable()] == ['t05', 't06']
    s.ctx.robots['serve1'].x, s.ctx.robots['serve1'].y = at['dock1'].x, at['dock1'].y
    assert [o.table_id for o in s.sendable()] == ['t07', 't05', 't06']


async def test_another_dispatchers_trip_takes_its_lanes_as_soon_as_its_robot_reports_it(
    demo_config: RestaurantConfig, aredis: Redis
) -> None:
    """With several dispatchers, one only saw the others' trips once their robot was in the
    lane: for the whole drive from the pass, it could send a second robot there."""
    s = serving(demo_config, aredis)
    at = {w.id: w for w in demo_config.floor.waypoints}
    for rid, spot in (('serve1', 'pass'), ('serve2', 'dock2'), ('serve3', 'dock3')):
        s.ctx.robots[rid].x, s.ctx.robots[rid].y = at[spot].x, at[spot].y
    s.ready = {'t07': ReadyOrder('o-t07', 't07', '0-0', 0.0)}
    stop = Stop('t03', (0,), ('o-t03',), ('kungpao',))
    other = TripRecord('tr-b', 'serve1', 1, 'dispatcher-b', stops=[asdict(stop)])
    await aredis.hset(keys.trip('tr-b'), mapping=to_fields(other))
    s.ctx.robots['serve1'].heard(frozenset({'tr-b'}))
    assert s.strays('serve1', {'tr-b': 1}) == {'tr-b': 1}
    await s.strays_found('serve1', {'tr-b': 1})
    # Still at the pass, bound for t03: t07 shares its lane.
    assert s.lanes_taken() == {'stretch:c13_5~stop-t03'}
    assert s.sendable() == []
    # Done with it (no longer reported): the lane is free again.
    s.ctx.robots['serve1'].heard(frozenset())
    assert [o.table_id for o in s.sendable()] == ['t07']


def test_unsigned_feedback_beyond_reason_is_not_passed_on() -> None:
    """Feedback carries no MAC: a stage the Cook action does not name, a progress or a drive
    estimate that is not a plausible number (NaN would make the diners' JSON invalid)."""
    assert plausible_stage('cook', 0.5) and plausible_stage('queued', 0.0)
    for stage, progress in (('<script>', 0.5), ('cook', math.nan), ('plate', 1.5)):
        assert not plausible_stage(stage, progress)
    ok = SimpleNamespace(eta_s=12.0, distance_remaining_m=4.0, x=3.0, y=2.0)
    assert plausible_drive(ok)
    for bad in (
        {'eta_s': math.nan},
        {'eta_s': -1.0},
        {'eta_s': 1e9},
        {'distance_remaining_m': math.inf},
        {'x': math.nan},
    ):
        assert not plausible_drive(SimpleNamespace(**{**vars(ok), **bad})), bad


async def test_a_lease_renewal_refused_says_what_became_of_the_trip(
    demo_config: RestaurantConfig, aredis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """Every refused renewal was logged as 'taken over', a trip whose record a failover lost
    too, and without saying by whom; the one still ours is renewed and kept."""
    s = serving(demo_config, aredis)
    s.ctx.name, s.ctx.lease_s = 'disp1', 5.0
    records = {
        'tr-ours': TripRecord('tr-ours', 'serve1', 1, 'disp1'),
        'tr-other': TripRecord('tr-other', 'serve2', 2, 'disp2'),
        'tr-again': TripRecord('tr-again', 'serve3', 2, 'disp1'),
        # Finished meanwhile: by another dispatcher that took it over, and by us.
        'tr-taken': TripRecord('tr-taken', 'serve2', 2, 'disp2', status=DONE, outcome='completed'),
        'tr-done': TripRecord('tr-done', 'serve1', 1, 'disp1', status=DONE, outcome='completed'),
    }
    for trip_id in (*records, 'tr-gone'):
        s.trips[trip_id] = TripFlight(trip_id, 'serve1', 1, [])
    for trip_id, record in records.items():
        await aredis.hset(keys.trip(trip_id), mapping=to_fields(record))
    with caplog.at_level(logging.WARNING, 'orchestrator.dispatch.serving'):
        await s.renew()
    assert sorted(caplog.messages) == [
        'trip tr-again/1 was taken over by this dispatcher, re-sending it (epoch 2): not renewed',
        'trip tr-gone/1 is gone (its record was lost: a Redis failover?): not renewed',
        'trip tr-other/1 was taken over by disp2 (epoch 2): not renewed',
        'trip tr-taken/1 was taken over by disp2 (epoch 2): not renewed',
    ]
    assert list(s.trips) == ['tr-ours', 'tr-done']
    # A trip event refused at the same epoch: the trip ended meanwhile.
    done = TripRecord('tr-ours', 'serve1', 1, 'disp1', status=DONE, outcome='completed')
    assert _not_ours(done, 1, 'disp1') == 'is over (completed)'
