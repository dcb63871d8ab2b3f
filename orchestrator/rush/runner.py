"""`robodine rush`: a whole accelerated service against the real restaurant, and its report.

Brings the restaurant up exactly as `robodine up` does (Redis, API + dispatcher, one process
per robot; with `--driver diffdrive` also the headless floor plant, with `sim` the floor
monitor: either reports collisions) at time scale `--speed`,
plays the scenario's diners against the HTTP API on the same time scale, then reads the report
back from Redis, writes it as JSON and prints a summary. A progress bar of simulated time goes
to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from orchestrator.archive import service as archive_service
from orchestrator.bringup import ros_env, start_restaurant, wait_ready
from orchestrator.config import ConfigError, RestaurantConfig, load_restaurant
from orchestrator.dispatch.scheduling import POLICIES
from orchestrator.rush import fleet_size
from orchestrator.rush.diners import Diners, SimClock, plan_parties
from orchestrator.rush.report import build_report, summary
from orchestrator.rush.scenario import Scenario, load_scenario
from orchestrator.rush.twin import compare, table
from orchestrator.settings import Settings, get_settings
from orchestrator.store import connection, trips
from table_qr.tokens import sign

# Simulated seconds seated parties get after the last arrival to be served.
DRAIN_S = 45 * 60
# Simulated seconds the serving robots get afterwards to finish their trips.
TRIPS_BACK_S = 10 * 60
MAX_SPEED = 1000.0
# Above this time scale the diffdrive driver is no longer reliable on a loaded 2-core machine.
DIFFDRIVE_SPEED = 10.0
# Who reports collisions for each driver `robodine up` runs (orchestrator/bringup.py).
COLLISION_SOURCES = {'diffdrive': 'floor plant', 'sim': 'floor monitor'}


class FloorListener:
    """Collects the collision reports of the floor plant (`diffdrive`) or the floor monitor
    (`sim`) (transient-local, so none are missed; `source` names which) and the traffic
    controller's latest figures (none: traffic control is off)."""

    def __init__(self, source: str = 'floor plant') -> None:
        self.source = source
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from std_msgs.msg import String

        from robot_nodes.floor_plant import COLLISIONS_TOPIC
        from robot_nodes.ros_network import latched
        from robot_nodes.traffic_controller import STATS_TOPIC

        # The restaurant's robots run in the DDS domain bringup chose for this process.
        env = ros_env()
        for name in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE'):
            os.environ[name] = env[name]
        self.events: list[dict[str, Any]] = []
        self.traffic: dict[str, Any] | None = None
        self._ctx = Context()
        rclpy.init(context=self._ctx)
        self._node = Node('rush_collisions', context=self._ctx)
        self._node.create_subscription(String, COLLISIONS_TOPIC, self._on_collision, latched())
        self._node.create_subscription(String, STATS_TOPIC, self._on_traffic, latched())
        self._executor = SingleThreadedExecutor(context=self._ctx)
        self._executor.add_node(self._node)
        self._thread = threading.Thread(target=self._spin, name='collisions', daemon=True)
        self._thread.start()

    def _on_collision(self, msg: Any) -> None:
        self.events.append(json.loads(msg.data))

    def _on_traffic(self, msg: Any) -> None:
        self.traffic = json.loads(msg.data)

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        try:
            while self._ctx.ok():
                self._executor.spin_once(timeout_sec=0.1)
        except ExternalShutdownException:
            pass  # stop() shut the context down

    def result(self) -> dict[str, Any]:
        return {'count': len(self.events), 'source': self.source, 'events': list(self.events)}

    def stop(self) -> None:
        self._ctx.shutdown()
        self._thread.join(timeout=5)
        self._executor.shutdown()
        self._node.destroy_node()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


