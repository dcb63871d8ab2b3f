"""When the dispatcher sends a free serving robot to wait at the pass: a drive ahead of the
food predicted ready, which the scheduling loop naps until (pure logic, no Redis or ROS)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import cast

import pytest
from redis.asyncio import Redis

from orchestrator.config import RestaurantConfig
from orchestrator.dispatch.context import DispatchContext
from orchestrator.dispatch.delivery import Coming, ReadyOrder
from orchestrator.dispatch.eta import STAGE_MARGIN, fetch_s
from orchestrator.dispatch.robot_view import RobotView
from orchestrator.dispatch.serving import STAGE_GONE_S, Serving, TripFlight

SCALE = 60.0


def idle_fleet(
    cfg: RestaurantConfig, coming: Callable[[], tuple[Coming, ...]]
) -> tuple[dict[str, RobotView], Serving]:
    """The demo's serving robots, idle and reachable, and a dispatcher's serving side."""
    robots = {
        r.id: RobotView(r.id, 'serving', capacity=r.trays, mode='idle', reachable=True)
        for r in cfg.serving_robots
    }
    ctx = DispatchContext(cast(Redis, None), cfg, 'd', SCALE, 5.0, robots)
    return robots, Serving(ctx, coming)


def test_a_robot_sets_off_for_the_pass_a_drive_ahead_of_the_food(
    demo_config: RestaurantConfig,
) -> None:
    coming: list[Coming] = []
    robots, serving = idle_fleet(demo_config, lambda: tuple(coming))
    assert serving.stage_in() == math.inf  # nothing cooking
    lead = fetch_s(demo_config) / SCALE * STAGE_MARGIN
    # At 60x the drive is a fraction of a wall second ahead: the loop must wake for it, not
    # nap its usual second (then the robot set off when the food was ready, or later).
    coming.append(Coming('o1', 't01', time.monotonic() + 0.5 + lead))
    assert serving.stage_in() == pytest.approx(0.5, abs=0.05)
    coming.append(Coming('o2', 't02', time.monotonic() + lead / 2))
    assert serving.stage_in() == 0.0
    # One waits there at a time; a robot that would not go is not asked again at once.
    serving.staged['serve1'] = time.monotonic()
    assert serving.stage_in() == math.inf
    # Once it stands idle elsewhere (it made way for another robot), it is forgotten.
    serving.staged['serve1'] = time.monotonic() - STAGE_GONE_S
    assert serving.stage_in() == 0.0 and not serving.staged
    # One that another dispatcher sent waits there too, and takes the next trip first.
    pass_point = demo_config.floor.pass_point
    robots['serve3'].x, robots['serve3'].y = pass_point.x, pass_point.y
    assert serving.stage_in() == math.inf
    assert serving.free_robots()[0] == 'serve3'
    robots['serve3'].x = 0.0
    for robot_id in robots:
        serving._stage_refused[robot_id] = time.monotonic() + 1.0
    assert serving.stage_in() == math.inf


def test_ready_food_sends_a_free_robot_at_once(
    demo_config: RestaurantConfig,
) -> None:
    _, serving = idle_fleet(demo_config, tuple)
    serving.trips['serve1'] = TripFlight('tr-serve1', 'serve1', 1, [])  # out on a trip
    assert serving.stage_in() == math.inf
    # Food waits at the pass (held for a neighbour's, say): a robot sets off now, whatever is
    # predicted; the first free one.
    serving.ready['o1'] = ReadyOrder('o1', 't01', '1-0', time.monotonic())
    assert serving._next_stage() == (0.0, 'serve2')
    # One on its way there is enough.
    serving.staged['serve3'] = time.monotonic()
    assert serving.stage_in() == math.inf
