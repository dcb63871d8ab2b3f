"""Scale: a flagship restaurant (200 tables, 30 robots) taking 10,000 orders at an accelerated
clock, on several API and dispatcher processes.

Starts its own redis-server (AOF, appendfsync always), the API and dispatcher processes that
`robodine up --api-workers N --dispatchers M` starts (`bringup.orchestrator_processes`), and the
robots of `seeds/flagship.yaml` (20 cooking, 10 serving) hosted several to a process, one ROS 2
node per robot. Diners post `--orders` orders at `--rate` per second from the 200 tables (1-2
dishes each, new Idempotency-Key each) and confirm each pickup when the robot arrives (they
follow the feed). The bench runs the flagship without its per-table limits and with stock that
never runs out, the robots' pickup wait long enough for the diners.

Prints orders/s (accepted and served end to end), the orchestrator's CPU time per order (API
and dispatcher processes together, every stage from intake to served) and Redis's, each
process's peak and sampled memory (RSS at each fifth of the orders: flat once steady), and
201 -> Cook goal accepted by the robot (its ledger's `accepted_at`) p50/p99; `--json` prints one
JSON object with `cpu_ms_per_order`, `redis_cpu_ms_per_order`, `orders`, `served`,
`dispatch_p99_ms` and the rest. Target: <= 2 ms of orchestrator CPU per order.

    .venv/bin/python bench/scale.py [--orders 10000] [--rate 40] [--time-scale 1000]
        [--api-workers 2] [--dispatchers 2] [--robot-processes 2] [--json]
    .venv/bin/python bench/scale.py --write-config seeds/flagship.yaml
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.support import accepted_times, cpu_seconds, memory_mb, unlimited  # noqa: E402
from orchestrator.bringup import orchestrator_processes, robot_command, ros_env  # noqa: E402
from orchestrator.config import RestaurantConfig, load_restaurant  # noqa: E402
from orchestrator.redis_server import RedisServer, free_port  # noqa: E402
from orchestrator.settings import DEFAULT_CONFIG, Settings  # noqa: E402
from orchestrator.store import connection, feed, orders  # noqa: E402
from orchestrator.tasks import cancel_requested  # noqa: E402
from robot_nodes import auth  # noqa: E402
from table_qr.tokens import sign  # noqa: E402

FLAGSHIP = REPO / 'seeds' / 'flagship.yaml'
# The flagship's floor: COLUMNS x ROWS tables, DX / DY apart, aisles down each column from a
# corridor along the kitchen; cooking robots behind the kitchen wall.
COLUMNS, ROWS, DX, DY = 20, 10, 4.0, 2.5
# Between two docks (and two chargers) on the chain down the left margin (m).
DOCK_DY = 1.5
# Cooking robots: (name, stations) of each group, 4 robots each (20 in all); serving robots.
KITCHEN = [
    ('wok', ['wok']),
    ('wokfry', ['wok', 'fryer']),
    ('grill', ['grill', 'fryer']),
    ('noodle', ['noodle']),
    ('bar', ['drinks', 'dessert']),
]
COOKS_PER_GROUP, SERVERS = 4, 10
MEMORY_SAMPLES = 5
IDLE_S = 5.0


# -- the flagship restaurant -------------------------------------------------------------------


def flagship(demo: dict[str, Any]) -> dict[str, Any]:
    """The demo's menu, stations and stock on a floor of 200 tables with 30 robots."""
    raw = dict(demo)
    # Robots drive on their own (the bench starts no traffic controller; the demo's is on).
    raw['service'] = {**demo['service'], 'traffic_control': False}
    raw['restaurant'] = {
        **demo['restaurant'],
        'id': 'flagship',
        'name': {'ko': '로보다인 플래그십', 'en': 'Robodine Flagship', 'zh': '机器人餐厅旗舰店'},
    }
    top = 2.0 + (ROWS - 1) * DY  # the row of tables nearest the kitchen
    corridor = top + 1.5
    kitchen_wall = corridor + 1.8
    width, depth = 4.0 + COLUMNS * DX, kitchen_wall + 1.2
    tables: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    aisles: list[dict[str, Any]] = []
    for c in range(COLUMNS):
        x = 4.5 + c * DX
        junction = f'c{c:02d}'
        points.append({'id': junction, 'x': x + 1.0, 'y': corridor, 'kind': 'junction'})
        if c:
            aisles.append({'a': f'c{c - 1:02d}', 'b': junction, 'width_m': 1.5})
        above = junction
        for r in range(ROWS):
            n = c * ROWS + r + 1
            table = f't{n:03d}'
            y = top - r * DY
            place = {'x': x, 'y': y, 'waypoint': f'stop-{table}'}
            tables.append({'id': table, 'name': f'Table {n}', 'seats': 4, **place})
            points.append({'id': f'stop-{table}', 'x': x + 1.0, 'y': y, 'kind': 'table'})
            aisles.append({'a': above, 'b': f'stop-{table}', 'width_m': 0.9})
            above = f'stop-{table}'
    middle = f'c{COLUMNS // 2:02d}'
    pass_x = 4.5 + (COLUMNS // 2) * DX + 1.0
    points.append({'id': 'pass', 'x': pass_x, 'y': kitchen_wall - 0.6, 'kind': 'pass'})
    aisles.append({'a': 'pass', 'b': middle, 'width_m': 1.5})
    servers = []
    # Docks and chargers in the left margin, each at the end of its own short aisle off a
    # chain of junctions running down from the corridor: a robot parked there is out of every
    # other robot's way (robot_nodes/parking.py).
    chain = 'k00'
    points.append({'id': chain, 'x': 2.0, 'y': corridor, 'kind': 'junction'})
    aisles.append({'a': 'c00', 'b': chain, 'width_m': 1.5})
    for i in range(SERVERS):
        junction, y = f'k{i + 1:02d}', corridor - (i + 1) * DOCK_DY
        dock, charger = f'dock{i + 1}', f'chg{i + 1}'
        points.append({'id': junction, 'x': 2.0, 'y': y, 'kind': 'junction'})
        points.append({'id': dock, 'x': 0.7, 'y': y, 'kind': 'dock'})
        points.append({'id': charger, 'x': 3.3, 'y': y, 'kind': 'charger'})
        aisles.append({'a': chain, 'b': junction, 'width_m': 1.2})
        aisles.append({'a': dock, 'b': junction, 'width_m': 1.2})
        aisles.append({'a': charger, 'b': junction, 'width_m': 1.2})
        chain = junction
        motion = {'speed_mps': 1.0, 'max_accel_mps2': 0.5, 'radius_m': 0.27}
        place = {'dock': dock, 'charger': charger}
        servers.append({'id': f'serve{i + 1}', 'trays': 4, **motion, **place})
    cooks = []
    for g, (name, stations) in enumerate(KITCHEN):
        for k in range(COOKS_PER_GROUP):
            n = g * COOKS_PER_GROUP + k
            x = 2.0 + n * (width - 4.0) / (len(KITCHEN) * COOKS_PER_GROUP)
            robot = {'id': f'{name}{k + 1}', 'stations': stations, 'capacity': 3}
            cooks.append({**robot, 'x': x, 'y': kitchen_wall + 0.6})
    raw['cooking_robots'], raw['serving_robots'], raw['tables'] = cooks, servers, tables
    raw['floor'] = {
        **demo['floor'],
        'width_m': width,
        'depth_m': depth,
        'waypoints': points,
        'aisles': aisles,
        'walls': [
            {'x1': 0, 'y1': 0, 'x2': width, 'y2': 0},
            {'x1': width, 'y1': 0, 'x2': width, 'y2': depth},
            {'x1': width, 'y1': depth, 'x2': 0, 'y2': depth},
            {'x1': 0, 'y1': depth, 'x2': 0, 'y2': 0},
            {'x1': 0, 'y1': kitchen_wall, 'x2': width, 'y2': kitchen_wall},
        ],
    }
    return raw


def write_flagship(path: Path) -> None:
    demo = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding='utf-8'))
    head = (
        '# The flagship: 200 tables, the demo menu, 20 cooking and 10 serving robots.\n'
        '# Generated by `bench/scale.py --write-config seeds/flagship.yaml`: edit that.\n'
    )
    body = yaml.safe_dump(
        flagship(demo), allow_unicode=True, sort_keys=False, width=99, default_flow_style=None
    )
    path.write_text(head + body, encoding='utf-8')
    load_restaurant(path)  # it must be a valid restaurant


