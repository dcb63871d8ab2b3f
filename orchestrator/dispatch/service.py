"""The dispatcher service: Redis streams in, ROS 2 goals out, robot state and results back.

Loops (each restarted after a Redis outage):
- jobs: XREADGROUP (group `dispatch`, BLOCK) over every cook stream and the delivery stream
  (`store.work`); on start it first re-reads its own pending entries (same consumer name);
- commands: XREADGROUP (group `fleet`) over the robot commands (`store.commands`);
- schedule: woken by new work, freed robots or results; hands jobs to robots (`cooking`) and
  ready orders to serving trips (`serving`);
- housekeeping: renews leases, and XAUTOCLAIMs entries idle past the lease (their dispatcher
  died) so that they are recovered;
- robots: mirrors heartbeats into `store.robots` and the feed, marks silent robots `lost`.

The workers (`cooking`, `serving`, `robot_commands`) share one `DispatchContext`; the loops
here are the only code that knows all three. Run it alone (`robodine dispatcher`) or inside
the API process (`app_service`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, replace
from typing import Any

import redis.exceptions
from redis.asyncio import Redis

from orchestrator.closures import Closures, unreachable_tables
from orchestrator.config import RestaurantConfig, load_restaurant
from orchestrator.dispatch.context import TRANSIENT, DispatchContext
from orchestrator.dispatch.cooking import Cooking
from orchestrator.dispatch.eta import Etas
from orchestrator.dispatch.robot_commands import RobotCommands
from orchestrator.dispatch.robot_view import SILENT, RobotView
from orchestrator.dispatch.ros_bridge import FleetBridge
from orchestrator.dispatch.scheduling import get_policy
from orchestrator.dispatch.serving import Serving
from orchestrator.settings import Settings
from orchestrator.store import (
    alerts,
    closures,
    commands,
    connection,
    duties,
    feed,
    replication,
    robots,
)
from orchestrator.store.replication import Replicas
from orchestrator.store.robots import RobotRecord
from orchestrator.store.work import Batch, WorkQueue
from orchestrator.tasks import cancel_requested, nap
from orchestrator.texts import Said
from robot_nodes import auth

log = logging.getLogger(__name__)

READ_BLOCK_MS = 1000
# A heartbeat gap this long (or a heartbeat sequence number that starts again) means the robot
# may have restarted and forgotten our goals.
GAP_S = 2.0
FRESH_SEQ = 50
# An accepted goal its robot has not listed in its heartbeats for this long, with no result
# come, is sent again (the robot answers from its ledger): a result lost on the way.
RESULT_LOST_AFTER_S = 10.0
# How often silent robots are looked for (and heartbeats mirrored to Redis).
WATCH_EVERY_S = 0.25
# Real seconds between two robot.state feed events of a moving robot.
POSE_EVENT_EVERY_S = 0.5
# Every robot's last heartbeat, in one feed event this often: consoles show heartbeat ages
# without a feed event per heartbeat (robots beat at 5 Hz).
HEARTBEATS_EVENT_EVERY_S = 1.0
# One dispatcher of several puts the robots' state on the feed (the others would repeat it):
# the holder of this duty, renewed by every mirror and held this long (ms) past the last.
FEED_DUTY = 'fleet_feed'
FEED_HOLD_MS = 2000
# What a robot's silence raises; heard again, its next silence raises them anew.
SILENCE_ALERTS = ('robot_unreachable', 'robot_lost')
# Connection errors this soon after an outage was reported are its aftermath (the pool's
# connections that a Redis restart closed), not a new outage to alert about.
OUTAGE_AFTERMATH_S = 10.0
OUTAGE_MARKER_TTL_S = 3600
# Real seconds between two looks at the diners' ETAs.
ETA_EVERY_S = 2.0
# Shortest nap of the scheduling loop (wall seconds).
MIN_NAP_S = 0.05
# Redis connections of a dispatcher: every job and trip in flight may be writing at once, and a
# busy kitchen on a slow disk (appendfsync always) has hundreds; beyond, a write waits for one.
REDIS_CONNECTIONS = 256
# Real seconds between two ros_auth_failed alerts about one robot.
FORGERY_ALERT_EVERY_S = 30.0
# Real seconds between two looks at the operator's closures, and between two sends of an
# unchanged set to the traffic controller (a fresh stamp; a change goes at once).
CLOSURES_EVERY_S = 1.0
CLOSURES_RESEND_S = 5.0


class Dispatcher:
    def __init__(
        self,
        r: Redis,
        cfg: RestaurantConfig,
        name: str,
        time_scale: float = 1.0,
        lease_s: float = 10.0,
        command_ttl_s: float = 30.0,
        *,
        policy: str | None = None,
        robot_keys: dict[str, bytes] | None = None,
        replicas: Replicas | None = None,
    ) -> None:
        """`policy`: a name of dispatch/scheduling.py (default: the config's service.policy);
        `robot_keys`: every robot's key (`robot_nodes.auth.load_keys`), needed to start;
        `replicas`: what claims and leases wait for before a robot hears of them."""
        self.robot_keys = robot_keys
        views = {
            c.id: RobotView(c.id, 'cooking', frozenset(c.stations), c.capacity)
            for c in cfg.cooking_robots
        }
        views |= {s.id: RobotView(s.id, 'serving', capacity=s.trays) for s in cfg.serving_robots}
        self.ctx = DispatchContext(r, cfg, name, time_scale, lease_s, views, replicas=replicas)
        self.r, self.cfg, self.name, self.lease_s = r, cfg, name, lease_s
        self.robots = views
        self.cooking = Cooking(
            self.ctx, get_policy(policy or cfg.service.policy), self._on_progress
        )
        self.serving = Serving(self.ctx, self.cooking.coming)
        self.commands = RobotCommands(self.ctx, self.serving.pickup_confirmed, command_ttl_s)
        self.work = WorkQueue(r, [s.id for s in cfg.stations], name)
        self.etas = Etas(self.ctx)
        self._new_orders = asyncio.Event()
        self._seen: dict[str, float] = {}
        # The last heartbeat from any robot, and the last stretch (from, to) in which none was
        # heard at all: our own stall (an overloaded host) or our link, not every robot's.
        self._heard_any = 0.0
        self._deaf = (0.0, 0.0)
        self._seq: dict[str, int | None] = {}
        self._back: dict[str, float] = {}
        # Robots silent past their lease: their jobs were handed to other robots.
        self._gone: set[str] = set()
        # The last heartbeat of each robot, and the robots whose state is not in Redis yet.
        self._states: dict[str, RobotRecord] = {}
        self._dirty: set[str] = set()
        self._published: dict[str, tuple[str, float]] = {}
        self._heartbeats_published = 0.0
        # Whether this dispatcher held the fleet feed duty at its last mirror (and as whom).
        self._feeds = False
        self._holder = f'{name}-{secrets.token_hex(4)}'
        self._loops: list[asyncio.Task[None]] = []
        # time.monotonic() when a loop first found Redis unreachable, until one sees it back;
        # and when an outage was last reported.
        self._outage_since: float | None = None
        self._outage_reported = -OUTAGE_AFTERMATH_S
        # When each robot's stray jobs were last looked up, and its last ros_auth_failed alert.
        self._strays_checked: dict[str, float] = {}
        self._forgery_alerted: dict[str, float] = {}
        # The closures' version last sent to the traffic controller, and when.
        self._closures_sent = (-1, 0.0)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self.robot_keys is None:
            raise ValueError("the dispatcher needs every robot's key (robot_keys)")
        self.ctx.bridge = FleetBridge(
            self.cfg,
            self.name,
            asyncio.get_running_loop(),
            self._on_state,
            self.robot_keys,
            self._on_forgery,
        )
        self.ctx.bridge.start()
        with contextlib.suppress(*TRANSIENT):
            await self._ensure_groups()
        for loop in (
            self._read_jobs,
            self._read_commands,
            self._schedule,
            self._housekeeping,
            self._watch_robots,
            self._publish_etas,
            self._follow_closures,
        ):
            self._loops.append(asyncio.create_task(self._forever(loop), name=loop.__name__))
        log.info(
            'dispatcher %s started (time scale %g, lease %gs)',
            self.name,
            self.ctx.time_scale,
            self.lease_s,
        )

    async def stop(self) -> None:
        self.ctx.stopping = True
        tasks = [*self._loops, *self.ctx.tasks()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await duties.release(self.r, FEED_DUTY, self._holder)
        self.ctx.ros.stop()
        log.info('dispatcher %s stopped', self.name)

    async def _forever(self, loop: Callable[[], Awaitable[None]]) -> None:
        # Every loop also checks cancel_requested(): redis-py may swallow stop()'s cancellation.
        while not self.ctx.stopping and not cancel_requested():
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except TRANSIENT as e:
                if (more := self.ctx.outage_log.due(loop.__name__)) is not None:
                    log.warning('%s: redis unavailable (%s); retrying%s', loop.__name__, e, more)
                if self._outage_since is None:
                    self._outage_since = time.monotonic()
                await self._redis_back()
            except redis.exceptions.ResponseError as e:
                if 'NOGROUP' not in str(e):
                    raise
                # Redis lost its data (no AOF?): recreate the groups and carry on.
                await self._ensure_groups()
            except Exception:
                log.exception('%s failed; restarting it', loop.__name__)
                await asyncio.sleep(1.0)

    async def _redis_back(self) -> None:
        """Wait until Redis answers again; the first loop to see it back raises the console
        alert about the outage (the writes that failed during it were retried meanwhile)."""
        while not self.ctx.stopping and not cancel_requested():
            await asyncio.sleep(0.5)
            try:
                await self.r.ping()
            except TRANSIENT:
                continue
            # Read after the await: another loop may have seen it back (and reported) meanwhile;
            # errors soon after a report are its aftermath (pooled connections a restart closed).
            since, self._outage_since = self._outage_since, None
            now, reported = time.monotonic(), self._outage_reported
            if since is None or now - reported < OUTAGE_AFTERMATH_S:
                return
            self._outage_reported = now
            try:
                # Named by its start, so that a retry after a lost reply raises it once.
                await alerts.raise_unique(
                    self.r,
                    'redis_outage',
                    f'{self.name}:{since:.3f}',
                    'critical',
                    Said(
                        'alert.texts.redis_outage',
                        {'dispatcher': self.name, 'seconds': round(now - since)},
                    ),
                    OUTAGE_MARKER_TTL_S,
                )
            except TRANSIENT:
                # Gone again: the outage goes on, and is reported when it is over.
                self._outage_since, self._outage_reported = since, reported
                continue
            return

    # -- streams ---------------------------------------------------------------------------

    async def _ensure_groups(self) -> None:
        await self.work.ensure_groups()
        await commands.ensure_group(self.r)

    async def _dispatch(self, batch: Batch, fresh: bool = False) -> None:
        if batch.deliveries:
            await self.serving.add_entries(batch.deliveries)
        if batch.cook:
            await self.cooking.add_entries(batch.cook, fresh)
            self._new_orders.set()
        self.ctx.wake()

    async def _read_jobs(self) -> None:
        await self._ensure_groups()
        # Our own pending entries first (a restart under the same name), then new ones.
        for batch in await self.work.pending():
            await self._dispatch(batch)
        while not cancel_requested():
            if batch := await self.work.new(READ_BLOCK_MS):
                await self._dispatch(batch, fresh=True)

    async def _read_commands(self) -> None:
        await self._ensure_groups()
        start = '0'  # our pending entries first, then new ones
        while not cancel_requested():
            entries = await commands.read(
                self.r, self.name, start, READ_BLOCK_MS if start == '>' else None
            )
            if start != '>':
                start = entries[-1][0] if entries else '>'
            for entry_id, f in entries:
                if f:
                    self.commands.submit(entry_id, f)
                else:
                    await commands.done(self.r, entry_id)

    async def _housekeeping(self) -> None:
        idle_ms = int(self.lease_s * 1000)
        while not cancel_requested():
            await self.cooking.renew()
            await self.serving.renew()
            if batch := await self.work.reclaim(idle_ms):
                await self._dispatch(batch)
            for entry_id, f in await commands.reclaim(self.r, self.name, idle_ms):
                self.commands.submit(entry_id, f)
            await nap(self.lease_s / 4)

    async def _schedule(self) -> None:
        while not cancel_requested():
            # Short naps only while a batch is waiting for its moment to leave, or until a robot
            # should set off for the pass (at 60x a second's nap is a minute of the kitchen:
            # longer than the drive it is sent ahead by).
            batching = self.serving.ready and self.serving.free_robots()
            nap = self.serving.wait_s / 2 if batching else 1.0
            await self.ctx.woken(max(MIN_NAP_S, min(nap, self.serving.stage_in())))
            self.cooking.schedule()
            await self.serving.plan()

    def _on_progress(self, order_id: str) -> None:
        """A dish of an order still waiting for its first estimate is sent to a robot or
        cooked: that estimate may be whole now (its dish was cooked before the estimate saw it
        here) or computable (no robot could take the dish before), and at a fast clock the
        order may be ready and on its way before the next round."""
        if self.etas.awaits_first(order_id):
            self._new_orders.set()

    async def _publish_etas(self) -> None:
        """Every ETA_EVERY_S, and at once for new orders: a diner hears the first estimate the
        moment the dishes are queued, even for a drink that is ready within the interval."""
        while not cancel_requested():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_orders.wait(), ETA_EVERY_S)
            self._new_orders.clear()
            # Counted from the same state as the schedule ready_times plays (no await between).
            here = self.cooking.jobs_here()
            cooking = await self.cooking.ready_times()
            await self.etas.publish(cooking | self.serving.ready_times(), here)

    async def _follow_closures(self) -> None:
        """The operator's closures: hold the orders of tables they cut off, and send them to
        the traffic controller on every change and every CLOSURES_RESEND_S. A set is checked
        against the floor and its cut-off tables found once per version, not every look."""
        names: list[str] = []
        while not cancel_requested():
            state = await closures.read(self.r)
            version, sent_at = self._closures_sent
            if state.version != version:
                closed, stale = Closures.known(self.cfg.floor, state.closed)
                if stale:
                    log.error('closures not on this floor, ignored: %s', stale)
                cut_off = unreachable_tables(self.cfg, closed)
                if cut_off != self.serving.unreachable:
                    log.info('orders wait at the pass for tables no way reaches: %s', cut_off)
                    self.serving.unreachable = cut_off
                    self.ctx.wake()
                names = closed.names
            if state.version != version or time.monotonic() - sent_at >= CLOSURES_RESEND_S:
                self.ctx.ros.closures(names, state.version)
                self._closures_sent = (state.version, time.monotonic())
            await nap(CLOSURES_EVERY_S)

    # -- robots ----------------------------------------------------------------------------

    def _on_state(self, robot_id: str, state: dict[str, Any]) -> None:
        """A heartbeat (on the event loop, from the ROS thread)."""
        view = self.ctx.robots.get(robot_id)
        if view is None:
            return
        now = time.monotonic()
        prev = self._seen.get(robot_id)
        self._seen[robot_id] = now
        if now - self._heard_any > GAP_S:
            self._deaf = (self._heard_any, now)
        self._heard_any = now
        seq, prev_seq = state.pop('seq'), self._seq.get(robot_id)
        self._seq[robot_id] = seq
        # A new writer starts again from 1; the first few may go out before we match it.
        restarted = seq is not None and prev_seq is not None and seq < min(prev_seq, FRESH_SEQ)
        came_back = prev is not None and (
            view.mode in SILENT or self._gap(prev, now) > GAP_S or restarted
        )
        if came_back and now - self._back.get(robot_id, 0.0) < GAP_S:
            came_back = False  # already re-sending its goals
        before = (view.mode, view.reachable, view.reported)
        # Until its (new) action server is discovered, goals wait.
        view.mode, view.reachable = state['mode'], state['ready'] and not came_back
        if came_back:
            self._back[robot_id] = now
            self.ctx.ros.forget_reachable(robot_id)
        view.heard(frozenset(state['jobs']))
        work = self.cooking if view.kind == 'cooking' else self.serving
        for job_id in view.result_lost(work.accepted_on(robot_id), now, RESULT_LOST_AFTER_S):
            log.warning(
                '%s: %s no longer lists it and no result came: asking again', job_id, robot_id
            )
            self.ctx.spawn(work.result_lost(job_id), f'result lost {job_id}')
        view.battery, view.x, view.y = state['battery'], state['x'], state['y']
        strays = self.cooking.strays(robot_id, state['epochs']) or self.serving.strays(
            robot_id, state['epochs']
        )
        if strays and now - self._strays_checked.get(robot_id, 0.0) > GAP_S:
            # Jobs (a trip) it holds that we did not send it: moved on (or lost) while it was
            # frozen or cut off?
            self._strays_checked[robot_id] = now
            fix = (
                self.cooking.cancel_superseded
                if view.kind == 'cooking'
                else self.serving.strays_found
            )
            self.ctx.spawn(fix(robot_id, strays), f'strays {robot_id}')
        self._states[robot_id] = RobotRecord(
            robot_id=robot_id,
            kind=state['kind'],
            mode=state['mode'],
            jobs=list(state['jobs']),
            x=state['x'],
            y=state['y'],
            theta=state['theta'],
            battery=state['battery'],
            detail=state['detail'],
        )
        self._dirty.add(robot_id)
        self._gone.discard(robot_id)
        if prev is None:
            log.info('%s heard: %s', robot_id, view.mode)
        if view.reachable and not before[1]:
            log.info('%s reachable: its action server is discovered', robot_id)
        if prev is None or before[0] in SILENT:  # heard: not (or no longer) silent
            self.ctx.spawn(
                self.ctx.retrying(lambda: alerts.clear_once(self.r, SILENCE_ALERTS, robot_id)),
                f'reachable {robot_id}',
            )
        if (before[0] == 'charging') != (view.mode == 'charging') and view.kind == 'serving':
            self.ctx.spawn(
                self._announce_charging(robot_id, view.mode == 'charging', state['detail']),
                f'charging {robot_id}',
            )
        if came_back:
            log.info(
                '%s is back (restarted: %s, silent %.1fs)',
                robot_id,
                restarted,
                now - (prev or now),
            )
            self.ctx.spawn(self._robot_back(robot_id), f'back {robot_id}')
        if before != (view.mode, view.reachable, view.reported):
            self.ctx.wake()

    def _gap(self, prev: float, now: float) -> float:
        """How long a robot heard at `prev` and now was silent while others were heard. A
        stretch in which no robot was heard is ours: re-sending every goal after it (under new
        epochs, fencing the writes of the goals still running) only added load to a loaded
        host, which stalled again — and the fenced `arrived` writes left diners' food
        untaken until the robots brought it back. A robot that restarted meanwhile says so
        by its sequence numbers; one silent past `robot_unreachable_after_s` is re-sent to."""
        deaf_from, deaf_to = self._deaf
        return now - prev - max(0.0, min(now, deaf_to) - max(prev, deaf_from))

    async def _announce_charging(self, robot_id: str, charging: bool, detail: str) -> None:
        """A serving robot left for its charger (the console hears it once, however many
        dispatchers saw it), or is back in service."""
        r = self.r
        if not charging:
            await self.ctx.retrying(lambda: alerts.clear_once(r, ['robot_charging'], robot_id))
            return
        await self.ctx.retrying(
            lambda: alerts.raise_once(
                r,
                'robot_charging',
                robot_id,
                'info',
                Said('alert.texts.robot_charging', {'robot': robot_id, 'detail': detail}),
                robot_id=robot_id,
            )
        )

    def _on_forgery(self, robot_id: str, what: str) -> None:
        """Something claiming to be (or to answer for) a robot did not verify: a console alert
        (at most one per robot every FORGERY_ALERT_EVERY_S; every one is logged)."""
        now = time.monotonic()
        if now - self._forgery_alerted.get(robot_id, -FORGERY_ALERT_EVERY_S) < (
            FORGERY_ALERT_EVERY_S
        ):
            return
        self._forgery_alerted[robot_id] = now
        self.ctx.spawn(
            self.ctx.retrying(
                lambda: alerts.raise_alert(
                    self.r,
                    'ros_auth_failed',
                    'critical',
                    Said('alert.texts.ros_auth_failed', {'robot': robot_id, 'what': what}),
                    robot_id=robot_id,
                )
            ),
            f'ros_auth_failed {robot_id}',
        )

    async def _robot_back(self, robot_id: str) -> None:
        await self.cooking.robot_back(robot_id)
        await self.serving.robot_back(robot_id)

    async def _watch_robots(self) -> None:
        """A robot not heard for `robot_unreachable_after_s` is unreachable (it keeps its work:
        a network cut), for `robot_lost_after_s` lost (its trips fail), and once the lease it
        last heard from us ran out too (`hold_s` later) its dishes go to other robots."""
        service = self.cfg.service
        # The last lease it heard was sent before it counted as unreachable (plus a tick).
        give_up_s = service.robot_unreachable_after_s + WATCH_EVERY_S + self.ctx.hold_s
        started = time.monotonic()
        while not cancel_requested():
            now = time.monotonic()
            if now - started > service.robot_lost_after_s:
                # Never heard since we started: as good as lost (its jobs may go elsewhere).
                for view in self.robots.values():
                    if view.mode == 'unknown':
                        view.mode = 'lost'
            for robot_id, seen in self._seen.items():
                view, silent = self.robots[robot_id], now - seen
                if silent > service.robot_lost_after_s and view.mode != 'lost':
                    await self._went_silent(robot_id, 'lost', silent)
                elif silent > service.robot_unreachable_after_s and view.mode not in SILENT:
                    await self._went_silent(robot_id, 'unreachable', silent)
                if silent > give_up_s and robot_id not in self._gone:
                    self._gone.add(robot_id)
                    self.cooking.robot_gone(robot_id)
                    self.ctx.wake()
            await self._mirror(now)
            await nap(WATCH_EVERY_S)

    async def _went_silent(self, robot_id: str, mode: str, silent_s: float) -> None:
        view = self.robots[robot_id]
        view.mode, view.reachable = mode, False
        self._states[robot_id] = replace(self._states[robot_id], mode=mode)
        self._dirty.add(robot_id)
        # The robot's record and feed event say so before any alert or lost trip does (a
        # console reading them in turn never sees a lost trip on a robot still 'unreachable').
        await self._mirror(time.monotonic(), announce=robot_id)
        log.warning('%s %s: no heartbeat for %.1fs', robot_id, mode, silent_s)
        if mode == 'unreachable':
            await alerts.raise_once(
                self.r,
                'robot_unreachable',
                robot_id,
                'warning',
                Said(
                    'alert.texts.robot_unreachable',
                    {'robot': robot_id, 'seconds': round(silent_s)},
                ),
                robot_id=robot_id,
            )
            return
        # Once, however many dispatchers watch it (each did raise its own), until it is back.
        await alerts.raise_once(
            self.r,
            'robot_lost',
            robot_id,
            'critical',
            Said('alert.texts.robot_lost', {'robot': robot_id, 'seconds': round(silent_s)}),
            robot_id=robot_id,
        )
        if view.kind == 'serving':
            await self.serving.robot_lost(robot_id)

    async def _mirror(self, now: float, announce: str = '') -> None:
        """Write the latest heartbeats to `rd:robot:{id}` (every dispatcher: each record is
        what its writer heard last); feed events on mode changes and, for moving robots, at
        most every POSE_EVENT_EVERY_S, from the dispatcher that held FEED_DUTY at its last
        mirror (this one renews its hold on the way), or from this one for the robot gone silent
        that it `announce`s. A new holder's first events are what changed since it last
        published."""
        states = {robot_id: self._states[robot_id] for robot_id in self._dirty}
        self._dirty = set()
        if not states:
            return
        seen = {
            r: feed.now_ms() - int((now - self._seen.get(r, now)) * 1000) for r in self._states
        }
        async with self.r.pipeline(transaction=False) as pipe:
            duties.hold_in(pipe, FEED_DUTY, self._holder, FEED_HOLD_MS)
            if self._feeds and now - self._heartbeats_published >= HEARTBEATS_EVENT_EVERY_S:
                self._heartbeats_published = now
                feed.add_event(pipe, 'fleet.heartbeats', {'seen': seen})
            for robot_id, s in states.items():
                record = replace(s, seen_at=seen[robot_id])
                robots.write(pipe, record)
                mode, last = self._published.get(robot_id, ('', 0.0))
                moving = s.mode == 'busy' and s.kind == 'serving'
                if (self._feeds or robot_id == announce) and (
                    mode != s.mode or (moving and now - last >= POSE_EVENT_EVERY_S)
                ):
                    self._published[robot_id] = (s.mode, now)
                    feed.add_event(pipe, 'robot.state', asdict(record))
            replies = await pipe.execute()
        self._feeds = bool(replies[0])


def robot_keys(settings: Settings, cfg: RestaurantConfig) -> dict[str, bytes]:
    """Every robot's key from `settings.robot_key_dir` (auth.KeyFileError names a missing one)."""
    ids = list(cfg.robot_kinds)
    return auth.load_keys(settings.robot_key_dir, ids)


def consumer_name() -> str:
    return f'{socket.gethostname()}-{os.getpid()}'


@contextlib.asynccontextmanager
async def app_service(settings: Settings, cfg: RestaurantConfig) -> AsyncIterator[Dispatcher]:
    """The dispatcher inside the API process (`robodine serve --with-dispatcher`), on a Redis
    client of its own (its blocking reads must not wait behind the API's requests)."""
    s = settings
    os.environ.update(s.ros_environment())
    # A bounded pool that waits for a free connection: a busy kitchen has more writes in
    # flight than connections worth opening.
    r = connection.connect(s, blocking_pool=True, max_connections=REDIS_CONNECTIONS)
    d = Dispatcher(
        r,
        cfg,
        consumer_name(),
        s.time_scale,
        s.dispatch_lease_s,
        s.command_ttl_s,
        policy=s.policy,
        robot_keys=robot_keys(s, cfg),
        replicas=replication.from_settings(s),
    )
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
    keys = robot_keys(settings, cfg)
    os.environ.update(settings.ros_environment())

    async def main() -> None:
        r = connection.connect(
            settings, args.redis_url, blocking_pool=True, max_connections=REDIS_CONNECTIONS
        )
        d = Dispatcher(
            r,
            cfg,
            args.name or consumer_name(),
            args.time_scale,
            settings.dispatch_lease_s,
            settings.command_ttl_s,
            policy=settings.policy,
            robot_keys=keys,
            replicas=replication.from_settings(settings),
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