async def play(
    cfg: RestaurantConfig,
    scenario: Scenario,
    speed: float,
    base_url: str,
    redis_url: str,
    floor: FloorListener,
) -> dict[str, Any]:
    """Run the diners against the restaurant at `base_url`, then build the report."""
    table_keys = get_settings().table_keys
    tokens = {t.id: sign(table_keys, cfg.restaurant.id, t.id) for t in cfg.tables}
    parties = plan_parties(scenario, cfg)
    clock = SimClock(speed)
    started = time.monotonic()
    limits = httpx.Limits(max_connections=len(cfg.tables) * 4)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        diners = Diners(cfg, scenario, clock, client, tokens, parties)
        await diners.run(DRAIN_S)
    r = connection.connect(get_settings(), redis_url)
    try:
        await _trips_finished(r, TRIPS_BACK_S / speed)
        await asyncio.sleep(1.5)  # collision reports and the traffic figures still in flight
        return await build_report(
            r,
            cfg,
            scenario,
            clock,
            parties,
            diners.lags,
            floor.result(),
            floor.traffic,
            time.monotonic() - started,
        )
    finally:
        await r.aclose()


async def _trips_finished(r: Redis, timeout_wall_s: float) -> None:
    """Until every serving trip is over (its robot back on the dock), so trip times, busy
    time and distances in the report are complete."""
    deadline = time.monotonic() + timeout_wall_s
    while time.monotonic() < deadline:
        if await trips.active_count(r) == 0:
            return
        await asyncio.sleep(0.1)


def _write_rows(path: Path | None, rows: Sequence[Any], fleets: Sequence[str] = ()) -> None:
    """The model's rows (dataclasses) as a JSON list at `path`, if one is given; each named
    by its fleet, if given."""
    if path is not None:
        named = [{'fleet': f} for f in fleets] or [{} for _ in rows]
        out = [n | asdict(r) for n, r in zip(named, rows, strict=True)]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2) + '\n')
        print(f'report: {path}')


def model_command(args: argparse.Namespace, cfg: RestaurantConfig, scenario: Scenario) -> int:
    """`robodine rush --model`: the policy (or every policy) against `fifo` in the twin."""
    if args.seeds < 1:
        print(f'error: --seeds must be at least 1, got {args.seeds}', file=sys.stderr)
        return 1
    reduced, gone = _robots_down(args, cfg)
    if args.serving_robots is not None:
        return fleet_size_command(args, reduced, scenario)
    if gone:
        return what_if_command(args, cfg, reduced, gone, scenario)
    policies = list(dict.fromkeys(['fifo', args.policy])) if args.policy else list(POLICIES)
    rows = compare(cfg, scenario, policies, range(1, args.seeds + 1))
    print(table(rows))
    _write_rows(args.report, rows)
    return 0


def fleet_size_command(args: argparse.Namespace, cfg: RestaurantConfig, scenario: Scenario) -> int:
    """`robodine rush --model --serving-robots SIZES`: how many serving robots carry it."""
    sizes = _sizes(args)
    within = fleet_size.WITHIN if args.within is None else args.within / 100
    if not 0 <= within <= 1:
        print(f'error: --within must be from 0 to 100 (%), got {args.within:g}', file=sys.stderr)
        return 1
    sizes = sorted({*sizes, fleet_size.largest(cfg)})
    policy = args.policy or cfg.service.policy
    seeds = range(1, args.seeds + 1)
    rows = fleet_size.sweep(cfg, scenario, sizes, seeds, policy, str(args.config))
    print(fleet_size.table(rows))
    print(fleet_size.verdict(rows, scenario.name, within))
    _write_rows(args.report, rows)
    return 0


def what_if_command(
    args: argparse.Namespace,
    cfg: RestaurantConfig,
    reduced: RestaurantConfig,
    gone: list[str],
    scenario: Scenario,
) -> int:
    """`robodine rush --model --without ROBOTS`: the service with and without them."""
    policy = args.policy or cfg.service.policy
    seeds = range(1, args.seeds + 1)
    full, less = (fleet_size.measure(c, scenario, seeds, policy) for c in (cfg, reduced))
    fleets = ['all robots', f'without {", ".join(gone)}']
    print(fleet_size.table([full, less], fleets))
    print(fleet_size.what_if(full, less, gone, scenario.name))
    _write_rows(args.report, [full, less], fleets)
    return 0


def _sizes(args: argparse.Namespace) -> list[int]:
    """The fleet sizes `--serving-robots` names."""
    try:
        return fleet_size.parse_sizes(args.serving_robots)
    except ValueError as e:
        raise ConfigError(f'--serving-robots: {e}') from None