def bench_config(out: Path, robot_wait_s: float) -> Path:
    """The flagship without per-table limits (the diners order far faster than one table may),
    with stock that never runs out and serving robots that wait `robot_wait_s` (simulated) for
    a pickup; its robots at their largest (16 slots, 8 trays at 2 m/s) and batteries that do not
    run down, so that what is measured is the orchestrator and not a kitchen too small for the
    rate."""
    raw = yaml.safe_load(FLAGSHIP.read_text(encoding='utf-8'))
    for robot in raw['cooking_robots']:
        robot['capacity'] = 16
    for robot in raw['serving_robots']:
        robot.update(trays=8, speed_mps=2.0)
    raw['battery'].update(drain_per_km=0, drain_per_h=0)
    raw['service'].update(
        pickup_timeout_s=robot_wait_s,
        # Thirty robots' heartbeats share two processes on a busy machine.
        robot_lost_after_s=30,
    )
    unlimited(raw)
    path = out / 'flagship.yaml'
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding='utf-8')
    return path


# -- robots, several nodes per process ---------------------------------------------------------


def host_robots(spec: str) -> int:
    """Run the robots of `spec` (JSON [[kind, node arguments], ...]) in this process, one node
    each, on one executor, until SIGINT / SIGTERM."""
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    from robot_nodes.cooking_robot import CookingRobot
    from robot_nodes.serving_robot import ServingRobot

    rclpy.init()
    kinds = {'cooking': CookingRobot, 'serving': ServingRobot}
    nodes = [kinds[kind](cli_args) for kind, cli_args in json.loads(spec)]
    executor = SingleThreadedExecutor()
    for node in nodes:
        executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RuntimeError:
        if rclpy.ok():  # SIGTERM's shutdown may surface as an invalid wait set: that is all
            raise
    finally:
        for node in nodes:
            node.close()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


