"""A heartbeat gap: a robot silent while the others were heard came back (its goals are sent
again under new epochs, in case it restarted); a stretch in which no robot was heard at all is
the dispatcher's own stall, and re-sending every goal after it only fenced the writes of the
goals still running (under a CPU hog, diners never saw their food arrive). Pure dispatcher
logic on a real redis-server, the clock and heartbeats given by the test."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import cast

import pytest
from redis.asyncio import Redis

from orchestrator.config import RestaurantConfig
from orchestrator.dispatch import service
from orchestrator.dispatch.ros_bridge import FleetBridge
from orchestrator.dispatch.service import Dispatcher
from tests.test_result_lost import LosingRobot, beat


async def test_only_a_robot_silent_while_others_were_heard_came_back(
    aredis: Redis, demo_config: RestaurantConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SimpleNamespace(now=100.0)
    monkeypatch.setattr(service, 'time', SimpleNamespace(monotonic=lambda: clock.now))
    d = Dispatcher(aredis, demo_config, 'd1')
    d.ctx.bridge = cast(FleetBridge, LosingRobot())  # no goal is sent here
    back: list[str] = []

    async def robot_back(robot_id: str) -> None:
        back.append(robot_id)

    monkeypatch.setattr(d, '_robot_back', robot_back)

    def beats(robots: list[str], until: float) -> None:
        while clock.now < until:
            clock.now += 0.2
            for robot_id in robots:
                beat(d, robot_id, [])

    beats(['wok1', 'wok2'], 101.0)
    clock.now = 103.6  # nothing heard for 2.6 s: the dispatcher stalled
    beats(['wok1', 'wok2'], 104.0)
    await asyncio.sleep(0)
    assert back == []
    beats(['wok2'], 106.5)  # wok1 alone silent for 2.5 s
    beats(['wok1', 'wok2'], 107.0)
    await asyncio.sleep(0)
    assert back == ['wok1']
    await asyncio.gather(*d.ctx.tasks(), return_exceptions=True)
