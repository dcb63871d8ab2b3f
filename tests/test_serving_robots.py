"""Which serving robots the dispatcher offers a trip (`Serving.free_robots`), alone: the robots'
views and the dispatcher's context are plain objects here, no Redis and no ROS."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from orchestrator.config import RestaurantConfig
from orchestrator.dispatch.robot_view import RobotView
from orchestrator.dispatch.serving import Serving, TripFlight


async def _never(_call: Any) -> bool:
    return False  # the trip is no longer this dispatcher's to release: nothing to write


def serving(cfg: RestaurantConfig) -> Serving:
    robots = {
        r.id: RobotView(r.id, 'serving', capacity=r.trays, mode='idle', reachable=True)
        for r in cfg.serving_robots
    }
    for view in robots.values():
        view.heard(frozenset())
    ctx = SimpleNamespace(cfg=cfg, robots=robots, time_scale=1.0, retrying=_never, wake=lambda: 0)
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
