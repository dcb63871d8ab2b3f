"""Start and stop a private `redis-server` (used by `robodine up`, the demo and the tests), and
a highly available group of them: a primary, replicas and three `redis-sentinel`s (`RedisHA`).

It runs with `appendonly yes` so that an acknowledged write survives a crash; `appendfsync`
defaults to `always` (every write on disk before the reply), `everysec` trades ~1 s of writes for
speed.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


@dataclass
class RedisServer:
    data_dir: Path
    port: int = field(default_factory=free_port)
    appendfsync: str = 'always'
    # The port of the primary this server replicates (on 127.0.0.1); None: a primary.
    replica_of: int | None = None
    # A command to run redis-server under (a profiler: bench/intake.py --instructions).
    launcher: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f'redis://127.0.0.1:{self.port}/0'

    def start(self, timeout: float = 10.0) -> RedisServer:
        exe = shutil.which('redis-server')
        if exe is None:
            raise RuntimeError(
                'redis-server not found: run scripts/bootstrap.sh or apt-get install redis-server'
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                *self.launcher,
                exe,
                '--port',
                str(self.port),
                '--bind',
                '127.0.0.1',
                '--dir',
                str(self.data_dir),
                '--appendonly',
                'yes',
                '--appendfsync',
                self.appendfsync,
                '--save',
                '',
                '--protected-mode',
                'yes',
                '--daemonize',
                'no',
                '--loglevel',
                'warning',
                *(['--replicaof', '127.0.0.1', str(self.replica_of)] if self.replica_of else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ''
                raise RuntimeError(f'redis-server exited with {self.proc.returncode}: {err}')
            try:
                if client.ping():
                    break
            except (redis.ConnectionError, redis.BusyLoadingError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()
        return self

    def wait_replicating(self, timeout: float = 30.0) -> None:
        """Until this replica has synced with its primary and follows it."""
        _wait(
            lambda: _info(self.port, 'replication').get('master_link_status') == 'up',
            time.monotonic() + timeout,
            f'the replica on {self.port} in sync',
        )

    def kill(self) -> None:
        """SIGKILL: what a crash looks like; the AOF keeps what was acknowledged."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self) -> RedisServer:
        self.kill()
        return self.start()


MASTER_NAME = 'robodine'


@dataclass
class RedisHA:
    """A primary, `replicas` replicas and three sentinels on free ports of 127.0.0.1.

    The sentinels call the primary down after `down_after_ms` without an answer and promote a
    replica (quorum 2). A server killed and started again comes back with its AOF and the
    sentinels make it a replica of whichever server is primary then.
    """

    data_dir: Path
    replicas: int = 1
    down_after_ms: int = 1500
    servers: list[RedisServer] = field(default_factory=list)
    sentinels: list[Sentinel] = field(default_factory=list)

    @property
    def sentinel_addresses(self) -> list[str]:
        return [f'127.0.0.1:{s.port}' for s in self.sentinels]

    def env(self) -> dict[str, str]:
        """The settings of a robodine process that reaches this Redis through Sentinel."""
        return {
            'ROBODINE_REDIS_SENTINELS': ','.join(self.sentinel_addresses),
            'ROBODINE_REDIS_MASTER': MASTER_NAME,
        }

    def start(self, timeout: float = 30.0) -> RedisHA:
        primary = RedisServer(self.data_dir / 'r0').start(timeout)
        self.servers = [primary]
        for i in range(self.replicas):
            self.servers.append(
                RedisServer(self.data_dir / f'r{i + 1}', replica_of=primary.port).start(timeout)
            )
        for replica in self.servers[1:]:
            replica.wait_replicating(timeout)
        deadline = time.monotonic() + timeout
        for i in range(3):
            sentinel = Sentinel(self.data_dir / f's{i}', primary.port, self.down_after_ms)
            self.sentinels.append(sentinel.start(timeout))
        # Every sentinel knows the others (a quorum can fail over) and every replica.
        for sentinel in self.sentinels:
            _wait(partial(sentinel.ready, self.replicas), deadline, 'sentinels ready')
        return self

    def primary(self) -> RedisServer:
        """The server the sentinels name as primary now."""
        client = redis.Redis(port=self.sentinels[0].port, decode_responses=True)
        try:
            _, port = client.sentinel_get_master_addr_by_name(MASTER_NAME)
        finally:
            client.close()
        return next(s for s in self.servers if s.port == int(port))

    def wait_failover(self, old: RedisServer, timeout: float = 60.0) -> RedisServer:
        """Until every sentinel names a live primary other than `old`; that server."""
        deadline = time.monotonic() + timeout

        def moved() -> bool:
            ports = {s.named_primary() for s in self.sentinels}
            return len(ports) == 1 and old.port not in ports

        _wait(moved, deadline, 'failover')
        new = self.primary()
        _wait(
            lambda: _info(new.port, 'replication').get('role') == 'master', deadline, 'promotion'
        )
        return new

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for server in self.servers:
            server.stop()


@dataclass
class Sentinel:
    """One `redis-sentinel` watching the primary on `primary_port` as MASTER_NAME."""

    data_dir: Path
    primary_port: int
    down_after_ms: int
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> Sentinel:
        exe = shutil.which('redis-sentinel')
        if exe is None:
            raise RuntimeError(
                'redis-sentinel not found: run scripts/bootstrap.sh or apt-get install '
                'redis-sentinel'
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / 'sentinel.conf'  # Sentinel rewrites it: its own state
        conf.write_text(
            f'port {self.port}\nbind 127.0.0.1\ndir {self.data_dir}\n'
            f'sentinel monitor {MASTER_NAME} 127.0.0.1 {self.primary_port} 2\n'
            f'sentinel down-after-milliseconds {MASTER_NAME} {self.down_after_ms}\n'
            f'sentinel failover-timeout {MASTER_NAME} {max(3 * self.down_after_ms, 5000)}\n'
            f'sentinel parallel-syncs {MASTER_NAME} 1\n'
        )
        self.proc = subprocess.Popen(
            [exe, str(conf), '--loglevel', 'warning'],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(self._pong, time.monotonic() + timeout, 'sentinel up')
        return self

    def _pong(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f'redis-sentinel exited with {self.proc.returncode}')
        try:
            return bool(self._client().ping())
        except redis.ConnectionError:
            return False

    def _client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=0.5, decode_responses=True)

    def ready(self, replicas: int) -> bool:
        client = self._client()
        try:
            master = client.sentinel_master(MASTER_NAME)
            return bool(master['num-other-sentinels'] >= 2 and master['num-slaves'] >= replicas)
        except redis.RedisError:
            return False
        finally:
            client.close()

    def named_primary(self) -> int | None:
        client = self._client()
        try:
            found = client.sentinel_get_master_addr_by_name(MASTER_NAME)
            return int(found[1]) if found else None
        except redis.RedisError:
            return None
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


def _info(port: int, section: str) -> dict[str, Any]:
    client = redis.Redis(port=port, socket_connect_timeout=0.5, decode_responses=True)
    try:
        return dict(client.info(section))
    except redis.RedisError:
        return {}
    finally:
        client.close()


def _wait(predicate: Callable[[], bool], deadline: float, what: str) -> None:
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f'redis: timed out waiting for {what}')
        time.sleep(0.05)
