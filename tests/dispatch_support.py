"""Helpers for the dispatcher tests.

- `write_order`: an order taken by the real intake script, so that `store.jobs` can be
  tested without the API or ROS 2;
- `Kitchen`: real robot node processes and `robodine dispatcher` processes;
- `Diners`: orders placed through the real API and pickups confirmed through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import redis.exceptions
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig, load_restaurant
from orchestrator.pricing import OrderIn
from orchestrator.settings import DEFAULT_CONFIG, Settings
from orchestrator.store import orders, robots
from orchestrator.store.intake import Intake
from orchestrator.store.work import WorkQueue
from robot_nodes.ledger import Entry, Ledger
from table_qr.tokens import sign
from tests.api_helpers import config_with, settings_for, uvicorn_server
from tests.ros_helpers import keys_for, start_robot_process, stop_process

T = TypeVar('T')


async def ensure_groups(r: Redis, cfg: RestaurantConfig) -> None:
    """The dispatcher's consumer groups, as a dispatcher creates them on start."""
    await WorkQueue(r, [s.id for s in cfg.stations], 'test').ensure_groups()


async def write_order(
    r: Redis, cfg: RestaurantConfig, table_id: str, dishes: list[tuple[str, int]]
) -> tuple[str, list[str]]:
    """An order of `(dish_id, quantity)` lines (default options) taken by the real intake
    script, so that `store.jobs` is tested on what intake writes; returns (order_id, job_ids)
    with one cook job per unit."""
    order = OrderIn.model_validate({'items': [{'dish_id': d, 'quantity': q} for d, q in dishes]})
    outcome = await Intake(r, cfg).take(table_id, 'k' + secrets.token_hex(8), order)
    assert outcome.kind == 'created', outcome
    order_id = json.loads(outcome.response)['id']
    record = await orders.get(r, order_id)
    assert record is not None
    return order_id, record.job_ids()


# -- a whole kitchen of real processes -------------------------------------------------------


