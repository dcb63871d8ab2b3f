"""Order intake throughput and latency, beside a bare FastAPI + one-XADD baseline.

Starts its own redis-server (AOF, appendfsync always unless told otherwise), then uvicorn
processes on that Redis: a bare FastAPI app whose one endpoint does a single XADD, the
orchestrator API (`create_app` without the console extension) and, with `--whole`, `robodine
serve` as deployed and, with `--replica`, the orchestrator API waiting for a replica of Redis
before each 201 (`ROBODINE_REDIS_MIN_REPLICAS=1`). They take turns, `--rounds` times in
alternating order (a shared machine's other load changes by the second), each turn the same
closed-loop load: `--clients` concurrent keep-alive connections posting `--orders` orders in
total (distinct idempotency keys, tables round-robin, two lines / two cook jobs per order).
Prints the median orders/s, p50/p99 latency and CPU time per order of the server and of Redis,
and the median over the rounds of the throughput ratio intake/baseline (target >= 0.85) with
a 95 % bootstrap interval (`bench.support.median_interval`);
`--json` prints one JSON object instead.

`--instructions` measures Redis's own work instead, in machine instructions per order of each
server (redis-server under valgrind's callgrind, apt-get install valgrind): the same on every
run, where CPU time on a shared machine varies by a third.

    .venv/bin/python bench/intake.py [--orders 3000] [--clients 64] [--rounds 3] [--whole]
        [--replica] [--instructions]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import uvicorn
import yaml
from fastapi import FastAPI, Request, Response
from redis.asyncio import Redis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.support import cpu_seconds, median_interval, unlimited  # noqa: E402
from orchestrator.api.app import NO_TELEMETRY, create_app  # noqa: E402
from orchestrator.config import load_restaurant  # noqa: E402
from orchestrator.redis_server import RedisServer, free_port  # noqa: E402
from orchestrator.settings import DEFAULT_CONFIG, Settings  # noqa: E402
from table_qr.tokens import sign  # noqa: E402

ORDER = json.dumps(
    {
        'items': [
            {'dish_id': 'kungpao', 'quantity': 1, 'options': {'spice': 'hot'}},
            {'dish_id': 'iced-tea', 'quantity': 1, 'options': {'ice': 'less'}},
        ]
    }
).encode()
WARMUP = 300


def baseline_app(redis_url: str) -> FastAPI:
    """The yardstick: FastAPI, one JSON body, one XADD, a 201 — nothing else (FastAPI's
    OpenTelemetry bridge off, as in the order API: it would cost the yardstick alone)."""
    app = FastAPI(telemetry=NO_TELEMETRY)
    r = Redis.from_url(redis_url)

    @app.post('/api/tables/{token}/orders')
    async def order(token: str, request: Request) -> Response:
        entry_id = await r.xadd('bench:baseline', {'token': token, 'body': await request.body()})
        return Response(b'{"id":"%s"}' % entry_id, status_code=201, media_type='application/json')

    return app


def unlimited_config(tmp: Path) -> Path:
    """The demo restaurant without its per-table limits: the benchmark posts hundreds of orders
    a second from 16 tables, far beyond what one table may order (429 / 422 otherwise)."""
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding='utf-8'))
    path = tmp / 'restaurant.yaml'
    path.write_text(
        yaml.safe_dump({k: v for k, v in unlimited(raw).items() if not k.startswith('x-')})
    )
    return path


def serve(kind: str, redis_url: str, port: int) -> None:
    """Run the baseline, or the orchestrator API alone (no console, no dispatcher)."""
    if kind == 'baseline':
        app = baseline_app(redis_url)
    else:
        # 'replicated': every 201 waits for the replica (WAIT 1, in the intake pipeline).
        replicas = 1 if kind == 'replicated' else 0
        app = create_app(
            Settings(redis_url=redis_url, console_enabled=False, redis_min_replicas=replicas)
        )
    uvicorn.run(app, host='127.0.0.1', port=port, log_level='warning', access_log=False)


@contextmanager
def server(cmd: list[str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, 'ROBODINE_LOG_LEVEL': 'WARNING'}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    url = f'http://127.0.0.1:{port}'
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f'{url}/healthz', timeout=1)
                break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f'server {cmd} did not start')
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=15)


async def post_loop(
    port: int,
    paths: list[bytes],
    count: int,
    start_at: int,
    latencies: list[float],
    counter: list[int],
) -> None:
    """One keep-alive HTTP/1.1 connection posting orders back to back (a minimal client, so
    the load generator costs far less CPU than the servers it measures)."""
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    try:
        while counter[0] < count:
            n = counter[0]
            counter[0] += 1
            request = (
                b'POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n'
                b'Idempotency-Key: bench-%08d-%08d\r\nContent-Length: %d\r\n\r\n%s'
                % (paths[n % len(paths)], start_at, n, len(ORDER), ORDER)
            )
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b'\r\n\r\n')
            length = next(
                int(h.split(b':')[1])
                for h in head.split(b'\r\n')
                if h.lower().startswith(b'content-length')
            )
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if not head.startswith(b'HTTP/1.1 201'):
                raise RuntimeError(f'unexpected response: {head[:40]!r}')
    finally:
        writer.close()


async def load(
    port: int, paths: list[bytes], orders: int, clients: int, start_at: int
) -> dict[str, float]:
    latencies: list[float] = []
    counter = [0]
    t0 = time.perf_counter()
    await asyncio.gather(
        *(post_loop(port, paths, orders, start_at, latencies, counter) for _ in range(clients))
    )
    elapsed = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    return {
        'orders': orders,
        'seconds': round(elapsed, 3),
        'orders_per_s': round(orders / elapsed, 1),
        'p50_ms': round(q[49] * 1000, 2),
        'p99_ms': round(q[98] * 1000, 2),
    }


def measure(
    proc: subprocess.Popen[bytes],
    redis_pid: int,
    port: int,
    paths: list[bytes],
    orders: int,
    clients: int,
    run: int,
) -> dict[str, float]:
    """Throughput and latency, plus the CPU time per order of the server and of Redis: on a
    shared machine these are the steadier figures (they do not count time spent waiting for a
    core), and on a small one the two share the cores, so Redis's work limits throughput too."""
    # Every run has its own idempotency keys: the servers share one Redis, and a reused key
    # would make the order a cheap replay.
    asyncio.run(load(port, paths, WARMUP, clients, start_at=2 * run))
    cpu, redis_cpu = cpu_seconds(proc.pid), cpu_seconds(redis_pid)
    figures = asyncio.run(load(port, paths, orders, clients, start_at=2 * run + 1))
    figures['server_cpu_us_per_order'] = round((cpu_seconds(proc.pid) - cpu) / orders * 1e6)
    figures['redis_cpu_us_per_order'] = round((cpu_seconds(redis_pid) - redis_cpu) / orders * 1e6)
    return figures


