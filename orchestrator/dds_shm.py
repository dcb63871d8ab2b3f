"""Fast DDS's shared-memory files that dead ROS 2 processes leave in /dev/shm.

Every ROS 2 process on Fast DDS maps a segment of ~0.5 MB in /dev/shm (with a lock file, and
port files shared by the domain's processes), which a process killed by a signal never
removes: a robot started again after each crash would leak RAM with every restart. Fast DDS's
own `fastdds shm clean` removes exactly the files whose lock no live process holds.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

CLEAN_TIMEOUT_S = 10.0
# The tool's last lines: 'N zombie ports cleaned', 'N zombie segments cleaned'.
_CLEANED = re.compile(r'^(\d+) zombie (ports|segments) cleaned$', re.MULTILINE)


def _tool() -> str | None:
    """`fastdds` of the ROS 2 install: the venv's (the wheels ship it) or on PATH."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get('PATH', '')])
    return shutil.which('fastdds', path=path)


def clean_dead_files() -> dict[str, int]:
    """Remove the files of dead processes; returns how many ports and segments went. Never
    raises: a restaurant keeps running with the files left (the tool missing, say)."""
    tool = _tool()
    if tool is None:
        log.debug('fastdds not found: the files of dead processes stay in /dev/shm')
        return {}
    try:
        done = subprocess.run(
            [tool, 'shm', 'clean'],
            capture_output=True,
            text=True,
            timeout=CLEAN_TIMEOUT_S,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as e:
        log.warning('fastdds shm clean failed: %s', e)
        return {}
    cleaned = {kind: int(n) for n, kind in _CLEANED.findall(done.stdout)}
    if any(cleaned.values()):
        log.info('removed the shared-memory files of dead DDS processes: %s', cleaned)
    return cleaned
