"""Robot commands (`store.commands`, from operators and diners) to the robots' services.

Each command is one ROS service call (`control`, or `confirm_pickup` on serving robots); its
outcome is written to the audit trail, and a refusal also raises an alert so that an operator
who pressed e-stop sees at once that it did not apply. A command read after it expired
(`command_ttl_s` after it was queued) is not run: it is audited as `expired`, with an alert.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable

from orchestrator.dispatch.context import DispatchContext
from orchestrator.store import alerts, audit, commands
from orchestrator.store.commands import Command
from orchestrator.texts import Said

log = logging.getLogger(__name__)

# (trip id, table id, who): the serving worker records the stop's orders as served.
PickupConfirmed = Callable[[str, str, str], Awaitable[None]]


class RobotCommands:
    """Runs commands side by side for different robots (a slow robot does not hold up an
    e-stop of another) and in stream order for one robot; an entry is never run twice at once
    (it may be read again while pending)."""

    def __init__(
        self, ctx: DispatchContext, pickup_confirmed: PickupConfirmed, ttl_s: float
    ) -> None:
        self.ctx = ctx
        self.pickup_confirmed = pickup_confirmed
        self.ttl_s = ttl_s
        self._running: set[str] = set()
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def submit(self, entry_id: str, fields: dict[str, str]) -> None:
        if entry_id in self._running:
            return
        self._running.add(entry_id)
        c = commands.parse(fields)
        self.ctx.spawn(self._run(entry_id, c), f'control {entry_id}')

    async def _run(self, entry_id: str, c: Command) -> None:
        try:
            async with self._locks[c.robot_id]:
                await self.ctx.retrying(lambda: self._handle(entry_id, c))
        finally:
            self._running.discard(entry_id)

    async def _handle(self, entry_id: str, c: Command) -> None:
        r, ros = self.ctx.r, self.ctx.ros
        age_s = await commands.age_ms(r, entry_id) / 1000
        if age_s > self.ttl_s:
            await self._expired(entry_id, c, age_s)
            return
        if c.robot_id in self.ctx.robots:
            # Not yet discovered (this dispatcher just started, the robot is restarting): wait
            # for it while the command is still good, rather than refuse it at once.
            await self.ctx.until_reachable(c.robot_id, self.ttl_s - age_s)
        if c.command not in commands.KINDS:
            accepted, message = False, f'unknown command {c.command!r}'
        elif c.command == 'confirm_pickup':
            accepted, message = await ros.confirm_pickup(c.robot_id, c.trip_id, c.table_id)
            if accepted:
                await self.pickup_confirmed(c.trip_id, c.table_id, c.by or 'diner')
        else:
            accepted, message = await ros.control(c.robot_id, c.command, c.job_id)
        log.info('%s %s by %s: %s %s', c.command, c.robot_id, c.by, accepted, message)
        result = 'ok' if accepted else (message or 'refused')
        await audit.record(r, c.by or 'system', f'robot.{c.command}', _target(c), result, message)
        if not accepted:
            await alerts.raise_alert(
                r,
                'control_refused',
                _severity(c),
                Said(
                    'alert.texts.control_refused',
                    {'robot': c.robot_id, 'command': c.command, 'message': message},
                ),
                robot_id=c.robot_id,
                order_id=c.order_id,
                trip_id=c.trip_id,
            )
        await commands.done(r, entry_id, c)

    async def _expired(self, entry_id: str, c: Command, age_s: float) -> None:
        r = self.ctx.r
        detail = f'not run: queued {age_s:.0f} s ago, it expired after {self.ttl_s:g} s'
        log.warning('%s %s by %s: %s', c.command, c.robot_id, c.by, detail)
        await audit.record(
            r, c.by or 'system', f'robot.{c.command}', _target(c), 'expired', detail
        )
        await alerts.raise_alert(
            r,
            'command_expired',
            _severity(c),
            Said(
                'alert.texts.command_expired',
                {
                    'command': c.command,
                    'robot': c.robot_id,
                    'by': c.by or 'system',
                    'age': round(age_s),
                    'ttl': f'{self.ttl_s:g}',
                },
            ),
            robot_id=c.robot_id,
            order_id=c.order_id,
            trip_id=c.trip_id,
        )
        await commands.done(r, entry_id, c)


def _severity(c: Command) -> str:
    """Of the alert for a command that did not apply (refused, unanswered or expired): an
    emergency stop that did not happen is the one that must not go unseen."""
    return 'critical' if c.command == 'estop' else 'warning'


def _target(c: Command) -> str:
    return c.robot_id + (f'/{c.table_id}' if c.table_id else '')