# -- measuring ----------------------------------------------------------------------------------


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


class Diners:
    """The diners of every table: they order, and confirm each pickup when the robot arrives."""

    def __init__(self, client: httpx.AsyncClient, cfg: RestaurantConfig, seed: int) -> None:
        self.client = client
        keys = Settings().table_keys
        self.tokens = {t.id: sign(keys, cfg.restaurant.id, t.id) for t in cfg.tables}
        self.tables = [t.id for t in cfg.tables]
        self.dishes = [d.id for d in cfg.dishes]
        self.rnd = random.Random(seed)
        self.table_of: dict[str, str] = {}
        self.posted_at: dict[str, float] = {}  # order id -> wall time of its 201
        self.refused: list[str] = []
        self.served: set[str] = set()

    async def order(self, i: int) -> None:
        table = self.tables[i % len(self.tables)]
        picked = self.rnd.sample(self.dishes, self.rnd.randint(1, 2))
        body = {'items': [{'dish_id': d, 'quantity': 1} for d in picked]}
        key = secrets.token_hex(16)
        why = ''
        for attempt in range(5):
            if attempt:
                await asyncio.sleep(0.2 * attempt)
            try:
                res = await self.client.post(
                    f'/api/tables/{self.tokens[table]}/orders',
                    json=body,
                    headers={'Idempotency-Key': key},
                )
            except httpx.TransportError as e:  # a keep-alive connection closed under us: again
                why = repr(e)
                continue
            if res.status_code == 201:
                order_id = res.json()['id']
                self.posted_at[order_id] = time.time()
                self.table_of[order_id] = table
                return
            why = f'{res.status_code} {res.text[:200]}'
            if res.status_code != 503:
                break
        self.refused.append(why)

    async def follow(self, r: Any) -> None:
        """Until cancelled, from the feed: confirm the pickup of every order that arrived at
        its table, and count the orders served (a cancellation redis-py swallowed ends it too,
        `orchestrator.tasks`)."""
        after = await feed.last_id(r)
        confirming = set()
        while not cancel_requested():
            for entry_id, fields in await feed.read(r, after, 1000, 500):
                after = entry_id
                event = feed.parse(fields)
                if event.order_id not in self.table_of:
                    continue
                if event.type == 'delivery.arrived':
                    task = asyncio.create_task(self._confirm(event.order_id))
                    confirming.add(task)
                    task.add_done_callback(confirming.discard)
                elif event.status == orders.SERVED:
                    self.served.add(event.order_id)

    async def _confirm(self, order_id: str) -> None:
        token = self.tokens[self.table_of[order_id]]
        for _ in range(5):
            with contextlib.suppress(httpx.TransportError):  # that API process went: again
                res = await self.client.post(f'/api/tables/{token}/orders/{order_id}/pickup')
                if res.status_code == 202:
                    return
            await asyncio.sleep(0.2)


