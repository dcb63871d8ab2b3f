"""Operator and diner commands for robots: `rd:control` (group `fleet`) to the robots' services.

Each command is one ROS service call (`control`, or `confirm_pickup` on serving robots); its
outcome is written to the audit trail, and a refusal also raises an alert so that an operator
who pressed e-stop sees at once that it did not apply.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from orchestrator import redis_keys as keys
from orchestrator.console import audit
from orchestrator.dispatch.alerts import raise_alert

if TYPE_CHECKING:
    from orchestrator.dispatch.service import Dispatcher

log = logging.getLogger(__name__)

COMMANDS = frozenset({'pause', 'resume', 'estop', 'release', 'dock', 'cancel', 'confirm_pickup'})


class Controls:
    """Runs commands side by side for different robots (a slow robot does not hold up an
    e-stop of another) and in stream order for one robot; an entry is never run twice at once
    (it may be read again while pending)."""

    def __init__(self, d: Dispatcher) -> None:
        self.d = d
        self._running: set[str] = set()
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def submit(self, entry_id: str, f: dict[str, str]) -> None:
        if entry_id in self._running:
            return
        self._running.add(entry_id)
        self.d.spawn(self._run(entry_id, f), f'control {entry_id}')

    async def _run(self, entry_id: str, f: dict[str, str]) -> None:
        try:
            async with self._locks[f.get('robot_id', '')]:
                await self.d.retrying(lambda: handle(self.d, entry_id, f))
        finally:
            self._running.discard(entry_id)


async def handle(d: Dispatcher, entry_id: str, f: dict[str, str]) -> None:
    command, robot_id, by = f.get('command', ''), f.get('robot_id', ''), f.get('by', '')
    if command not in COMMANDS:
        accepted, message = False, f'unknown command {command!r}'
    elif command == 'confirm_pickup':
        accepted, message = await d.bridge.confirm_pickup(
            robot_id, f.get('trip_id', ''), f.get('table_id', '')
        )
        if accepted:
            await d.serving.pickup_confirmed(
                f.get('trip_id', ''), f.get('table_id', ''), by or 'diner'
            )
    else:
        accepted, message = await d.bridge.control(robot_id, command, f.get('job_id', ''))
    log.info('%s %s by %s: %s %s', command, robot_id, by, accepted, message)
    target = robot_id + (f'/{f["table_id"]}' if f.get('table_id') else '')
    await audit.record(
        d.r,
        by or 'system',
        f'robot.{command}',
        target,
        'ok' if accepted else (message or 'refused'),
        message,
    )
    if not accepted:
        await raise_alert(
            d.r,
            'control_refused',
            'warning',
            f'{robot_id} refused {command}: {message}',
            robot_id=robot_id,
            order_id=f.get('order_id', ''),
            trip_id=f.get('trip_id', ''),
        )
    async with d.r.pipeline(transaction=True) as pipe:
        pipe.xack(keys.CONTROL, keys.CONTROL_GROUP, entry_id)
        pipe.xdel(keys.CONTROL, entry_id)
        await pipe.execute()
