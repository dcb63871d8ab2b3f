"""What the dispatcher's workers (cooking, serving, robot commands) share, and nothing more.

The `Dispatcher` builds one `DispatchContext` and hands it to each worker; a worker that needs
another's answer is given a callable, never the other worker or the dispatcher itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis.exceptions
from redis.asyncio import Redis

from orchestrator.config import RestaurantConfig, ServingRobot
from orchestrator.dispatch.robot_view import SILENT, RobotView
from orchestrator.dispatch.ros_bridge import FleetBridge
from orchestrator.store.connection import OUTAGE_LOG_EVERY_S
from orchestrator.store.replication import Replicas
from robot_nodes.auth import LogThrottle

log = logging.getLogger(__name__)
T = TypeVar('T')

# Redis errors worth waiting out (a restart, a failover), as opposed to bugs.
TRANSIENT = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    ConnectionError,
    OSError,
)


@dataclass
class DispatchContext:
    r: Redis
    cfg: RestaurantConfig
    # This dispatcher's consumer name: the owner of its claims and leases.
    name: str
    time_scale: float
    lease_s: float
    # Every robot as this dispatcher sees it (heartbeats, what it sent).
    robots: dict[str, RobotView]
    bridge: FleetBridge | None = None
    # What a claim waits for before its goal goes out, and a lease before the robot is told it
    # (`store/replication.py`; none without `ROBODINE_REDIS_MIN_REPLICAS`).
    replicas: Replicas | None = None
    stopping: bool = False
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    outage_log: LogThrottle = field(default_factory=lambda: LogThrottle(OUTAGE_LOG_EVERY_S))

    @property
    def hold_s(self) -> float:
        """How long a robot goes on with its jobs on the last lease it heard from us: at least
        until we would call it lost, so that a network cut shorter than that costs no cooking.
        Its jobs move to another robot only once this has run out (`Dispatcher._watch_robots`)."""
        return max(self.lease_s, self.cfg.service.robot_lost_after_s)

    @property
    def ros(self) -> FleetBridge:
        assert self.bridge is not None, 'the dispatcher is not started'
        return self.bridge

    def serving_robot(self, robot_id: str) -> ServingRobot:
        return self.cfg.serving_robot_by_id[robot_id]

    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """A background task of the dispatcher's, cancelled when it stops."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._reap)
        return task

    def _reap(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error('task %s failed', task.get_name(), exc_info=task.exception())

    def tasks(self) -> list[asyncio.Task[Any]]:
        return list(self._tasks)

    def wake(self) -> None:
        """Something changed: the scheduler looks again."""
        self._wake.set()

    async def woken(self, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout_s)
        self._wake.clear()

    def silent(self, robot_id: str) -> bool:
        """Not heard for a while: what it holds is re-sent when it is heard again (or, once it
        is given up, handed to other robots), not now."""
        return self.robots[robot_id].mode in SILENT

    async def until_reachable(self, robot_id: str, timeout: float = 10.0) -> bool:
        """Wait (bounded) until the robot's action server is discovered again."""
        deadline = time.monotonic() + timeout
        while not self.robots[robot_id].reachable and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return self.robots[robot_id].reachable

    async def retrying(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run a Redis write until Redis answers: a robot's result must not be lost to an
        outage. The writes are fenced and idempotent, so a repeat is harmless."""
        while True:
            try:
                return await fn()
            except TRANSIENT as e:
                if self.stopping:
                    raise
                if (more := self.outage_log.due('write')) is not None:
                    log.warning('redis unavailable (%s); retrying writes%s', e, more)
                await asyncio.sleep(0.5)