def _robots_down(
    args: argparse.Namespace, cfg: RestaurantConfig
) -> tuple[RestaurantConfig, list[str]]:
    """The config without the robots `--without` names, and their ids (none: as it is)."""
    if args.without is None:
        return cfg, []
    try:
        gone = fleet_size.parse_ids(args.without)
    except ValueError as e:
        raise ConfigError(f'--without: {e}') from None
    return fleet_size.without(cfg, gone, str(args.config)), gone


def _check_report_path(path: Path | None) -> None:
    """Refuse a `--report` that cannot be written before the run, not after it: a real rush
    written to a directory lost its two minutes, and its summary, to a traceback."""
    if path is None:
        return
    if path.is_dir():
        raise ConfigError(f'--report {path}: a directory; give a file, e.g. {path / "rush.json"}')
    if blocker := next((p for p in path.parents if p.exists() and not p.is_dir()), None):
        raise ConfigError(f'--report {path}: {blocker} is a file, not a directory')
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f'--report {path}: cannot make its directory: {e.strerror}') from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f'--report {path}: not writable')


def rush_command(args: argparse.Namespace) -> int:
    if args.within is not None and args.serving_robots is None:
        print('error: --within goes with --serving-robots', file=sys.stderr)
        return 1
    _check_report_path(args.report)
    cfg = load_restaurant(args.config)
    scenario = load_scenario(args.scenario, cfg)
    if args.model:
        return model_command(args, cfg, scenario)
    config_path = args.config.resolve()
    cfg, gone = _robots_down(args, cfg)
    if args.serving_robots is not None:
        sizes = _sizes(args)
        if len(sizes) > 1 or args.within is not None:
            print(
                'error: a real rush plays one fleet size (--serving-robots N, no --within); '
                'compare several with --model',
                file=sys.stderr,
            )
            return 1
        cfg = fleet_size.with_serving_robots(cfg, sizes[0], str(args.config))
    if args.report is None:
        print('error: --report is required (where to write the JSON report)', file=sys.stderr)
        return 1
    if not 0 < args.speed <= MAX_SPEED:
        print(f'error: --speed must be in (0, {MAX_SPEED:g}], got {args.speed:g}', file=sys.stderr)
        return 1
    if args.driver == 'diffdrive' and args.speed > DIFFDRIVE_SPEED:
        print(
            f'warning: closed-loop driving above {DIFFDRIVE_SPEED:g}x overshoots on a busy '
            'machine (README "Simulation"); the sim driver has no such limit',
            file=sys.stderr,
        )
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix='robodine-rush-'))
    if (data_dir / 'redis').exists():
        print(f'error: {data_dir} holds an earlier run; give an empty --data-dir', file=sys.stderr)
        return 1
    if args.serving_robots is not None or gone:
        # Every process of the rush reads the config from its file: this fleet's, with the data.
        data_dir.mkdir(parents=True, exist_ok=True)
        config_path = fleet_size.write_config(cfg, data_dir / 'restaurant.yaml')
    port = _free_port()
    base_url = f'http://127.0.0.1:{port}'
    print(
        f'rush "{scenario.name}" at {args.speed:g}x ({args.driver} driver); restaurant data '
        f'and logs in {data_dir}',
        file=sys.stderr,
        flush=True,
    )
    policy = args.policy or cfg.service.policy
    rest, redis_url = start_restaurant(
        cfg,
        config_path,
        data_dir,
        port,
        time_scale=args.speed,
        driver=args.driver,
        policy=policy,
        traffic=args.traffic,
        demo_history=False,
    )
    floor = None
    try:
        wait_ready(rest, cfg, base_url, redis_url)
        floor = FloorListener(COLLISION_SOURCES[args.driver])
        report = asyncio.run(play(cfg, scenario, args.speed, base_url, redis_url, floor))
        # The archiver looks only now and then: the service's last tables go in too, so that
        # `robodine report` on this data directory tells the whole rush.
        done = archive_service.copy_once(Settings(data_dir=data_dir), cfg, redis_url)
        print(f'archive: {asyncio.run(done)}', file=sys.stderr)
    except (RuntimeError, TimeoutError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    finally:
        if floor is not None:
            floor.stop()
        rest.stop()
    report['policy'] = policy
    report['data_dir'] = str(data_dir)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2, ensure_ascii=False) + '\n')
    print(summary(report))
    print(f'report: {args.report}')
    return 0
