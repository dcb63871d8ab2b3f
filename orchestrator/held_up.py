"""How a serving robot's state detail says that another robot holds it up: written by the robot
(`robot_nodes.serving_robot`), read by the console's `robot_stuck` check
(`console.alert_checks`)."""

from __future__ import annotations

import re

# Its obstacle stop stopped it for the robot; the traffic controller has it wait for the robot.
STOPPED_FOR = 'stopped for'
WAITING_FOR = 'waiting for'
# The traffic controller has it wait before a closure no way leads round.
AT_CLOSED = 'waiting at closed'
_SUFFIX = re.compile(rf', (?:{STOPPED_FOR}|{WAITING_FOR}) (\S+)$')
_CLOSED = re.compile(rf', {AT_CLOSED} (\S+)$')


def suffix(stopped_for: str, waiting_for: str, closed: str = '') -> str:
    """What the detail ends with: `, stopped for X`, `, waiting for X`, `, waiting at closed
    C`, or nothing."""
    if stopped_for:
        return f', {STOPPED_FOR} {stopped_for}'
    if waiting_for:
        return f', {WAITING_FOR} {waiting_for}'
    if closed:
        return f', {AT_CLOSED} {closed}'
    return ''


def closed_before(detail: str) -> str:
    """The closure that `detail` says this robot waits before, or ''."""
    found = _CLOSED.search(detail)
    return found[1] if found else ''


def held_up_by(detail: str) -> str:
    """The robot that `detail` says holds this one up, or ''."""
    found = _SUFFIX.search(detail)
    return found[1] if found else ''
