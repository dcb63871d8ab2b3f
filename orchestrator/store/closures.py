"""`rd:closures`: the aisles and waypoints the operator closed (README "Traffic in the aisles"),
one JSON string `{"version": n, "closed": {name: {"by": operator, "at": ms}}}` so that a change
and the check that the fleet can still work with the result are one WATCHed transaction: two
operators closing the last two ways to the docks at once cannot both succeed. The version is
raised by every change, to at least the wall clock in ms: a set made after Redis lost its data
still passes for newer with a controller or robot that took one before. The dispatcher sends the
set, with it, to the traffic controller and the serving robots. Each
change is also a `floor.closures` feed event carrying the whole set, which consoles follow."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from orchestrator import redis_keys as keys
from orchestrator.store import feed
from orchestrator.store.feed import now_ms

FEED_EVENT = 'floor.closures'
ATTEMPTS = 10


class Busy(Exception):
    """The set changed under every one of ATTEMPTS tries."""


@dataclass(frozen=True)
class Closed:
    version: int = 0
    # Closure name -> who closed it and when (ms).
    closed: dict[str, dict[str, Any]] = field(default_factory=dict)

    def view(self) -> list[dict[str, Any]]:
        return [{'name': n, **c} for n, c in sorted(self.closed.items())]


def _parse(raw: str | None) -> Closed:
    if not raw:
        return Closed()
    data = json.loads(raw)
    return Closed(int(data.get('version', 0)), dict(data.get('closed', {})))


async def read(r: Redis) -> Closed:
    return _parse(await r.get(keys.CLOSURES))


async def change(
    r: Redis, decide: Callable[[Closed], dict[str, dict[str, Any]]], by: str
) -> Closed:
    """Replace the closed set by `decide(current)` (which may raise to refuse), all or
    nothing, with a raised version and a feed event; returns the new state."""
    for _ in range(ATTEMPTS):
        async with r.pipeline(transaction=True) as pipe:
            await pipe.watch(keys.CLOSURES)
            now = _parse(await pipe.get(keys.CLOSURES))
            after = Closed(max(now.version + 1, now_ms()), decide(now))
            pipe.multi()
            pipe.set(keys.CLOSURES, json.dumps({'version': after.version, 'closed': after.closed}))
            feed.add_event(pipe, FEED_EVENT, {'by': by, 'closures': after.view()})
            try:
                await pipe.execute()
            except WatchError:
                continue
            return after
    raise Busy
