"""Fast DDS shared memory: what a killed ROS 2 process leaves in /dev/shm goes, a live one's
stays (`orchestrator.dds_shm`, run by `robodine up` and its supervisor)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator import dds_shm
from tests.ros_helpers import ros_child_env

SHM = Path('/dev/shm')
# A process's own segment (not the port files the domain's processes share).
SEGMENT_LOCK = re.compile(r'^fastrtps_[0-9a-z]{16}_el$')
NODE = (
    'import rclpy; from rclpy.node import Node; rclpy.init(); n = Node("shm_probe"); '
    'print("up", flush=True); rclpy.spin(n)'
)


def _segments_of(pid: int) -> set[Path]:
    """The segment files whose lock `pid` holds (/proc/locks: pid and device:inode)."""
    inodes = set()
    for line in Path('/proc/locks').read_text().splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[4] == str(pid):
            inodes.add(int(fields[5].rsplit(':', 1)[1]))
    locks = [p for p in SHM.iterdir() if SEGMENT_LOCK.match(p.name)]
    held = [p for p in locks if p.stat().st_ino in inodes]
    return {f for p in held for f in (p, p.with_name(p.name.removesuffix('_el')))}


@pytest.fixture
def nodes() -> Iterator[list[subprocess.Popen[str]]]:
    procs = [
        subprocess.Popen(
            [sys.executable, '-c', NODE], stdout=subprocess.PIPE, text=True, env=ros_child_env()
        )
        for _ in range(2)
    ]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == 'up'
        yield procs
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_a_killed_process_files_go_and_a_live_ones_stay(
    nodes: list[subprocess.Popen[str]],
) -> None:
    victim, live = nodes
    dead_files, live_files = _segments_of(victim.pid), _segments_of(live.pid)
    assert dead_files and live_files, 'each node holds a segment of its own'
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert all(f.exists() for f in dead_files), 'Fast DDS leaves the files of a killed process'

    cleaned = dds_shm.clean_dead_files()

    assert cleaned.get('segments', 0) >= 1, cleaned
    assert not any(f.exists() for f in dead_files)
    assert all(f.exists() for f in live_files)
