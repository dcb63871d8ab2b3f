"""Operator alerts: `rd:alerts` plus an `alert` event on the restaurant feed, in one write."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from orchestrator import redis_keys as keys
from orchestrator.timeline import add_feed_event, now_ms

ALERTS_MAXLEN = 10_000


def add_alert(pipe: Pipeline, kind: str, severity: str, message: str, **refs: str) -> None:
    """Queue an alert on `pipe`; `refs` are robot_id / order_id / job_id / trip_id."""
    at = str(now_ms())
    fields = {
        'kind': kind,
        'severity': severity,
        'message': message,
        'at': at,
        **{k: v for k, v in refs.items() if v},
    }
    pipe.xadd(keys.ALERTS, fields, maxlen=ALERTS_MAXLEN, approximate=True)
    add_feed_event(pipe, 'alert', dict(fields), int(at))


async def raise_alert(r: Redis, kind: str, severity: str, message: str, **refs: str) -> None:
    async with r.pipeline(transaction=True) as pipe:
        add_alert(pipe, kind, severity, message, **refs)
        await pipe.execute()
