"""Dispatch latency: from an order's 201 to its Cook goal accepted by a robot node, and to the
diner's first SSE event from the kitchen, beside the raw ROS 2 action round trip.

Starts its own redis-server, `robodine serve`, one `robodine dispatcher` and the five cooking
robots of the demo (as processes, capacity raised to 16 and a fast time scale so that the
kitchen never queues: what is measured is dispatching, not cooking). Orders of one dish are
posted at `--rate` per second; each diner opens the order's SSE stream right after the 201 and
waits for `dish.cooking`. The robot's acceptance time comes from its own ledger (`accepted_at`,
written when the goal is admitted). In the same run, a bare action server process and a client
in this process measure the raw goal round trip (send -> accepted) of the same Cook action.

Prints p50/p99 of each and the ratio dispatch p99 / raw p99 (target <= 3);
`--json` prints one JSON object instead.

    .venv/bin/python bench/dispatch.py [--orders 500] [--rate 20] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.support import accepted_times, unlimited  # noqa: E402
from orchestrator.bringup import robot_command, ros_env  # noqa: E402
from orchestrator.config import load_restaurant  # noqa: E402
from orchestrator.redis_server import RedisServer, free_port  # noqa: E402
from orchestrator.settings import DEFAULT_CONFIG, Settings  # noqa: E402
from robot_nodes import auth  # noqa: E402
from table_qr.tokens import sign  # noqa: E402

TIME_SCALE = 1000.0
RAW_ACTION = '/bench/cook'
# One dish per order, spread over the stations.
DISHES = ['kungpao', 'bulgogi', 'fries', 'ramyeon', 'iced-tea', 'mochi']


def bench_config(out: Path) -> Path:
    """The demo restaurant with every cooking robot at the maximum capacity, without the
    per-table order limits (500 orders from 16 tables) and with stock that never runs out."""
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding='utf-8'))
    for robot in raw['cooking_robots']:
        robot['capacity'] = 16
    unlimited(raw)
    path = out / 'restaurant.yaml'
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding='utf-8')
    load_restaurant(path)
    return path


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {
        'n': len(ms),
        'p50_ms': round(pct(ms, 0.5), 2),
        'p99_ms': round(pct(ms, 0.99), 2),
        'mean_ms': round(statistics.fmean(ms), 2),
    }


# -- the raw action round trip ------------------------------------------------------------------


def raw_server() -> None:
    """`--raw-server`: a bare Cook action server that accepts and succeeds at once."""
    import rclpy
    from rclpy.action import ActionServer
    from rclpy.node import Node
    from restaurant_interfaces.action import Cook

    def execute(handle: Any) -> Any:
        handle.succeed()
        return Cook.Result(outcome=Cook.Result.OUTCOME_COOKED)

    rclpy.init()
    node = Node('bench_raw_server')
    ActionServer(node, Cook, RAW_ACTION, execute_callback=execute)
    print('ready', flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        rclpy.spin(node)


def raw_round_trips(n: int, env: dict[str, str]) -> list[float]:
    """Send `n` goals one after another to a bare server in another process: send -> accepted."""
    import rclpy
    from rclpy.action import ActionClient
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from restaurant_interfaces.action import Cook

    server = subprocess.Popen(
        [sys.executable, __file__, '--raw-server'],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == b'ready'
        ctx = Context()
        rclpy.init(context=ctx)
        node = Node('bench_raw_client', context=ctx)
        executor = SingleThreadedExecutor(context=ctx)
        executor.add_node(node)
        stop = threading.Event()

        def spin() -> None:
            # Stopped by the flag, not by shutting the executor down under a running spin.
            while not stop.is_set():
                executor.spin_once(timeout_sec=0.05)

        thread = threading.Thread(target=spin, daemon=True)
        thread.start()
        client = ActionClient(node, Cook, RAW_ACTION)
        if not client.wait_for_server(timeout_sec=30):
            raise RuntimeError('raw action server not found')
        out = []
        for i in range(n + 20):
            done = threading.Event()
            t0 = time.perf_counter()
            future = client.send_goal_async(Cook.Goal(job_id=f'raw-{i}', quantity=1))
            future.add_done_callback(lambda _f, done=done: done.set())
            if not done.wait(10):
                raise RuntimeError('raw goal not answered')
            if i >= 20:  # warm-up
                out.append(time.perf_counter() - t0)
            time.sleep(0.002)
        stop.set()
        thread.join()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
        return out
    finally:
        server.terminate()
        server.wait()


# -- the dispatch path ---------------------------------------------------------------------------


async def first_kitchen_event(client: httpx.AsyncClient, token: str, order_id: str) -> float:
    """Wall time at which the order's SSE stream delivers `dish.cooking`."""
    url = f'/api/tables/{token}/orders/{order_id}/events'
    async with client.stream('GET', url, timeout=httpx.Timeout(10, read=60)) as res:
        async for line in res.aiter_lines():
            if line.startswith('data: ') and '"dish.cooking"' in line:
                return time.time()
    raise RuntimeError(f'{order_id}: stream ended without dish.cooking')


