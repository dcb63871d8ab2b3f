"""A goal's result lost on the way: the robot is done with the job, its heartbeats stop listing
it, and the answer never reaches the dispatcher (10,000 orders in `bench/scale.py` left one
order cooking for good that way). The dispatcher asks again and the robot's ledger answers.

The robot is a stand-in for the ROS bridge here (pure dispatcher logic on a real
redis-server): no DDS can be told to lose one particular reply.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from action_msgs.msg import GoalStatus
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.dispatch import service
from orchestrator.dispatch.robot_view import RobotView
from orchestrator.dispatch.ros_bridge import FleetBridge, Goal, GoalResult
from orchestrator.dispatch.service import Dispatcher
from tests.dispatch_support import ensure_groups, wait_for, write_order


def test_a_goal_counts_as_lost_once_unlisted_for_the_whole_wait() -> None:
    view = RobotView('bar1', 'cooking')
    view.heard(frozenset({'j2'}))
    assert view.result_lost(['j1', 'j2'], 100.0, 10.0) == []
    assert view.result_lost(['j1', 'j2'], 109.0, 10.0) == []
    assert view.result_lost(['j1', 'j2'], 110.0, 10.0) == ['j1']  # j2 is still listed
    assert view.result_lost(['j1', 'j2'], 111.0, 10.0) == []  # asked again: waits anew
    # Listed again (or its result came) before the wait is over: it starts over.
    view.heard(frozenset({'j1', 'j2'}))
    assert view.result_lost(['j1'], 130.0, 10.0) == []
    view.heard(frozenset())
    assert view.result_lost(['j1'], 131.0, 10.0) == []
    assert view.result_lost([], 140.0, 10.0) == []
    assert view.result_lost(['j1'], 141.0, 10.0) == []  # a new goal of j1: a new wait


class LosingRobot:
    """Accepts every Cook goal; the first one's result never arrives, a goal sent again is
    answered 'cooked' (as the robot's ledger would, the dish being done)."""

    def __init__(self) -> None:
        self.epochs: list[int] = []

    async def cook(self, robot_id: str, job: dict[str, str], epoch: int, *_: Any) -> Goal:
        self.epochs.append(epoch)
        result = asyncio.get_running_loop().create_future()
        if len(self.epochs) > 1:
            result.set_result(GoalResult(GoalStatus.STATUS_SUCCEEDED, 'cooked', ''))
        return Goal(robot_id, cast(Any, None), result)

    def forget_reachable(self, robot_id: str) -> None:
        pass


def beat(d: Dispatcher, robot_id: str, jobs: list[str]) -> None:
    d._on_state(
        robot_id,
        {
            **dict(robot_id=robot_id, kind='cooking', mode='busy' if jobs else 'idle'),
            **dict(jobs=jobs, epochs=dict.fromkeys(jobs, 1), ready=True, seq=None),
            **dict(x=0.0, y=0.0, theta=0.0, battery=1.0, detail=''),
        },
    )


async def test_a_lost_result_is_asked_for_again(
    aredis: Redis, demo_config: RestaurantConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, 'RESULT_LOST_AFTER_S', 0.3)
    await ensure_groups(aredis, demo_config)
    _, (job_id,) = await write_order(aredis, demo_config, 't01', [('iced-tea', 1)])
    d = Dispatcher(aredis, demo_config, 'd1')
    robot = LosingRobot()
    d.ctx.bridge = cast(FleetBridge, robot)
    for other in d.robots:
        d.robots[other].mode = 'lost'  # only bar1 takes the drink
    beat(d, 'bar1', [])
    batch = await d.work.new(1000)
    assert batch is not None
    await d._dispatch(batch, fresh=True)
    d.cooking.schedule()

    async def accepted() -> bool:
        return d.cooking.accepted_on('bar1') == [job_id]

    await wait_for(accepted, 10, 0.02, 'the goal accepted')
    beat(d, 'bar1', [job_id])  # cooking
    for _ in range(5):  # done: no longer listed; its result is lost on the way
        await asyncio.sleep(0.1)
        beat(d, 'bar1', [])

    async def cooked() -> bool:
        return await aredis.hget(keys.job(job_id), 'status') == 'cooked'

    await wait_for(cooked, 10, 0.05, 'the dish cooked after the result was asked for again')
    assert robot.epochs == [1, 2]
    assert await aredis.hget(keys.job(job_id), 'epoch') == '2'
    await asyncio.gather(*d.ctx.tasks(), return_exceptions=True)
