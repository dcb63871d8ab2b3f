"""Start and stop a private `redis-server` (used by `robodine up`, the demo and the tests).

It runs with `appendonly yes` so that an acknowledged write survives a crash; `appendfsync`
defaults to `always` (every write on disk before the reply), `everysec` trades ~1 s of writes for
speed.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

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