async def drive(
    base_url: str, tables: list[str], settings: Settings, restaurant_id: str, n: int, rate: float
) -> tuple[dict[str, float], list[float]]:
    """Post `n` orders at `rate`/s; returns {job_id: wall time of its 201} and the 201 -> first
    SSE event latencies."""
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    posted: dict[str, float] = {}
    to_sse: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:

        async def one(i: int) -> None:
            table = tables[i % len(tables)]
            token = sign(settings.table_keys, restaurant_id, table)
            body = {'items': [{'dish_id': DISHES[i % len(DISHES)], 'quantity': 1}]}
            res = await client.post(
                f'/api/tables/{token}/orders',
                json=body,
                headers={'Idempotency-Key': secrets.token_hex(16)},
            )
            t201 = time.time()
            res.raise_for_status()
            order_id = res.json()['id']
            posted[f'{order_id}-00-00'] = t201
            to_sse.append(await first_kitchen_event(client, token, order_id) - t201)

        tasks = []
        start = time.perf_counter()
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return posted, to_sse


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError('the API exited')
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


def wait_robots(redis_url: str, robots: list[str], timeout: float = 60) -> None:
    import redis

    from orchestrator import redis_keys as keys

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    deadline = time.monotonic() + timeout
    while any(client.hget(keys.robot(r), 'mode') not in ('idle', 'busy') for r in robots):
        if time.monotonic() > deadline:
            raise TimeoutError('robots not heard by the dispatcher')
        time.sleep(0.1)
    client.close()


def run(n: int, rate: float) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix='robodine-bench-dispatch-'))
    config = bench_config(tmp)
    cfg = load_restaurant(config)
    env = ros_env()
    env['ROS_DOMAIN_ID'] = env.get('ROS_DOMAIN_ID', '') or str(100 + os.getpid() % 100)
    os.environ['ROS_DOMAIN_ID'] = env['ROS_DOMAIN_ID']
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env['ROBODINE_ROBOT_KEY_DIR'] = str(tmp / 'keys')
    # The dispatcher holds every robot's key; only the cooking robots run here.
    robot_ids = [c.id for c in cfg.cooking_robots] + [s.id for s in cfg.serving_robots]
    auth.create_keys(tmp / 'keys', robot_ids)
    redis_server = RedisServer(tmp / 'redis').start()
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []
    logs = tmp / 'logs'
    logs.mkdir()

    def spawn(name: str, argv: list[str], extra: dict[str, str] | None = None) -> None:
        with (logs / f'{name}.log').open('wb') as out:
            procs.append(
                subprocess.Popen(
                    argv, env={**env, **(extra or {})}, stdout=out, stderr=subprocess.STDOUT
                )
            )

    robots = [c.id for c in cfg.cooking_robots]
    try:
        raw = raw_round_trips(n, env)
        spawn(
            'api',
            [
                sys.executable,
                '-m',
                'orchestrator.cli',
                'serve',
                '--demo',
                '--config',
                str(config),
                '--redis-url',
                redis_server.url,
                '--port',
                str(port),
            ],
        )
        spawn(
            'dispatcher',
            [
                sys.executable,
                '-m',
                'orchestrator.cli',
                'dispatcher',
                '--config',
                str(config),
                '--redis-url',
                redis_server.url,
                '--time-scale',
                str(TIME_SCALE),
            ],
        )
        for robot_id in robots:
            spawn(
                robot_id,
                robot_command(
                    'cooking', robot_id, config, TIME_SCALE, 'sim', tmp / 'ledger', tmp / 'keys'
                ),
            )
        base = f'http://127.0.0.1:{port}'
        wait_http(f'{base}/readyz', procs[0])
        wait_robots(redis_server.url, robots)
        posted, to_sse = asyncio.run(
            drive(base, [t.id for t in cfg.tables], Settings(), cfg.restaurant.id, n, rate)
        )
        accepted = accepted_times(tmp / 'ledger', robots)
        to_goal = [accepted[j] - t for j, t in posted.items() if j in accepted]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        redis_server.stop()
    raw_s, goal_s, sse_s = summary(raw), summary(to_goal), summary(to_sse)
    return {
        'orders': n,
        'rate_per_s': rate,
        'raw_action_round_trip': raw_s,
        'order_201_to_goal_accepted': goal_s,
        'order_201_to_first_sse_event': sse_s,
        'ratio_p99_goal_vs_raw': round(goal_s['p99_ms'] / raw_s['p99_ms'], 2),
        'ratio_p99_sse_vs_raw': round(sse_s['p99_ms'] / raw_s['p99_ms'], 2),
        'logs': str(logs),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--orders', type=int, default=500)
    p.add_argument('--rate', type=float, default=20.0, help='orders per second')
    p.add_argument('--json', action='store_true')
    p.add_argument('--raw-server', action='store_true', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.raw_server:
        raw_server()
        return 0
    out = run(args.orders, args.rate)
    if args.json:
        print(json.dumps(out))
        return 0
    print(f'{out["orders"]} orders at {out["rate_per_s"]:g}/s')
    for key in (
        'raw_action_round_trip',
        'order_201_to_goal_accepted',
        'order_201_to_first_sse_event',
    ):
        s = out[key]
        print(f'  {key:<32} p50 {s["p50_ms"]:8.2f} ms   p99 {s["p99_ms"]:8.2f} ms   (n={s["n"]})')
    print(
        f'  p99 ratio goal/raw {out["ratio_p99_goal_vs_raw"]:.2f}x, '
        f'first SSE/raw {out["ratio_p99_sse_vs_raw"]:.2f}x (target <= 3x)'
    )
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