class Callgrind:
    """redis-server under valgrind's callgrind: its instructions between `zero` and `total`."""

    def __init__(self, tmp: Path) -> None:
        self.out = tmp / 'callgrind.out'
        self.dumps = 0

    def launcher(self) -> list[str]:
        if shutil.which('valgrind') is None:
            raise SystemExit('--instructions needs valgrind: apt-get install valgrind')
        return [
            'valgrind',
            '--tool=callgrind',
            f'--callgrind-out-file={self.out}',
            f'--log-file={self.out}.log',
        ]

    def _control(self, what: str, pid: int) -> None:
        subprocess.run(['callgrind_control', what, str(pid)], check=True, capture_output=True)

    def zero(self, pid: int) -> None:
        self._control('--zero', pid)

    def total(self, pid: int) -> int:
        self._control('--dump', pid)
        self.dumps += 1
        lines = Path(f'{self.out}.{self.dumps}').read_text().splitlines()
        return int(next(x.split()[1] for x in lines if x.startswith('summary:')))


def start_servers(
    stack: ExitStack, cmds: dict[str, list[str]]
) -> tuple[dict[str, int], dict[str, subprocess.Popen[bytes]]]:
    ports, procs = {}, {}
    for kind, cmd in cmds.items():
        # Taken just before it is bound: a port picked earlier may meanwhile be the local
        # port of some client connection.
        ports[kind] = port = free_port()
        procs[kind] = stack.enter_context(server([*cmd, str(port)], port))
    return ports, procs


