"""`robodine up`: the whole restaurant on one machine.

Starts Redis (unless one is given), the orchestrator with the dispatcher in-process
(`robodine serve --with-dispatcher`), one process per robot of the config (and, with
`--driver diffdrive`, the headless floor plant; with `sim`, the floor monitor; with `nav2`,
nothing more: each robot's Nav2 is the integrator's to start), waits until
every robot is heard, prints each table's diner URL and the console URL, and on Ctrl-C /
SIGTERM stops them all. Children run in their own process groups with a parent-death signal,
so none outlives `robodine up`; their logs go to `<data-dir>/logs/<name>.log`.

While it serves, `robodine up` supervises its children: one that dies (a crash, an OOM kill) is
started again after a backoff (1 s, doubling up to 30 s; back to 1 s once it has run for a
minute) and a `process_restarted` console alert says so; everything else keeps serving.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import os
import secrets
import shlex
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from orchestrator import dds_shm, retention
from orchestrator.archive import service as archive_service
from orchestrator.config import RestaurantConfig, load_restaurant
from orchestrator.console.accounts import new_account
from orchestrator.redis_server import RedisServer
from orchestrator.settings import Settings, get_settings
from orchestrator.store import accounts, alerts, connection, robots
from orchestrator.texts import Said, Value
from robot_nodes import auth
from table_qr.tokens import sign, table_url

READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0
PR_SET_PDEATHSIG = 1
DEMO_OPERATOR = 'demo'
# Restart backoff of a supervised child: doubling from the first to the last, and back to the
# first once the child has run STABLE_S without dying.
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
STABLE_S = 60.0


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when `robodine up` dies, even by SIGKILL."""
    with contextlib.suppress(OSError):
        ctypes.CDLL('libc.so.6', use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def ros_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of robot and dispatcher processes: the configured DDS domain and
    discovery range (settings `ros_*`); without a configured domain, a private one per
    `robodine up` (messages are authenticated either way: README "Security → ROS 2")."""
    env = dict(os.environ if base is None else base)
    env.setdefault('ROS_DOMAIN_ID', str(1 + os.getpid() % 100))
    env.update(get_settings().ros_environment())
    env.setdefault('PYTHONUNBUFFERED', '1')
    return env


def ros_argv(module: str, params: dict[str, Any], *remaps: str) -> list[str]:
    """argv of a ROS 2 node process: `python -m module --ros-args -r <remap>... -p k:=v...`."""
    argv = [sys.executable, '-m', module, '--ros-args']
    for remap in remaps:
        argv += ['-r', remap]
    for k, v in params.items():
        argv += ['-p', f'{k}:={v}']
    return argv


def robot_command(
    kind: str,
    robot_id: str,
    config: Path,
    time_scale: float,
    driver: str,
    ledger_dir: Path,
    key_dir: Path,
) -> list[str]:
    """argv of one robot node (`kind` is 'cooking' or 'serving'); it gets its own key file
    from `key_dir` (`robot_nodes.auth`)."""
    params = {
        'robot_id': robot_id,
        'config_path': str(config),
        'time_scale': repr(float(time_scale)),
        'driver': driver if kind == 'serving' else 'sim',
        'ledger_dir': str(ledger_dir),
        'key_file': str(auth.key_path(key_dir, robot_id)),
    }
    return ros_argv(
        f'robot_nodes.{kind}_robot', params, f'__ns:=/robodine/{robot_id}', f'__node:={kind}_robot'
    )


def traffic_controller_command(config: str | Path, time_scale: float, key_dir: Path) -> list[str]:
    """argv of the traffic controller (`service.traffic_control`), with the robots' keys."""
    params = {'config_path': config, 'time_scale': time_scale, 'key_dir': key_dir}
    return ros_argv('robot_nodes.traffic_controller', params)


def floor_monitor_command(config: str | Path, time_scale: float) -> list[str]:
    """argv of the floor monitor (collisions of the sim driver's robots)."""
    return ros_argv('robot_nodes.floor_monitor', {'config_path': config, 'time_scale': time_scale})


def floor_plant_command(
    config: str | Path, time_scale: float, robots: list[str] | None = None
) -> list[str]:
    """argv of the headless floor plant, for `robots` (none given: the plant's default)."""
    params: dict[str, Any] = {'config_path': config, 'time_scale': time_scale}
    if robots is not None:
        params['robots'] = f'[{", ".join(robots)}]'
    return ros_argv('robot_nodes.floor_plant', params)


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    argv: list[str]
    env: dict[str, str]
    # A robot's id (alerts name it), or '' for the orchestrator and the floor plant.
    robot_id: str = ''
    started_at: float = field(default_factory=time.monotonic)
    restarts: int = 0
    backoff_s: float = BACKOFF_FIRST_S
    # time.monotonic() at which a dead child is started again (None: alive, or not noticed).
    restart_at: float | None = None

    def due(self, now: float) -> bool:
        """Dead, noticed, and its backoff over: to be started again."""
        return self.restart_at is not None and now >= self.restart_at

    @property
    def role(self) -> str:
        """'api' or 'dispatcher' (one of the `orchestrator_commands`, several of which may do
        the same work), else its name."""
        if self.robot_id:
            return self.name
        base = self.name.split('-', 1)[0]
        return {'orchestrator': 'api', 'dispatcher': 'dispatcher'}.get(base, self.name)


@dataclass
class Restaurant:
    """The processes of one restaurant; `stop()` ends them all."""

    data_dir: Path
    env: dict[str, str]
    children: list[Child] = field(default_factory=list)
    redis_server: RedisServer | None = None

    def spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, robot: bool = False
    ) -> Child:
        logs = self.data_dir / 'logs'
        logs.mkdir(parents=True, exist_ok=True)
        env, log = env or self.env, logs / f'{name}.log'
        child = Child(name, _popen(argv, env, log), log, argv, env, name if robot else '')
        self.children.append(child)
        return child

    def failed(self) -> Child | None:
        return next((c for c in self.children if c.proc.poll() is not None), None)

    def supervise(self, redis_url: str, now: float | None = None) -> list[str]:
        """Start dead children again once their backoff is over; returns what happened, one
        line per death noticed or restart made. Call it from the thread that spawned them
        (the parent-death signal follows that thread)."""
        now = time.monotonic() if now is None else now
        said = []
        if any(c.due(now) for c in self.children):
            dds_shm.clean_dead_files()  # what the dead left in /dev/shm, before new ones start
        for child in self.children:
            if child.proc.poll() is None:
                if child.backoff_s > BACKOFF_FIRST_S and now - child.started_at > STABLE_S:
                    child.backoff_s = BACKOFF_FIRST_S
                continue
            if child.restart_at is None:
                child.restart_at = now + child.backoff_s
                # Helpers the child started go with it, before a new one takes their place.
                _signal_group(child.proc, signal.SIGKILL)
                said.append(
                    f'{child.name} {_exit_text(child.proc.returncode)}; '
                    f'restarting in {child.backoff_s:g} s (see {child.log})'
                )
            elif child.due(now):
                code = child.proc.returncode
                child.proc = _popen(child.argv, child.env, child.log)
                child.started_at, child.restart_at = now, None
                child.restarts += 1
                wait = child.backoff_s
                child.backoff_s = min(child.backoff_s * 2, BACKOFF_MAX_S)
                restarted = _restarted(child, code, wait)
                said.append(str(restarted))
                _alert(redis_url, child, restarted, self.severity(child))
        return said

    def severity(self, child: Child) -> str:
        """A restart's alert: critical when no other API process (or dispatcher) was up to
        take orders (or cook) meanwhile, a warning when one carried on or it was a robot."""
        if child.role not in ('api', 'dispatcher'):
            return 'warning'
        others = (c for c in self.children if c is not child and c.role == child.role)
        return 'warning' if any(c.proc.poll() is None for c in others) else 'critical'

    def stop(self) -> None:
        """SIGTERM every process group (robots first, the orchestrator last), then SIGKILL
        what is still there after STOP_TIMEOUT_S."""
        for child in reversed(self.children):
            _signal_group(child.proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in self.children:
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child.proc, signal.SIGKILL)
                child.proc.wait()
            # The group may hold helpers the child started; leave none behind.
            _signal_group(child.proc, signal.SIGKILL)
        self.children.clear()
        if self.redis_server is not None:
            self.redis_server.stop()