@dataclass
class Kitchen:
    """Robot processes (all of the config), `robodine dispatcher` processes and the API."""

    cfg: RestaurantConfig
    tmp: Path
    time_scale: float
    lease_s: float = 2.0
    robot_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    robots: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    dispatchers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    started_dispatchers: int = 0
    # The restaurant YAML every process reads (a test may write its own).
    config_path: Path = DEFAULT_CONFIG
    # Before each robot's argv (e.g. `ip netns exec NS`), and over the environment of the
    # robots and of the dispatchers.
    robot_wrap: list[str] = field(default_factory=list)
    robot_env: dict[str, str] = field(default_factory=dict)
    dispatcher_env: dict[str, str] = field(default_factory=dict)

    @property
    def ledger_dir(self) -> Path:
        return self.tmp / 'ledger'

    def start_robot(self, robot_id: str) -> None:
        kind = 'serving' if robot_id in {s.id for s in self.cfg.serving_robots} else 'cooking'
        self.robots[robot_id] = start_robot_process(
            kind,
            robot_id,
            self.config_path,
            self.time_scale,
            self.ledger_dir,
            self.robot_params.get(robot_id),
            wrap=self.robot_wrap,
            env=self.robot_env,
        )

    def robot_ids(self) -> list[str]:
        return [r.id for r in self.cfg.cooking_robots] + [r.id for r in self.cfg.serving_robots]

    def start_all_robots(self) -> None:
        for robot_id in self.robot_ids():
            self.start_robot(robot_id)

    def kill_robot(self, robot_id: str) -> None:
        proc = self.robots.pop(robot_id)
        proc.kill()
        proc.wait()

    def start_dispatcher(self, redis_url: str, name: str | None = None) -> str:
        self.started_dispatchers += 1
        name = name or f'disp{self.started_dispatchers}'
        log = self.tmp / f'dispatcher-{name}.log'
        env = {
            **os.environ,
            'ROBODINE_DISPATCH_LEASE_S': str(self.lease_s),
            # The keys start_robot_process gives the robots.
            'ROBODINE_ROBOT_KEY_DIR': str(keys_for(self.robot_ids())),
            'PYTHONUNBUFFERED': '1',
            **self.dispatcher_env,
        }
        with log.open('ab') as out:
            self.dispatchers[name] = subprocess.Popen(
                [
                    sys.executable,
                    '-m',
                    'orchestrator.cli',
                    'dispatcher',
                    '--config',
                    str(self.config_path),
                    '--redis-url',
                    redis_url,
                    '--name',
                    name,
                    '--time-scale',
                    str(self.time_scale),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return name

    def dispatcher_log(self, name: str) -> str:
        return (self.tmp / f'dispatcher-{name}.log').read_text(errors='replace')

    def logged_by(
        self, names: Iterable[str], line: str, times: int = 1
    ) -> Callable[[], Awaitable[bool]]:
        """A predicate for `wait_for`: each of the dispatchers `names` logged `line` at least
        `times` times."""
        names = list(names)

        async def every_one() -> bool:
            return all(self.dispatcher_log(n).count(line) >= times for n in names)

        return every_one

    def entries(self, robot_id: str) -> dict[str, Entry]:
        """The cook entries of a cooking robot's own ledger, by job id."""
        ledger = Ledger.for_robot(self.ledger_dir, robot_id)
        try:
            return {e.job_id: e for e in ledger.entries('cook')}
        finally:
            ledger.close()

    def cooked(self) -> Counter[str]:
        """Dishes cooked, counted from the cooking robots' own ledgers."""
        out: Counter[str] = Counter()
        for c in self.cfg.cooking_robots:
            path = self.ledger_dir / f'{c.id}.sqlite'
            if path.exists():
                ledger = Ledger(path)
                out.update(ledger.cooked_jobs())
                ledger.close()
        return out

    def stop_dispatchers(self) -> None:
        for proc in self.dispatchers.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a test may have left it stopped
                stop_process(proc)
        self.dispatchers.clear()

    def stop(self) -> None:
        self.stop_dispatchers()
        for proc in self.robots.values():
            stop_process(proc)
        self.robots.clear()


@contextmanager
def kitchen_running(
    cfg: RestaurantConfig,
    tmp: Path,
    time_scale: float,
    pickup_timeout_s: float,
    robot_ids: Iterable[str] | None = None,
    config_path: Path = DEFAULT_CONFIG,
) -> Iterator[Kitchen]:
    """A Kitchen with its robots (default: every robot) started; serving robots wait
    `pickup_timeout_s` (simulated) at a table. `cfg` is read from `config_path`."""
    kitchen = Kitchen(
        cfg,
        tmp,
        time_scale,
        robot_params={s.id: {'pickup_timeout_s': pickup_timeout_s} for s in cfg.serving_robots},
        config_path=config_path,
    )
    if robot_ids is None:
        kitchen.start_all_robots()
    else:
        for robot_id in robot_ids:
            kitchen.start_robot(robot_id)
    try:
        yield kitchen
    finally:
        kitchen.stop()


@contextmanager
def module_kitchen(
    tmp_path_factory: pytest.TempPathFactory, time_scale: float, pickup_timeout_s: float
) -> Iterator[Kitchen]:
    """The demo's kitchen for a test module, every robot started, with batteries that last the
    module: at 200x the demo's ran low within minutes, and a test then waited a minute for the
    serving robots to charge."""
    config = config_with(tmp_path_factory.mktemp('config'), {'battery.drain_per_h': 0.005})
    with kitchen_running(
        load_restaurant(config),
        tmp_path_factory.mktemp('kitchen'),
        time_scale,
        pickup_timeout_s,
        config_path=config,
    ) as kitchen:
        yield kitchen


@asynccontextmanager
async def restaurant_open(
    fleet: Kitchen, redis_url: str, r: Redis, log_dir: Path, idle: bool = False
) -> AsyncIterator[tuple[str, Diners]]:
    """The API (its URL) and one dispatcher up, every robot heard (and idle, if asked),
    diners confirming pickups."""
    with uvicorn_server(redis_url, log_dir, config=fleet.config_path) as server:
        fleet.start_dispatcher(redis_url)
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            d = Diners(client, r, settings_for(redis_url), fleet.cfg)
            try:
                await wait_for(lambda: robots_heard(r, fleet.cfg, idle), 90, what='robots')
            except TimeoutError as e:  # say which robot is not there yet, and doing what
                raise TimeoutError(f'{e}: {await fleet_report(r, fleet.cfg)}') from e
            picker = asyncio.create_task(d.pick_up())
            try:
                yield server.url, d
            finally:
                picker.cancel()
                fleet.stop_dispatchers()


async def wait_for(
    predicate: Callable[[], Awaitable[T]],
    timeout: float = 60.0,
    interval: float = 0.05,
    what: str = '',
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f'timed out after {timeout:g} s waiting for {what or predicate}')
        await asyncio.sleep(interval)


async def robots_heard(r: Redis, cfg: RestaurantConfig, idle: bool = False) -> bool:
    """Every robot's heartbeat has reached Redis through a dispatcher's fleet bridge (and,
    with `idle`, every robot is idle)."""
    ids = [c.id for c in cfg.cooking_robots] + [s.id for s in cfg.serving_robots]
    async with r.pipeline(transaction=False) as pipe:
        for robot_id in ids:
            pipe.hget(keys.robot(robot_id), 'mode')
        modes = await pipe.execute()
    if idle:
        return all(m == 'idle' for m in modes)
    return all(m not in (None, 'unknown', 'lost') for m in modes)


async def fleet_report(r: Redis, cfg: RestaurantConfig) -> str:
    """Each robot's last heartbeat in one line: for the message of a test that timed out."""
    ids = [c.id for c in cfg.cooking_robots] + [s.id for s in cfg.serving_robots]
    now_ms = time.time() * 1000
    lines = []
    for rid, rec in (await robots.get_many(r, ids)).items():
        if rec is None:
            lines.append(f'{rid}: never heard')
            continue
        lines.append(
            f'{rid}: {rec.mode} {rec.jobs} at ({rec.x:.2f}, {rec.y:.2f}) battery '
            f'{rec.battery:.2f} "{rec.detail}" heard {(now_ms - rec.seen_at) / 1000:.1f} s ago'
        )
    return '; '.join(lines)


class Diners:
    """Orders placed through the real API, and pickups confirmed when the robot arrives."""

    def __init__(
        self, client: httpx.AsyncClient, r: Redis, settings: Settings, cfg: RestaurantConfig
    ) -> None:
        self.client, self.r, self.settings, self.cfg = client, r, settings, cfg
        self.orders: dict[str, str] = {}  # order_id -> table_id
        self.pickups_sent: set[str] = set()
        # Orders whose diners do not take the food yet (it waits on the robot at the table).
        self.held: set[str] = set()
        # Why orders were not accepted (status and body, or the transport error).
        self.refused: list[str] = []

    def token(self, table_id: str) -> str:
        return sign(self.settings.table_keys, self.cfg.restaurant.id, table_id)

    async def order(
        self, table_id: str, items: list[tuple[str, int]], attempts: int = 5
    ) -> str | None:
        """Place an order as the diner page does (a 503 or a dropped connection is retried
        with the same Idempotency-Key); its id on 201, None if it was never accepted."""
        key = secrets.token_hex(16)
        body = {'items': [{'dish_id': d, 'quantity': q} for d, q in items]}
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(0.5 * attempt)
            try:
                res = await self.client.post(
                    f'/api/tables/{self.token(table_id)}/orders',
                    json=body,
                    headers={'Idempotency-Key': key},
                )
            except httpx.TransportError as e:
                self.refused.append(repr(e))
                continue
            if res.status_code == 201:
                order_id = str(res.json()['id'])
                self.orders[order_id] = table_id
                return order_id
            self.refused.append(f'{res.status_code} {res.text}')
            if res.status_code != 503:
                return None
        return None

    async def statuses(self) -> dict[str, str]:
        ids = list(self.orders)
        async with self.r.pipeline(transaction=False) as pipe:
            for order_id in ids:
                pipe.hget(keys.order(order_id), 'status')
            return dict(zip(ids, await pipe.execute(), strict=True))

    async def pick_up(self) -> None:
        """Run until cancelled: confirm the pickup of every order that arrived at its table."""
        while True:
            # Redis may be down for a moment (a test restarts it): keep trying.
            with contextlib.suppress(redis.exceptions.RedisError, httpx.TransportError):
                await self._confirm_arrived()
            await asyncio.sleep(0.05)

    async def _confirm_arrived(self) -> None:
        for order_id, status in (await self.statuses()).items():
            if status == 'arrived' and order_id not in self.pickups_sent | self.held:
                token = self.token(self.orders[order_id])
                res = await self.client.post(f'/api/tables/{token}/orders/{order_id}/pickup')
                if res.status_code == 202:
                    self.pickups_sent.add(order_id)

    async def all_in(self, wanted: str) -> bool:
        return all(s == wanted for s in (await self.statuses()).values())

    async def wait_served(self, timeout: float, what: str = 'all orders served') -> None:
        """Wait until every order is served; on timeout say where the others stopped."""
        try:
            await wait_for(lambda: self.all_in('served'), timeout, 0.2, what)
        except TimeoutError as e:
            left = {o: s for o, s in (await self.statuses()).items() if s != 'served'}
            trips = {o: await self.r.hget(keys.order(o), 'trip_id') for o in left}
            report = await fleet_report(self.r, self.cfg)
            raise AssertionError(f'{e}: {left}; trips {trips}; {report}') from e


async def nothing_pending(r: Redis, cfg: RestaurantConfig) -> dict[str, int]:
    """Pending entry counts of every consumer-group stream (empty when all are acked)."""
    out = {}
    groups = [(keys.cook_stream(s.id), keys.DISPATCH_GROUP) for s in cfg.stations]
    groups += [(keys.DELIVERIES, keys.DISPATCH_GROUP), (keys.CONTROL, keys.CONTROL_GROUP)]
    for stream, group in groups:
        if await r.exists(stream):
            pending = (await r.xpending(stream, group))['pending']
            if pending:
                out[stream] = pending
    return out