def instructions(args: argparse.Namespace, paths: list[bytes]) -> dict[str, float]:
    """Redis's instructions per order of the baseline and of intake, one server after the
    other on one redis-server under callgrind (some 50x slower: a thousand orders will do)."""
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        os.environ['ROBODINE_CONFIG_PATH'] = str(unlimited_config(Path(tmp)))
        counter = Callgrind(Path(tmp))
        redis = RedisServer(Path(tmp), appendfsync=args.appendfsync, launcher=counter.launcher())
        redis.start(timeout=120)
        stack.callback(redis.stop)
        assert redis.proc is not None
        kinds = ('baseline', 'intake')
        cmds = {k: [sys.executable, __file__, '--serve', k, redis.url] for k in kinds}
        ports, _ = start_servers(stack, cmds)
        out = {}
        for run, kind in enumerate(kinds):
            asyncio.run(load(ports[kind], paths, WARMUP, args.clients, start_at=2 * run))
            counter.zero(redis.proc.pid)
            asyncio.run(load(ports[kind], paths, args.orders, args.clients, 2 * run + 1))
            out[kind] = counter.total(redis.proc.pid) / args.orders
        return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--orders', type=int, default=3000)
    p.add_argument('--clients', type=int, default=64)
    p.add_argument('--appendfsync', choices=['always', 'everysec'], default='always')
    p.add_argument(
        '--whole',
        action='store_true',
        help='also measure `robodine serve` as deployed (with the console and its feed reader)',
    )
    p.add_argument(
        '--replica',
        action='store_true',
        help='also measure the order API waiting for a replica of Redis before each 201',
    )
    p.add_argument('--rounds', type=int, default=3, help='turns each server takes (median)')
    p.add_argument(
        '--instructions',
        action='store_true',
        help="Redis's instructions per order instead (valgrind; try --orders 1000)",
    )
    p.add_argument('--json', action='store_true', help='print one JSON object')
    p.add_argument(
        '--serve', nargs=3, metavar=('KIND', 'REDIS_URL', 'PORT'), help=argparse.SUPPRESS
    )
    args = p.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]))
        return 0

    cfg = load_restaurant(DEFAULT_CONFIG)
    keys = Settings().table_keys
    paths = [
        f'/api/tables/{sign(keys, cfg.restaurant.id, t.id)}/orders'.encode() for t in cfg.tables
    ]
    if args.instructions:
        counted = instructions(args, paths)
        ratio = counted['intake'] / counted['baseline']
        if args.json:
            print(json.dumps({'redis_instructions_per_order': counted, 'ratio': round(ratio, 2)}))
        else:
            print(f'{args.orders} orders, Redis instructions per order (callgrind):')
            for kind, n in counted.items():
                print(f'  {kind:10} {n:12,.0f}')
            print(f'  ratio      {ratio:12.2f} intake / baseline')
        return 0
    rounds: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        # Read by every server started below (Settings.config_path).
        os.environ['ROBODINE_CONFIG_PATH'] = str(unlimited_config(Path(tmp)))
        redis = RedisServer(Path(tmp), appendfsync=args.appendfsync).start()
        stack.callback(redis.stop)
        assert redis.proc is not None
        cmds = {
            kind: [sys.executable, __file__, '--serve', kind, redis.url]
            for kind in ('baseline', 'intake')
        }
        if args.replica:
            replica = RedisServer(Path(tmp) / 'replica', replica_of=redis.port).start()
            stack.callback(replica.stop)
            replica.wait_replicating()
            cmds['replicated'] = [sys.executable, __file__, '--serve', 'replicated', redis.url]
        if args.whole:
            cmds['whole'] = [
                *(sys.executable, '-m', 'orchestrator.cli', 'serve', '--demo'),
                *('--redis-url', redis.url, '--port'),
            ]
        ports, procs = start_servers(stack, cmds)
        # All servers stay up and take turns, in alternating order, so that a change in the
        # machine's other load hits every one of them alike.
        run = 0
        for n in range(args.rounds):
            for kind in list(cmds) if n % 2 == 0 else list(cmds)[::-1]:
                turn = measure(
                    procs[kind], redis.proc.pid, ports[kind], paths, args.orders, args.clients, run
                )
                rounds.setdefault(kind, []).append(turn)
                run += 1
    ratios = [
        i['orders_per_s'] / b['orders_per_s']
        for b, i in zip(rounds['baseline'], rounds['intake'], strict=True)
    ]
    figures = {
        kind: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        for kind, runs in rounds.items()
    }
    ratio = round(statistics.median(ratios), 3)
    low, high = median_interval(ratios)
    cpu_ratio = round(
        figures['baseline']['server_cpu_us_per_order']
        / figures['intake']['server_cpu_us_per_order'],
        3,
    )
    total_cpu_ratio = round(
        (
            figures['baseline']['server_cpu_us_per_order']
            + figures['baseline']['redis_cpu_us_per_order']
        )
        / (
            figures['intake']['server_cpu_us_per_order']
            + figures['intake']['redis_cpu_us_per_order']
        ),
        3,
    )
    result = {
        'clients': args.clients,
        'appendfsync': args.appendfsync,
        **figures,
        'throughput_ratio': ratio,
        'round_ratios': [round(x, 3) for x in ratios],
        'ratio_interval': [round(low, 3), round(high, 3)],
        'cpu_ratio': cpu_ratio,
        'total_cpu_ratio': total_cpu_ratio,
        'target_ratio': 0.85,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f'{args.orders} orders, {args.clients} clients, appendfsync {args.appendfsync}')
        for name, r in figures.items():
            print(
                f'  {name:10} {r["orders_per_s"]:8.1f} orders/s   p50 {r["p50_ms"]:6.2f} ms'
                f'   p99 {r["p99_ms"]:6.2f} ms'
                f'   CPU us/order: server {r["server_cpu_us_per_order"]:4.0f}'
                f' redis {r["redis_cpu_us_per_order"]:4.0f}'
            )
        each = ' '.join(f'{x:.3f}' for x in ratios)
        print(
            f'  ratio     {ratio:.3f} intake / baseline throughput, median of rounds {each}'
            f' (95 % interval {low:.3f}-{high:.3f}; target >= 0.85)'
        )
        print(f'            {cpu_ratio:.3f} baseline / intake server CPU per order')
        print(f'            {total_cpu_ratio:.3f} baseline / intake server + Redis CPU per order')
    return 0


if __name__ == '__main__':
    sys.exit(main())