def _popen(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open('ab') as out:
        return subprocess.Popen(
            argv,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        return f'was killed by {signal.Signals(-code).name}'
    return f'exited with {code}'


def _restarted(child: Child, code: int | None, wait: float) -> Said:
    """The console's alert text for a child restarted after `wait` s: killed by a signal, or
    exited with `code`."""
    args: dict[str, Value] = {'process': child.name, 'wait': f'{wait:g}', 'n': child.restarts}
    if code is not None and code < 0:
        args['signal'] = signal.Signals(-code).name
        return Said('alert.texts.process_restarted.killed', args)
    return Said('alert.texts.process_restarted.exited', {**args, 'code': str(code)})


def _alert(redis_url: str, child: Child, said: Said, severity: str) -> None:
    """A console alert from this (synchronous) supervisor; a Redis that does not answer only
    costs the alert, the restart has happened."""

    async def send() -> None:
        r = connection.connect(get_settings(), redis_url, socket_timeout=5)
        try:
            await alerts.raise_alert(
                r, 'process_restarted', severity, said, robot_id=child.robot_id
            )
        finally:
            await r.aclose()

    try:
        asyncio.run(send())
    except (redis.RedisError, OSError) as e:
        print(f'could not raise the alert ({e}): {said}', file=sys.stderr, flush=True)


def _trim(redis_url: str, days: float, ledger_dir: Path) -> None:
    """Retention, as `robodine retention` does it; a failure waits for the next round."""
    try:
        print(retention.run(redis_url, days, ledger_dir), file=sys.stderr, flush=True)
    except (redis.RedisError, OSError, sqlite3.Error) as e:
        print(f'retention failed: {e}', file=sys.stderr, flush=True)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def start_restaurant(
    cfg: RestaurantConfig,
    config_path: Path,
    data_dir: Path,
    port: int,
    host: str = '127.0.0.1',
    time_scale: float = 10.0,
    driver: str = 'sim',
    redis_url: str | None = None,
    policy: str | None = None,
    api_workers: int = 1,
    dispatchers: int = 0,
    traffic: bool | None = None,
    demo_history: bool = True,
    external: Collection[str] = (),
) -> tuple[Restaurant, str]:
    """Start everything; returns the Restaurant and the Redis URL in use. `api_workers` API
    processes share the port; `dispatchers` run alone (0: one inside each API process);
    `traffic` (None: the settings' or the config's) puts the serving robots under the traffic
    controller, which it starts; `demo_history` fills a fresh archive with a few weeks of
    generated orders for the console's reports (a rush has no use for them); the `external`
    robots run elsewhere (`external_robot_commands`): not started, nor simulated by the floor
    plant."""
    data_dir = data_dir.resolve()
    dds_shm.clean_dead_files()  # left by processes killed before (a crash, an OOM kill)
    env = ros_env()
    env['ROBODINE_TIME_SCALE'] = str(time_scale)
    if policy is not None:
        env['ROBODINE_POLICY'] = policy
    if traffic is None:
        traffic = get_settings().traffic_control_for(cfg)
    # The robots read it from their environment (settings), whatever their config says.
    env['ROBODINE_TRAFFIC_CONTROL'] = 'true' if traffic else 'false'
    # A demo: `serve` accepts the demo table key (up_command says so loudly).
    env['ROBODINE_DEMO'] = '1'
    rest = Restaurant(data_dir, env)
    if redis_url is None and get_settings().redis_sentinels:
        redis_url = get_settings().redis_url  # its database and password; Sentinel the server
    if redis_url is None:
        rest.redis_server = RedisServer(data_dir / 'redis').start()
        redis_url = rest.redis_server.url
    env['ROBODINE_REDIS_URL'] = redis_url
    env['ROBODINE_CONFIG_PATH'] = str(config_path)
    # The archive lives with the data; a fresh one gets a few weeks of demo history (labelled).
    env['ROBODINE_DATA_DIR'] = str(data_dir)
    settings = Settings(data_dir=data_dir)
    seeded = archive_service.seed_demo_history(settings, cfg) if demo_history else 0
    if seeded:
        print(f'archive: added {seeded} orders of generated DEMO history', flush=True)
    # The robots' keys: made once, kept with the data (the dispatcher reads them all).
    key_dir = data_dir / 'robot_keys'
    env['ROBODINE_ROBOT_KEY_DIR'] = str(key_dir)
    robot_ids = list(cfg.robot_kinds)
    auth.create_keys(key_dir, robot_ids)
    try:
        for name, argv, child_env in orchestrator_processes(
            env, config_path, redis_url, host, port, api_workers, dispatchers
        ):
            rest.spawn(name, argv, child_env)
        ledgers = data_dir / 'ledger'
        if traffic:
            rest.spawn(
                'traffic_controller', traffic_controller_command(config_path, time_scale, key_dir)
            )
        for robot_id, kind in cfg.robot_kinds.items():
            if robot_id not in external:
                argv = robot_command(
                    kind, robot_id, config_path, time_scale, driver, ledgers, key_dir
                )
                rest.spawn(robot_id, argv, robot=True)
        plant = [s.id for s in cfg.serving_robots if s.id not in external]
        if driver == 'diffdrive' and plant:
            rest.spawn('floor_plant', floor_plant_command(config_path, time_scale, plant))
        elif driver == 'sim':
            # No plant to feel collisions: the monitor finds them in the robots' poses.
            rest.spawn('floor_monitor', floor_monitor_command(config_path, time_scale))
    except BaseException:
        rest.stop()
        raise
    return rest, redis_url


def external_robot_commands(
    rest: Restaurant,
    cfg: RestaurantConfig,
    config_path: Path,
    time_scale: float,
    driver: str,
    external: Collection[str],
) -> list[str]:
    """Shell lines that start each external robot as `up` would have (its ROS domain and
    discovery range, its key file, its ledger): on another machine, copy the config and the
    key file and change the paths."""
    ros = ' '.join(f'{k}={shlex.quote(v)}' for k, v in rest.env.items() if k.startswith('ROS_'))
    key_dir, ledgers = Path(rest.env['ROBODINE_ROBOT_KEY_DIR']), rest.data_dir / 'ledger'
    return [
        f'{ros} '
        + shlex.join(robot_command(kind, rid, config_path, time_scale, driver, ledgers, key_dir))
        for rid, kind in cfg.robot_kinds.items()
        if rid in external
    ]


def orchestrator_processes(
    env: dict[str, str],
    config_path: Path,
    redis_url: str,
    host: str,
    port: int,
    api_workers: int,
    dispatchers: int,
) -> list[tuple[str, list[str], dict[str, str]]]:
    """(name, argv, environment) of each API and dispatcher process. Several API processes
    bind the one port with SO_REUSEPORT; only the first runs the archiver (the copy is
    idempotent, but one writer keeps the archive's file free of lock waits)."""
    cli = [sys.executable, '-m', 'orchestrator.cli']
    where = ['--config', str(config_path), '--redis-url', redis_url]
    out = []
    for i in range(api_workers):
        argv = [*cli, 'serve', *where, '--host', host, '--port', str(port)]
        argv += ['--reuse-port'] if api_workers > 1 else []
        argv += ['--with-dispatcher'] if dispatchers == 0 else []
        child_env = env if i == 0 else {**env, 'ROBODINE_ARCHIVE_EVERY_S': '0'}
        out.append(('orchestrator' if i == 0 else f'orchestrator-{i + 1}', argv, child_env))
    for i in range(dispatchers):
        out.append((f'dispatcher-{i + 1}', [*cli, 'dispatcher', *where], env))
    return out


def wait_ready(
    rest: Restaurant,
    cfg: RestaurantConfig,
    base_url: str,
    redis_url: str,
    timeout: float = READY_TIMEOUT_S,
    external: Collection[str] = (),
) -> None:
    """Until the API answers /readyz and the dispatcher has heard every robot started here."""
    robot_ids = [rid for rid in cfg.robot_kinds if rid not in external]
    client = connection.connect_sync(get_settings(), redis_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if (dead := rest.failed()) is not None:
                raise RuntimeError(
                    f'{dead.name} exited with {dead.proc.returncode}; see {dead.log}'
                )
            modes = robots.modes_sync(client, robot_ids)
            missing = [r for r, mode in modes.items() if mode in (None, 'lost')]
            try:
                api = httpx.get(f'{base_url}/readyz', timeout=1).status_code == 200
            except httpx.TransportError:
                api = False
            if api and not missing:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f'not ready after {timeout:.0f}s: '
                    f'{"API, " if not api else ""}{", ".join(missing)}'
                )
            time.sleep(0.2)
    finally:
        client.close()


def demo_operator(redis_url: str, settings: Settings) -> str:
    """A first manager account when there is none, so the console can be opened at once."""
    client = connection.connect_sync(settings, redis_url)
    try:
        if settings.operators or any(True for _ in accounts.account_names_sync(client)):
            return ''
        password = secrets.token_urlsafe(9)
        accounts.save_account_sync(client, DEMO_OPERATOR, new_account(password, 'manager'))
    finally:
        client.close()
    return (
        f'  (sign in as {DEMO_OPERATOR!r}, password {password!r}; '
        'add others with `robodine operator add`)'
    )


def up_command(args: argparse.Namespace) -> int:
    if args.api_workers < 1 or args.dispatchers < 0:
        print('error: --api-workers must be at least 1, --dispatchers at least 0', file=sys.stderr)
        return 2
    cfg = load_restaurant(args.config)
    external = {r.strip() for r in args.external.split(',') if r.strip()}
    if unknown := sorted(external - set(cfg.robot_kinds)):
        print(
            f'error: --external: no robot {", ".join(unknown)} in {args.config} (its robots: '
            f'{", ".join(cfg.robot_kinds)})',
            file=sys.stderr,
        )
        return 2
    settings = get_settings()
    # Its own Redis unless one is named: a default URL must not send a demo into production.
    redis_url = args.redis_url
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    base = f'http://{args.host}:{args.port}'
    if settings.uses_demo_key():
        print(
            '*** DEMO: table codes are signed with the demo key published with robodine; '
            'anyone can forge them. For a real restaurant: `robodine keys new`. ***',
            file=sys.stderr,
            flush=True,
        )
    print(
        f'starting {cfg.restaurant.name.en}: data in {args.data_dir}, time scale '
        f'{args.time_scale:g}, {args.driver} driver',
        flush=True,
    )
    rest, redis_url = start_restaurant(
        cfg,
        args.config.resolve(),
        args.data_dir,
        args.port,
        args.host,
        args.time_scale,
        args.driver,
        redis_url,
        args.policy,
        api_workers=args.api_workers,
        dispatchers=args.dispatchers,
        traffic=args.traffic,
        external=external,
    )
    try:
        wait_ready(rest, cfg, base, redis_url, external=external)
        # The public base (behind a proxy) if one is configured, else where we listen.
        public = settings.base_url if 'base_url' in settings.model_fields_set else base
        where = connection.describe(settings, redis_url)
        print(f'\nready. Redis {where}\n\nDiner pages (one per table QR code):')
        for t in cfg.tables:
            token = sign(settings.table_keys, cfg.restaurant.id, t.id)
            print(f'  {t.id}  {t.name.en:<10} {table_url(public, token)}')
        print(f'\nKitchen console: {base}/console{demo_operator(redis_url, settings)}')
        if external:
            print('\nExternal robots (not started here; the dispatcher uses each once heard):')
            config_path = args.config.resolve()
            for line in external_robot_commands(
                rest, cfg, config_path, args.time_scale, args.driver, external
            ):
                print(f'  {line}')
        print(f'Logs: {rest.data_dir / "logs"}\nCtrl-C stops everything.', flush=True)
        # Until Ctrl-C / SIGTERM: a child that dies is started again, the rest keep serving;
        # old finished records are trimmed now and then.
        trim_at = time.monotonic()
        while not stop.wait(0.5):
            for line in rest.supervise(redis_url):
                print(line, file=sys.stderr, flush=True)
            if time.monotonic() >= trim_at:
                trim_at = time.monotonic() + retention.RUN_EVERY_S
                _trim(redis_url, settings.retention_days, rest.data_dir / 'ledger')
        return 0
    except (RuntimeError, TimeoutError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    finally:
        print('stopping...', flush=True)
        rest.stop()