async def order_statuses(r: Any, order_ids: list[str]) -> dict[str, int]:
    """How many of the orders are in each status, by their records in Redis."""
    found = Counter(o.status for o in await orders.get_many(r, order_ids))
    missing = len(order_ids) - found.total()
    return {**found, 'missing': missing} if missing else dict(found)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The bench in a directory of its own, removed after a run that served every order and
    kept (its path on stderr and in `kept`) after any other, or always with `--keep`."""
    tmp = Path(tempfile.mkdtemp(prefix='robodine-bench-scale-'))
    figures: dict[str, Any] = {}
    try:
        figures = bench(args, tmp)
    finally:
        served_all = figures.get('served') == args.orders and not figures.get('refused')
        if served_all and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f'its Redis, ledgers and logs are kept in {tmp}', file=sys.stderr)
            figures['kept'] = str(tmp)
    return figures


def bench(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    # The diners confirm within seconds of the robot's arrival: wait a minute of wall time.
    config = bench_config(tmp, robot_wait_s=60 * args.time_scale)
    cfg = load_restaurant(config)
    cooks = [c.id for c in cfg.cooking_robots]
    robots = cooks + [s.id for s in cfg.serving_robots]
    key_dir, ledgers, logs = tmp / 'keys', tmp / 'ledger', tmp / 'logs'
    auth.create_keys(key_dir, robots)
    logs.mkdir()
    env = ros_env()
    env['ROS_DOMAIN_ID'] = str(100 + os.getpid() % 100)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env.update(
        ROBODINE_TIME_SCALE=str(args.time_scale),
        ROBODINE_ROBOT_KEY_DIR=str(key_dir),
        ROBODINE_DATA_DIR=str(tmp),
        ROBODINE_DEMO='1',
        ROBODINE_LOG_LEVEL='WARNING',
    )
    redis_server = RedisServer(tmp / 'redis').start()
    assert redis_server.proc is not None
    port = free_port()
    procs: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(name: str, argv: list[str], child_env: dict[str, str]) -> None:
        with (logs / f'{name}.log').open('wb') as out:
            procs[name] = subprocess.Popen(
                argv, env=child_env, stdout=out, stderr=subprocess.STDOUT
            )

    try:
        for name, argv, child_env in orchestrator_processes(
            env, config, redis_server.url, '127.0.0.1', port, args.api_workers, args.dispatchers
        ):
            if args.profile:  # cProfile writes the file when the process exits (SIGTERM)
                argv[1:1] = ['-m', 'cProfile', '-o', str(args.profile / f'{name}.prof')]
            spawn(name, argv, child_env)
        orchestrator = list(procs)
        for h in range(args.robot_processes):
            spec = []
            for robot_id in robots[h :: args.robot_processes]:
                kind = 'cooking' if robot_id in cooks else 'serving'
                argv = robot_command(
                    kind, robot_id, config, args.time_scale, 'sim', ledgers, key_dir
                )
                spec.append([kind, argv[argv.index('--ros-args') :]])
            spawn(f'robots-{h + 1}', [sys.executable, __file__, '--robots', json.dumps(spec)], env)
        figures = asyncio.run(
            drive(args, cfg, f'http://127.0.0.1:{port}', redis_server, procs, orchestrator, robots)
        )
        accepted = accepted_times(ledgers, cooks)
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        redis_server.stop()
    to_goal = [
        (accepted[f'{o}-00-00'] - t) * 1000
        for o, t in figures.pop('posted_at').items()
        if f'{o}-00-00' in accepted
    ]
    figures['dispatch_p50_ms'] = round(pct(to_goal, 50), 1)
    figures['dispatch_p99_ms'] = round(pct(to_goal, 99), 1)
    return figures


async def drive(
    args: argparse.Namespace,
    cfg: RestaurantConfig,
    base: str,
    redis_server: RedisServer,
    procs: dict[str, subprocess.Popen[bytes]],
    orchestrator: list[str],
    robots: list[str],
) -> dict[str, Any]:
    r = connection.connect(Settings(), redis_server.url)
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    try:
        await ready(base, r, robots, procs)
        assert redis_server.proc is not None
        redis_pid = redis_server.proc.pid
        measured = {name: procs[name].pid for name in orchestrator}
        # What the processes cost doing nothing (loops, heartbeats), for a second of time.
        idle0 = {name: cpu_seconds(pid) for name, pid in measured.items()}
        await asyncio.sleep(IDLE_S)
        idle = {
            name: round((cpu_seconds(pid) - idle0[name]) / IDLE_S * 1000, 1)
            for name, pid in measured.items()
        }
        cpu0 = {name: cpu_seconds(pid) for name, pid in measured.items()}
        redis0 = cpu_seconds(redis_pid)
        rss: dict[str, list[float]] = {name: [] for name in procs}
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
            diners = Diners(client, cfg, seed=args.seed)
            follower = asyncio.create_task(diners.follow(r))
            start = time.perf_counter()
            placing = []
            for i in range(args.orders):
                await asyncio.sleep(max(0.0, start + i / args.rate - time.perf_counter()))
                placing.append(asyncio.create_task(diners.order(i)))
                if (i + 1) % (args.orders // MEMORY_SAMPLES) == 0:
                    for name, proc in procs.items():
                        rss[name].append(round(memory_mb(proc.pid, 'VmRSS'), 1))
            await asyncio.gather(*placing)
            accepted_s = time.perf_counter() - start
            ids = list(diners.posted_at)
            # Until all are served, the fleet stops serving (a stall: lost or stuck orders) or
            # the drain's limit: a backlog the serving robots carry slower than offered drains
            # for as long as it has to.
            deadline = time.monotonic() + args.drain_s
            progress, last = time.monotonic(), 0
            while len(diners.served) < len(ids) and time.monotonic() < deadline:
                if follower.done():
                    break  # it failed: awaited below, the bench fails with its error
                if len(diners.served) > last:
                    progress, last = time.monotonic(), len(diners.served)
                elif time.monotonic() - progress > args.stall_s:
                    break
                await asyncio.sleep(0.2)
            served_s = time.perf_counter() - start
            cpu = sum(cpu_seconds(pid) - cpu0[name] for name, pid in measured.items())
            redis_cpu = cpu_seconds(redis_pid) - redis0
            by_process = {
                name: round((cpu_seconds(pid) - cpu0[name]) / max(1, len(ids)) * 1000, 3)
                for name, pid in measured.items()
            }
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        statuses = await order_statuses(r, ids)
        served = statuses.get(orders.SERVED, 0)
        n = len(ids)
        return {
            'orders': n,
            'refused': len(diners.refused),
            'refusals': diners.refused[:5],
            'served': served,
            # Where the orders not served when the drain ended are: late or lost.
            'unserved_by_status': {k: v for k, v in statuses.items() if k != orders.SERVED},
            'api_workers': args.api_workers,
            'dispatchers': args.dispatchers,
            'time_scale': args.time_scale,
            'offered_rate_per_s': args.rate,
            'accepted_per_s': round(n / accepted_s, 1),
            'served_per_s': round(len(diners.served) / served_s, 1),
            'cpu_ms_per_order': round(cpu / n * 1000, 3),
            'redis_cpu_ms_per_order': round(redis_cpu / n * 1000, 3),
            'cpu_ms_per_order_by_process': by_process,
            'seconds': round(served_s, 1),
            'idle_cpu_ms_per_s': idle,
            # Net of what the same processes burn idle over as long: the cost of the orders.
            'cpu_ms_per_order_net_of_idle': round(
                (cpu - sum(idle.values()) / 1000 * served_s) / n * 1000, 3
            ),
            'peak_rss_mb': {
                **{name: round(memory_mb(proc.pid, 'VmHWM'), 1) for name, proc in procs.items()},
                'redis': round(memory_mb(redis_pid, 'VmHWM'), 1),
            },
            'rss_mb_at_each_fifth': rss,
            'posted_at': diners.posted_at,
        }
    finally:
        await r.aclose()


async def ready(
    base: str, r: Any, robots: list[str], procs: dict[str, subprocess.Popen[bytes]]
) -> None:
    """Until every API process serves and a dispatcher has heard every robot."""
    from orchestrator.store import robots as robot_store

    deadline = time.monotonic() + 180
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while True:
            if dead := [n for n, p in procs.items() if p.poll() is not None]:
                raise RuntimeError(f'{", ".join(dead)} exited (see the logs)')
            with contextlib.suppress(httpx.TransportError):
                heard = await robot_store.get_many(r, robots)
                api = (await client.get('/readyz')).status_code == 200
                if api and all(
                    v is not None and v.mode in ('idle', 'busy') for v in heard.values()
                ):
                    return
            if time.monotonic() > deadline:
                raise TimeoutError('the restaurant did not come up')
            await asyncio.sleep(0.5)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--orders', type=int, default=10_000)
    p.add_argument('--rate', type=float, default=40.0, help='orders posted per second')
    p.add_argument('--time-scale', type=float, default=1000.0)
    p.add_argument('--api-workers', type=int, default=2)
    p.add_argument('--dispatchers', type=int, default=2)
    p.add_argument('--robot-processes', type=int, default=2, help='processes hosting robots')
    p.add_argument('--drain-s', type=float, default=1800, help='longest wait for the last served')
    p.add_argument(
        '--stall-s', type=float, default=120, help='end the drain after this long with none served'
    )
    p.add_argument('--seed', type=int, default=14)
    p.add_argument('--json', action='store_true', help='print one JSON object')
    p.add_argument('--keep', action='store_true', help='keep its Redis, ledgers and logs')
    p.add_argument(
        '--profile', type=Path, help='run the API and dispatchers under cProfile, into DIR'
    )
    p.add_argument('--write-config', type=Path, help='write the flagship restaurant and stop')
    p.add_argument('--robots', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.robots:
        return host_robots(args.robots)
    if args.write_config:
        write_flagship(args.write_config)
        return 0
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)  # cProfile would write nothing without
    # A SIGTERM unwinds like Ctrl-C: the processes it started are stopped, its data kept.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f'{result["orders"]} orders ({result["refused"]} refused), {result["served"]} served'
        f'{f" (the others: {unserved})" if (unserved := result["unserved_by_status"]) else ""}; '
        f'{result["api_workers"]} API + {result["dispatchers"]} dispatcher processes, '
        f'time scale {result["time_scale"]:g}'
    )
    print(
        f'  orders/s: offered {result["offered_rate_per_s"]:g}, accepted '
        f'{result["accepted_per_s"]:g}, served end to end {result["served_per_s"]:g}'
    )
    print(
        f'  CPU per order: orchestrator {result["cpu_ms_per_order"]:.3f} ms '
        f'{result["cpu_ms_per_order_by_process"]} (target <= 2), '
        f'Redis {result["redis_cpu_ms_per_order"]:.3f} ms'
    )
    print(
        f'  201 -> Cook goal accepted: p50 {result["dispatch_p50_ms"]} ms, '
        f'p99 {result["dispatch_p99_ms"]} ms'
    )
    print(
        f'  net of idle: {result["cpu_ms_per_order_net_of_idle"]:.3f} ms per order; idle CPU '
        f'ms/s {result["idle_cpu_ms_per_s"]} over {result["seconds"]} s'
    )
    print(f'  peak RSS MB: {result["peak_rss_mb"]}')
    print(f'  RSS MB at each fifth of the orders: {result["rss_mb_at_each_fifth"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
