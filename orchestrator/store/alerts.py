"""Operator alerts: `rd:alerts` (+ `rd:alerts:acked`, and `rd:alerts:resolved` for those
whose cause went away by itself), an `alert` feed event with each, and the once-per-subject
markers `rd:alerted:{kind}:{subject}`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from orchestrator import redis_keys as keys
from orchestrator.store import feed
from orchestrator.store.records import to_fields
from orchestrator.texts import Said, Value

ALERTS_MAXLEN = 10_000
SHOWN = 200


@dataclass(frozen=True)
class Alert:
    kind: str
    severity: str  # 'info' | 'warning' | 'critical'
    # In English; `said` and `args` are its text's key and values (texts.Said), which the console
    # says in the operator's language.
    message: str
    at: int
    said: str = ''
    args: dict[str, Value] = field(default_factory=dict)
    robot_id: str = ''
    order_id: str = ''
    job_id: str = ''
    trip_id: str = ''
    table_id: str = ''


def add(pipe: Pipeline, kind: str, severity: str, said: Said, **refs: str) -> None:
    """Queue an alert on `pipe`, its text `said` (`alert.…`); `refs` are robot_id / order_id /
    job_id / trip_id / table_id."""
    alert = Alert(
        kind,
        severity,
        str(said),
        feed.now_ms(),
        said.key,
        dict(said.args),
        **{k: v for k, v in refs.items() if v},
    )
    fields = {k: v for k, v in to_fields(alert).items() if v}
    pipe.xadd(keys.ALERTS, fields, maxlen=ALERTS_MAXLEN, approximate=True)
    feed.add_event(pipe, 'alert', dict(fields), alert.at)


async def raise_alert(r: Redis, kind: str, severity: str, said: Said, **refs: str) -> None:
    async with r.pipeline(transaction=True) as pipe:
        add(pipe, kind, severity, said, **refs)
        await pipe.execute()


async def raise_once(
    r: Redis,
    kind: str,
    subject: str,
    severity: str,
    said: Said,
    ttl_s: int | None = None,
    **refs: str,
) -> bool:
    """Raise the alert unless one of `kind` was raised for `subject` (and not cleared, or
    expired after `ttl_s`); several processes may check, one raises."""
    if not await r.set(keys.alert_raised(kind, subject), '1', nx=True, ex=ttl_s):
        return False
    await raise_alert(r, kind, severity, said, **refs)
    return True


async def raise_unique(
    r: Redis, kind: str, subject: str, severity: str, said: Said, ttl_s: int, **refs: str
) -> bool:
    """`raise_once` with the marker and the alert in one transaction, for a caller that
    retries after a connection error: whether or not the first attempt got through, the
    alert is raised exactly once."""
    marker = keys.alert_raised(kind, subject)

    async def txn(pipe: Pipeline) -> bool:
        if await pipe.exists(marker):
            return False
        pipe.multi()
        pipe.set(marker, '1', ex=ttl_s)
        add(pipe, kind, severity, said, **refs)
        return True

    return bool(await r.transaction(txn, marker, value_from_callable=True))


async def clear_once(r: Redis, kinds: Iterable[str], *subjects: str) -> None:
    """The conditions `kinds` are over for these subjects: the next one raises a new alert."""
    markers = [keys.alert_raised(k, s) for k in kinds for s in subjects]
    if markers:
        await r.delete(*markers)


async def recent(r: Redis, count: int = SHOWN) -> list[dict[str, Any]]:
    """The newest alerts, each marked acked or not, resolved or not."""
    entries = await r.xrevrange(keys.ALERTS, count=count)
    if not entries:
        return []
    ids = [i for i, _ in entries]
    async with r.pipeline(transaction=False) as pipe:
        pipe.smismember(keys.ALERTS_ACKED, ids)
        pipe.smismember(keys.ALERTS_RESOLVED, ids)
        acked, resolved = await pipe.execute()
    return [
        {'id': i, **f, 'acked': bool(a), 'resolved': bool(s)}
        for (i, f), a, s in zip(entries, acked, resolved, strict=True)
    ]


def handled(alert: dict[str, Any]) -> bool:
    """Acknowledged by an operator, or its cause is gone: no longer wants attention."""
    return bool(alert['acked'] or alert['resolved'])


async def resolve(r: Redis, alert_ids: list[str]) -> None:
    """The causes of these alerts went away (the food was served, say): consoles stop counting
    them as open and show them resolved."""
    if not alert_ids:
        return
    async with r.pipeline(transaction=True) as pipe:
        pipe.sadd(keys.ALERTS_RESOLVED, *alert_ids)
        feed.add_event(pipe, 'alert.resolved', {'alert_ids': alert_ids})
        await pipe.execute()


async def acknowledge(r: Redis, alert_id: str, by: str) -> bool:
    """Mark an alert handled; False if it does not exist. Consoles hear it on the feed."""
    try:
        if not await r.xrange(keys.ALERTS, alert_id, alert_id):
            return False
    except ResponseError:  # not a stream id at all
        return False
    async with r.pipeline(transaction=True) as pipe:
        pipe.sadd(keys.ALERTS_ACKED, alert_id)
        feed.add_event(pipe, 'alert.acked', {'alert_id': alert_id, 'by': by})
        await pipe.execute()
    return True
