"""`robodine up`: the whole restaurant from one command, and nothing left behind on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from orchestrator.redis_server import free_port
from tests.ros_helpers import wait_until

pytestmark = pytest.mark.ros
REPO = Path(__file__).resolve().parent.parent


def children_of(pid: int) -> set[int]:
    """Direct children of `pid`, from /proc."""
    out = set()
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / 'stat').read_text()
            except OSError:
                continue
            if int(stat.rsplit(')', 1)[1].split()[1]) == pid:
                out.add(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0]
    except OSError:
        return False
    return state != 'Z'


def test_up_prints_urls_serves_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ('REDIS_URL', 'ROBODINE_BASE_URL')}
    proc = subprocess.Popen(
        [
            sys.executable,
            '-m',
            'orchestrator.cli',
            'up',
            '--port',
            str(port),
            '--time-scale',
            '50',
            '--data-dir',
            str(tmp_path / 'var'),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(proc.stdout.readline, '')) if proc.stdout else None,
        daemon=True,
    )
    reader.start()
    try:
        wait_until(
            lambda: any('Ctrl-C' in line for line in lines) or proc.poll() is not None,
            120,
            0.1,
            'robodine up ready',
        )
        out = ''.join(lines)
        assert proc.poll() is None, out
        diner_urls = re.findall(rf'http://127\.0\.0\.1:{port}/t/\S+', out)
        assert len(diner_urls) == 16, out
        assert f'http://127.0.0.1:{port}/console' in out
        # The demo prints a first manager account, and it signs in to the console.
        account = re.search(r"sign in as '(\S+)', password '(\S+)'", out)
        assert account, out
        name, password = account.groups()
        login = httpx.post(
            f'http://127.0.0.1:{port}/console/api/login',
            json={'name': name, 'password': password},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        assert httpx.get(diner_urls[0], timeout=10).status_code == 200
        children = children_of(proc.pid)
        # Redis, the orchestrator and the 8 robots of the demo.
        assert len(children) >= 10, out
        logs = {p.name for p in (tmp_path / 'var' / 'logs').iterdir()}
        assert {'orchestrator.log', 'wok1.log', 'serve3.log'} <= logs
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, ''.join(lines)
    assert not [pid for pid in children if alive(pid)]
