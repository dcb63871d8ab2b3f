"""The dispatcher service: Redis streams in, ROS 2 goals out, robot state and results back.

Loops (each restarted after a Redis outage):
- jobs: XREADGROUP (group `dispatch`, BLOCK) over every `rd:cook:{station}` and
  `rd:deliveries`; on start it first re-reads its own pending entries (same consumer name);
- control: XREADGROUP (group `fleet`) over `rd:control`;
- schedule: woken by new work, freed robots or results; hands jobs to robots (`cooking`) and
  ready orders to serving trips (`serving`);
- housekeeping: renews leases, and XAUTOCLAIMs entries idle past the lease (their dispatcher
  died) so that they are recovered;
- robots: mirrors heartbeats into `rd:robot:{id}` and the feed, marks silent robots `lost`.

Run it alone (`robodine dispatcher`) or inside the API process (`app_service`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import redis.exceptions
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig, ServingRobot, load_restaurant
from orchestrator.dispatch import control
from orchestrator.dispatch.alerts import raise_alert
from orchestrator.dispatch.cooking import Cooking
from orchestrator.dispatch.policy import RobotView
from orchestrator.dispatch.serving import Serving
from orchestrator.tasks import cancel_requested
from orchestrator.timeline import add_feed_event, now_ms

if TYPE_CHECKING:
    from orchestrator.api.context import AppContext
    from orchestrator.dispatch.fleet import FleetBridge

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
READ_BLOCK_MS = 1000
READ_COUNT = 200
# A heartbeat gap this long (or a heartbeat sequence number that starts again) means the robot
# may have restarted and forgotten our goals.
GAP_S = 2.0
FRESH_SEQ = 50
# Real seconds between two robot.state feed events of a moving robot.
POSE_EVENT_EVERY_S = 0.5
# Every robot's last heartbeat, in one feed event this often: consoles show heartbeat ages
# without a feed event per heartbeat (robots beat at 5 Hz).
HEARTBEATS_EVENT_EVERY_S = 1.0


class Dispatcher:
    def __init__(
        self,
        r: Redis,
        cfg: RestaurantConfig,
        name: str,
        time_scale: float = 1.0,
        lease_s: float = 10.0,
    ) -> None:
        self.r = r
        self.cfg = cfg
        self.name = name
        self.time_scale = time_scale
        self.lease_s = lease_s
        self.robots: dict[str, RobotView] = {
            c.id: RobotView(c.id, 'cooking', frozenset(c.stations), c.capacity)
            for c in cfg.cooking_robots
        }
        self.robots |= {
            s.id: RobotView(s.id, 'serving', capacity=s.trays) for s in cfg.serving_robots
        }
        self.cooking = Cooking(self)
        self.serving = Serving(self)
        self.controls = control.Controls(self)
        self.bridge: FleetBridge
        self._seen: dict[str, float] = {}
        self._seq: dict[str, int | None] = {}
        self._back: dict[str, float] = {}
        self._lost_at: dict[str, float] = {}
        # Robots lost for longer than the lease: their jobs were handed to other robots.
        self._gone: set[str] = set()
        # The last heartbeat of each robot, and the robots whose state is not in Redis yet.
        self._states: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()
        self._published: dict[str, tuple[str, float]] = {}
        self._heartbeats_published = 0.0
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False

    def robot_cfg(self, robot_id: str) -> ServingRobot:
        return next(s for s in self.cfg.serving_robots if s.id == robot_id)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        from orchestrator.dispatch.fleet import FleetBridge

        self.bridge = FleetBridge(self.cfg, self.name, asyncio.get_running_loop(), self._on_state)
        self.bridge.start()
        with contextlib.suppress(*TRANSIENT):
            await self._ensure_groups()
        for loop in (
            self._read_jobs,
            self._read_control,
            self._schedule,
            self._housekeeping,
            self._watch_robots,
        ):
            self._loops.append(asyncio.create_task(self._forever(loop), name=loop.__name__))
        log.info(
            'dispatcher %s started (time scale %g, lease %gs)',
            self.name,
            self.time_scale,
            self.lease_s,
        )

    async def stop(self) -> None:
        self._stopping = True
        for task in [*self._loops, *self._tasks]:
            task.cancel()
        await asyncio.gather(*self._loops, *self._tasks, return_exceptions=True)
        self.bridge.stop()
        log.info('dispatcher %s stopped', self.name)

    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._reap)
        return task

    def _reap(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error('task %s failed', task.get_name(), exc_info=task.exception())

    def wake(self) -> None:
        self._wake.set()

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
                if self._stopping:
                    raise
                log.warning('redis unavailable (%s); retrying', e)
                await asyncio.sleep(0.5)

    async def _forever(self, loop: Callable[[], Awaitable[None]]) -> None:
        # Every loop also checks cancel_requested(): redis-py may swallow stop()'s cancellation.
        while not self._stopping and not cancel_requested():
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except TRANSIENT as e:
                log.warning('%s: redis unavailable (%s); retrying', loop.__name__, e)
                await asyncio.sleep(0.5)
            except redis.exceptions.ResponseError as e:
                if 'NOGROUP' not in str(e):
                    raise
                # Redis lost its data (no AOF?): recreate the groups and carry on.
                await self._ensure_groups()
            except Exception:
                log.exception('%s failed; restarting it', loop.__name__)
                await asyncio.sleep(1.0)

    # -- streams ---------------------------------------------------------------------------

    async def _ensure_groups(self) -> None:
        groups = [(keys.cook_stream(s.id), keys.COOK_GROUP) for s in self.cfg.stations]
        groups += [(keys.DELIVERIES, keys.DELIVERY_GROUP), (keys.CONTROL, keys.CONTROL_GROUP)]
        for stream, group in groups:
            with contextlib.suppress(redis.exceptions.ResponseError):  # BUSYGROUP: it exists
                await self.r.xgroup_create(stream, group, id='0', mkstream=True)

    async def _dispatch_entries(
        self, stream: str, entries: list[Any], fresh: bool = False
    ) -> None:
        live = [(i, f) for i, f in entries if f]
        # Pending entries that were deleted meanwhile come back without fields.
        if gone := [i for i, f in entries if not f]:
            await self.r.xack(stream, keys.COOK_GROUP, *gone)
        if stream == keys.DELIVERIES:
            await self.serving.add_entries(live)
        else:
            await self.cooking.add_entries(live, fresh)
        self.wake()

    async def _read_jobs(self) -> None:
        await self._ensure_groups()
        streams = {keys.cook_stream(s.id): '0' for s in self.cfg.stations}
        streams[keys.DELIVERIES] = '0'
        # Our own pending entries first (a restart under the same name), then new ones.
        while not cancel_requested():
            got = await self.r.xreadgroup(keys.COOK_GROUP, self.name, streams, count=READ_COUNT)
            if not any(entries for _, entries in got):
                break
            for stream, entries in got:
                await self._dispatch_entries(stream, entries)
                if entries:
                    streams[stream] = entries[-1][0]
        streams = dict.fromkeys(streams, '>')
        while not cancel_requested():
            got = await self.r.xreadgroup(
                keys.COOK_GROUP, self.name, streams, count=READ_COUNT, block=READ_BLOCK_MS
            )
            for stream, entries in got or []:
                await self._dispatch_entries(stream, entries, fresh=True)

    async def _read_control(self) -> None:
        await self._ensure_groups()
        start = '0'  # our pending entries first, then new ones
        while not cancel_requested():
            got = await self.r.xreadgroup(
                keys.CONTROL_GROUP,
                self.name,
                {keys.CONTROL: start},
                count=20,
                block=READ_BLOCK_MS if start == '>' else None,
            )
            entries = [e for _, es in got or [] for e in es]
            if start != '>':
                start = entries[-1][0] if entries else '>'
            for entry_id, f in entries:
                if f:
                    self.controls.submit(entry_id, f)
                else:
                    await self.r.xack(keys.CONTROL, keys.CONTROL_GROUP, entry_id)

    async def _autoclaim(self, stream: str, group: str) -> list[Any]:
        out: list[Any] = []
        start = '0-0'
        while True:
            res = await self.r.xautoclaim(
                stream, group, self.name, int(self.lease_s * 1000), start, count=100
            )
            start, claimed = res[0], res[1]
            out += [(i, f) for i, f in claimed if f]
            if start in ('0-0', b'0-0'):
                return out

    async def _housekeeping(self) -> None:
        while not cancel_requested():
            await self.cooking.renew()
            await self.serving.renew()
            for s in self.cfg.stations:
                stream = keys.cook_stream(s.id)
                if found := await self._autoclaim(stream, keys.COOK_GROUP):
                    await self._dispatch_entries(stream, found)
            if found := await self._autoclaim(keys.DELIVERIES, keys.DELIVERY_GROUP):
                await self._dispatch_entries(keys.DELIVERIES, found)
            for entry_id, f in await self._autoclaim(keys.CONTROL, keys.CONTROL_GROUP):
                self.controls.submit(entry_id, f)
            await asyncio.sleep(self.lease_s / 4)

    async def _schedule(self) -> None:
        while not cancel_requested():
            # Short naps only while a batch is waiting for its moment to leave.
            batching = self.serving.ready and self.serving.free_robots()
            timeout = self.serving.wait_s / 2 if batching else 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            self.cooking.schedule()
            await self.serving.plan()

    # -- robots ----------------------------------------------------------------------------

    def _on_state(self, robot_id: str, state: dict[str, Any]) -> None:
        """A heartbeat (on the event loop, from the ROS thread)."""
        view = self.robots.get(robot_id)
        if view is None:
            return
        now = time.monotonic()
        prev = self._seen.get(robot_id)
        self._seen[robot_id] = now
        seq, prev_seq = state.pop('seq'), self._seq.get(robot_id)
        self._seq[robot_id] = seq
        # A new writer starts again from 1; the first few may go out before we match it.
        restarted = seq is not None and prev_seq is not None and seq < min(prev_seq, FRESH_SEQ)
        came_back = prev is not None and (view.mode == 'lost' or now - prev > GAP_S or restarted)
        if came_back and now - self._back.get(robot_id, 0.0) < GAP_S:
            came_back = False  # already re-sending its goals
        before = (view.mode, view.reachable, view.reported)
        # Until its (new) action server is discovered, goals wait.
        view.mode, view.reachable = state['mode'], state['ready'] and not came_back
        if came_back:
            self._back[robot_id] = now
            self.bridge.forget_reachable(robot_id)
        view.reported = frozenset(state['jobs'])
        self._states[robot_id] = state
        self._dirty.add(robot_id)
        self._lost_at.pop(robot_id, None)
        self._gone.discard(robot_id)
        if came_back:
            log.info(
                '%s is back (restarted: %s, silent %.1fs)',
                robot_id,
                restarted,
                now - (prev or now),
            )
            self.spawn(self._robot_back(robot_id), f'back {robot_id}')
        if before != (view.mode, view.reachable, view.reported):
            self.wake()

    async def _robot_back(self, robot_id: str) -> None:
        await self.cooking.robot_back(robot_id)
        await self.serving.robot_back(robot_id)

    async def _watch_robots(self) -> None:
        lost_after = self.cfg.service.robot_lost_after_s
        started = time.monotonic()
        while not cancel_requested():
            now = time.monotonic()
            if now - started > lost_after:
                # Never heard since we started: as good as lost (its jobs may go elsewhere).
                for view in self.robots.values():
                    if view.mode == 'unknown':
                        view.mode = 'lost'
            for robot_id, seen in self._seen.items():
                view = self.robots[robot_id]
                if now - seen > lost_after and view.mode != 'lost':
                    view.mode = 'lost'
                    self._lost_at[robot_id] = now
                    self._states[robot_id] = {**self._states[robot_id], 'mode': 'lost'}
                    self._dirty.add(robot_id)
                    log.warning('%s lost: no heartbeat for %.1fs', robot_id, now - seen)
                    await raise_alert(
                        self.r,
                        'robot_lost',
                        'critical',
                        f'{robot_id} has not been heard from for {now - seen:.0f} s',
                        robot_id=robot_id,
                    )
                lost_at = self._lost_at.get(robot_id)
                if (
                    lost_at is not None
                    and robot_id not in self._gone
                    and now - lost_at > self.lease_s
                ):
                    self._gone.add(robot_id)
                    self.cooking.robot_gone(robot_id)
                    self.wake()
            await self._mirror(now)
            await asyncio.sleep(0.25)

    async def _mirror(self, now: float) -> None:
        """Write the latest heartbeats to `rd:robot:{id}`; feed events on mode changes and,
        for moving robots, at most every POSE_EVENT_EVERY_S."""
        states = {robot_id: self._states[robot_id] for robot_id in self._dirty}
        self._dirty = set()
        if not states:
            return
        seen = {r: now_ms() - int((now - self._seen.get(r, now)) * 1000) for r in self._states}
        async with self.r.pipeline(transaction=False) as pipe:
            if now - self._heartbeats_published >= HEARTBEATS_EVENT_EVERY_S:
                self._heartbeats_published = now
                add_feed_event(pipe, 'fleet.heartbeats', {'seen': seen})
            for robot_id, s in states.items():
                seen_ms = seen[robot_id]
                fields = {
                    **{k: v for k, v in s.items() if k not in ('jobs', 'ready')},
                    'jobs': json.dumps(s['jobs']),
                    'seen_at': seen_ms,
                }
                pipe.hset(keys.robot(robot_id), mapping={k: str(v) for k, v in fields.items()})
                mode, last = self._published.get(robot_id, ('', 0.0))
                if mode != s['mode'] or (
                    s['mode'] == 'busy'
                    and s['kind'] == 'serving'
                    and now - last >= POSE_EVENT_EVERY_S
                ):
                    self._published[robot_id] = (s['mode'], now)
                    add_feed_event(pipe, 'robot.state', {**fields, 'jobs': s['jobs']})
            await pipe.execute()


def consumer_name() -> str:
    return f'{socket.gethostname()}-{os.getpid()}'


@contextlib.asynccontextmanager
async def app_service(ctx: AppContext) -> AsyncIterator[Dispatcher]:
    """The dispatcher inside the API process (`robodine serve --with-dispatcher`)."""
    s = ctx.settings
    r = Redis.from_url(s.redis_url, decode_responses=True)
    d = Dispatcher(r, ctx.config, consumer_name(), s.time_scale, s.dispatch_lease_s)
    await d.start()
    try:
        yield d
    finally:
        await d.stop()
        await r.aclose()


def dispatcher_command(args: argparse.Namespace) -> int:
    """`robodine dispatcher`: run until SIGINT / SIGTERM."""
    from orchestrator.logs import setup_logging
    from orchestrator.settings import get_settings

    settings = get_settings()
    setup_logging(settings.log_level, settings.log_json)
    cfg = load_restaurant(args.config)

    async def main() -> None:
        r = Redis.from_url(args.redis_url, decode_responses=True)
        d = Dispatcher(
            r, cfg, args.name or consumer_name(), args.time_scale, settings.dispatch_lease_s
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await d.start()
        await stop.wait()
        await d.stop()
        await r.aclose()

    asyncio.run(main())
    return 0
