"""Application-layer authentication of everything robodine sends over ROS 2.

The Fast DDS in the ROS 2 wheels has no DDS Security, so any node on the domain could e-stop a
robot, send it goals or answer for it. Every goal, control request, pickup confirmation, lease,
traffic ask, result, answer and heartbeat therefore carries an HMAC-SHA256 (`mac`, hex) over its
meaningful fields, made with the key of the robot it is for or from: each robot holds its own
key, the dispatcher and the traffic controller hold every (serving) robot's; the closures the
dispatcher sends the controller carry one per serving robot (`macs`). What is signed is
a JSON list `[kind, field...]` (the kinds below keep one message from passing for another), so
both sides compute it from the message alone.

Replay: requests carry `stamp_ns` (the sender's wall clock) and are refused outside FRESH_S of
the receiver's clock or when their MAC was already seen (`Replay`); answers are bound to the
request's stamp; results to their job and epoch; heartbeats must be newer than the last one.

Keys: one file per robot, `<key dir>/<robot_id>.key` (64 hex digits, mode 0600, the directory
0700), made by `robodine robots keys` (and by `robodine up` when missing).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import math
import os
import secrets
import stat
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from orchestrator.config import ConfigError, load_restaurant

KEY_BYTES = 32
# How far (seconds) a signed request's stamp may be from the receiver's clock: machines of a
# restaurant must keep their clocks within this of each other (NTP).
FRESH_S = 30.0


class KeyFileError(ConfigError):
    """A key that is missing, malformed or readable by others; the message says which (the
    CLI prints it as `error: …`)."""


def key_path(key_dir: str | Path, robot_id: str) -> Path:
    return Path(key_dir) / f'{robot_id}.key'


def create_keys(key_dir: str | Path, robot_ids: Iterable[str]) -> list[Path]:
    """A new key for every robot that has none; returns the files written (mode 0600)."""
    key_dir = Path(key_dir)
    key_dir.mkdir(parents=True, exist_ok=True)
    key_dir.chmod(0o700)
    made = []
    for robot_id in robot_ids:
        path = key_path(key_dir, robot_id)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, 'w') as out:
            out.write(secrets.token_hex(KEY_BYTES) + '\n')
        made.append(path)
    return made


def load_key(path: str | Path) -> bytes:
    path = Path(path)
    try:
        mode = path.stat().st_mode
        text = path.read_text().strip()
    except OSError as e:
        raise KeyFileError(
            f'robot key {path}: {e.strerror or e} (create keys with `robodine robots keys`)'
        ) from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f'robot key {path} is readable by others: chmod 600 {path}')
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b''
    if len(key) != KEY_BYTES:
        raise KeyFileError(f'robot key {path}: expected {2 * KEY_BYTES} hex digits')
    return key


def load_keys(key_dir: str | Path, robot_ids: Iterable[str]) -> dict[str, bytes]:
    """Every robot's key (the dispatcher's keystore); KeyFileError names the first missing."""
    return {robot_id: load_key(key_path(key_dir, robot_id)) for robot_id in robot_ids}


# -- what is signed ---------------------------------------------------------------------------


def f32(value: float) -> float:
    """A float32 field as the receiver reads it (the sender's double is rounded on the wire)."""
    return float(struct.unpack('f', struct.pack('f', float(value)))[0])


def _ints(values: Iterable[Any]) -> list[int]:
    return [int(v) for v in values]


def _cook_goal(g: Any) -> list[Any]:
    return [
        g.robot_id,
        g.job_id,
        g.order_id,
        g.dish_id,
        g.station,
        list(g.options),
        int(g.quantity),
        f32(g.cook_time_s),
        int(g.epoch),
        int(g.stamp_ns),
        int(g.lease_until_ns),
    ]


def _cook_result(r: Any) -> list[Any]:
    return [r.robot_id, r.job_id, int(r.epoch), r.outcome, r.reason, int(r.stamp_ns)]


def _deliver_goal(g: Any) -> list[Any]:
    stops = [[s.table_id, _ints(s.trays), list(s.order_ids), list(s.items)] for s in g.stops]
    return [g.robot_id, g.trip_id, int(g.epoch), stops, int(g.stamp_ns)]


def _deliver_result(r: Any) -> list[Any]:
    stops = [[s.table_id, int(s.outcome), s.reason] for s in r.results]
    return [r.robot_id, r.trip_id, int(r.epoch), r.outcome, r.reason, stops, int(r.stamp_ns)]


def _control(q: Any) -> list[Any]:
    return [q.robot_id, q.command, q.job_id, int(q.epoch), int(q.stamp_ns)]


def _pickup(q: Any) -> list[Any]:
    return [q.robot_id, q.trip_id, q.table_id, int(q.stamp_ns)]


def _state(m: Any) -> list[Any]:
    return [
        m.robot_id,
        m.kind,
        int(m.mode),
        list(m.current_jobs),
        _ints(m.job_epochs),
        float(m.x),
        float(m.y),
        float(m.theta),
        f32(m.battery),
        m.detail,
        int(m.stamp.sec),
        int(m.stamp.nanosec),
    ]


def _reserve(q: Any) -> list[Any]:
    where = [int(q.progress), bool(q.clear), int(q.granted)]
    asks = [bool(q.loaded), bool(q.extend), bool(q.ahead)]
    return [q.robot_id, list(q.route), *where, *asks, int(q.stamp_ns)]


def _lease(m: Any) -> list[Any]:
    return [m.robot_id, list(m.job_ids), _ints(m.epochs), int(m.valid_until_ns), int(m.stamp_ns)]


def _closures(m: Any) -> list[Any]:
    return [list(m.closed), int(m.version), int(m.stamp_ns)]


SIGNED: dict[str, Callable[[Any], list[Any]]] = {
    'cook.goal': _cook_goal,
    'cook.result': _cook_result,
    'deliver.goal': _deliver_goal,
    'deliver.result': _deliver_result,
    'control': _control,
    'confirm_pickup': _pickup,
    'state': _state,
    'lease': _lease,
    'reserve': _reserve,
    'closures': _closures,
}


def answer_fields(request: Any, response: Any) -> list[Any]:
    """A service answer (`control`, `confirm_pickup`, `reserve`) is bound to its request."""
    if hasattr(response, 'granted'):
        answer = [int(response.granted), response.message, response.waiting_for]
        return [request.mac, *answer, list(response.route)]
    return [request.mac, bool(response.accepted), response.message]


def mac(key: bytes, kind: str, fields: list[Any]) -> str:
    text = json.dumps([kind, *fields], separators=(',', ':'), ensure_ascii=True)
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def sign(key: bytes, kind: str, msg: Any) -> Any:
    """Set `msg.mac` for a message of `kind` (a key of SIGNED); returns `msg`."""
    msg.mac = mac(key, kind, SIGNED[kind](msg))
    return msg


def verify(key: bytes, kind: str, msg: Any) -> bool:
    return hmac.compare_digest(str(msg.mac), mac(key, kind, SIGNED[kind](msg)))


def sign_by_all(keys: Sequence[bytes], kind: str, msg: Any) -> Any:
    """Set `msg.macs`, one per key (a fleet-wide message: the closures, which every serving
    robot's key signs, so that no one robot's key can forge it); returns `msg`."""
    fields = SIGNED[kind](msg)
    msg.macs = [mac(key, kind, fields) for key in keys]
    return msg


def verify_by_all(keys: Sequence[bytes], kind: str, msg: Any) -> bool:
    return len(msg.macs) == len(keys) and all(
        verify_by(key, i, kind, msg) for i, key in enumerate(keys)
    )


def verify_by(key: bytes, index: int, kind: str, msg: Any) -> bool:
    """Whether MAC `index` of a message signed by all (`sign_by_all`) is good with `key`."""
    macs = list(msg.macs)
    return 0 <= index < len(macs) and hmac.compare_digest(
        str(macs[index]), mac(key, kind, SIGNED[kind](msg))
    )


def sign_answer(key: bytes, kind: str, request: Any, response: Any) -> Any:
    response.mac = mac(key, kind + '.answer', answer_fields(request, response))
    return response


def verify_answer(key: bytes, kind: str, request: Any, response: Any) -> bool:
    expected = mac(key, kind + '.answer', answer_fields(request, response))
    return hmac.compare_digest(str(response.mac), expected)


def now_ns() -> int:
    return time.time_ns()


class LogThrottle:
    """At most one log line per key every `every_s` seconds, with how many were not logged
    since: a misconfigured or hostile peer sends several refused messages a second, and every
    waiting write retries through a Redis outage. The keys must be bounded (configured robot
    ids, fixed words), never text a sender chose."""

    def __init__(self, every_s: float = 30.0) -> None:
        self.every_s = every_s
        self._last: dict[object, tuple[float, int]] = {}

    def due(self, key: object, now: float | None = None) -> str | None:
        """None when a line of `key` was logged less than `every_s` ago (counted); else the
        suffix for the line: '' or ' (N more since the last line)'."""
        now = time.monotonic() if now is None else now
        at, unlogged = self._last.get(key, (-math.inf, 0))
        if now - at < self.every_s:
            self._last[key] = (at, unlogged + 1)
            return None
        self._last[key] = (now, 0)
        return f' ({unlogged} more since the last line)' if unlogged else ''


class Replay:
    """Refuses a signed request whose stamp is not within FRESH_S of now, or seen before."""

    def __init__(self, fresh_s: float = FRESH_S) -> None:
        self.fresh_ns = int(fresh_s * 1e9)
        self._seen: dict[str, int] = {}

    def refusal(self, stamp_ns: int, mac_hex: str, now: int | None = None) -> str:
        now = now_ns() if now is None else now
        if abs(now - stamp_ns) > self.fresh_ns:
            return f'stamp {(stamp_ns - now) / 1e9:+.1f} s from now (clocks apart, or a replay)'
        if mac_hex in self._seen:
            return 'replayed'
        self._seen = {m: s for m, s in self._seen.items() if now - s <= self.fresh_ns}
        self._seen[mac_hex] = stamp_ns
        return ''


# -- robodine robots keys ---------------------------------------------------------------------


def robots_command(args: argparse.Namespace) -> int:
    """`robodine robots keys`: a key for every robot of the config that has none."""
    cfg = load_restaurant(args.config)
    ids = [r.id for r in cfg.cooking_robots] + [r.id for r in cfg.serving_robots]
    made = create_keys(args.key_dir, ids)
    for path in made:
        print(f'created {path}')
    print(
        f'{len(made)} new, {len(ids) - len(made)} kept in {args.key_dir} (mode 0600): the '
        'dispatcher reads them all (ROBODINE_ROBOT_KEY_DIR); give each robot only its own file '
        '(parameter key_file)'
    )
    return 0
