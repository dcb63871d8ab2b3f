"""What the archive (orchestrator/archive/) reads from Redis, and its mark `rd:archive:upto`.

The archive copies finished records out of Redis; retention (`store/retention.py`) may only
trim what the archive already holds. `rd:archive:upto` (ms since the epoch) says: every order
created before it that is final, with its dishes, is in the archive, and so is every trip and
payment that was settled before it. Retention trims records older than
`min(its cutoff, archived_up_to)` (`retention_cutoff`); a Redis that never had an archive
(no mark) is trimmed by the cutoff alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.store import audit, jobs, orders, payments, sessions, trips
from orchestrator.store.jobs import JobRecord
from orchestrator.store.orders import OrderRecord
from orchestrator.store.payments import PaymentRecord
from orchestrator.store.records import from_fields
from orchestrator.store.sessions import DiningSession
from orchestrator.store.trips import TripRecord

# Timeline events whose time the archive keeps with the order.
STAMPS = {
    'order.ready': 'ready_at',
    'delivery.started': 'left_at',
    'delivery.served': 'served_at',
    'order.served': 'served_at',
}
# Payments that will not change any more but for a refund (archived again then).
SETTLED_PAYMENTS = frozenset(
    {payments.PAID, payments.DECLINED, payments.FAILED, payments.REFUNDED}
)


@dataclass(frozen=True)
class FinishedOrder:
    order: OrderRecord
    jobs: list[JobRecord]
    # ready_at / left_at / served_at from the timeline (0 when it never happened).
    stamps: dict[str, int]


async def archived_up_to(r: Redis) -> int | None:
    value = await r.get(keys.ARCHIVE_UPTO)
    return int(value) if value is not None else None


async def set_archived_up_to(r: Redis, at_ms: int) -> None:
    """Only ever moves forward (a late writer of an older mark changes nothing)."""
    await r.eval(
        "local v = tonumber(redis.call('GET', KEYS[1]) or '0') "
        "if tonumber(ARGV[1]) > v then redis.call('SET', KEYS[1], ARGV[1]) end",
        1,
        keys.ARCHIVE_UPTO,
        str(at_ms),
    )


async def retention_cutoff(r: Redis, cutoff_ms: int) -> int:
    """The cutoff retention may trim to: never past what the archive holds."""
    upto = await archived_up_to(r)
    return cutoff_ms if upto is None else min(cutoff_ms, upto)


async def orders_since(r: Redis, table_ids: Iterable[str], since_ms: int) -> list[str]:
    return await orders.ids_since(r, table_ids, since_ms)


async def finished_orders(r: Redis, order_ids: list[str]) -> list[OrderRecord | None]:
    """The orders (None where the hash is gone); the caller picks the final ones."""
    found = {o.id: o for o in await orders.get_many(r, order_ids)}
    return [found.get(i) for i in order_ids]


async def with_details(r: Redis, done: list[OrderRecord]) -> list[FinishedOrder]:
    """Final orders with their dish jobs and the times from their timelines."""
    out = []
    all_jobs = await jobs.get_many(r, [j for o in done for j in o.job_ids()])
    for o in done:
        stamps = dict.fromkeys(STAMPS.values(), 0)
        for event in await orders.timeline(r, o.id):
            name = STAMPS.get(str(event.get('type')))
            if name and not stamps[name]:
                stamps[name] = int(event.get('at') or 0)
        out.append(FinishedOrder(o, [all_jobs[j] for j in o.job_ids() if j in all_jobs], stamps))
    return out


async def _scan(r: Redis, pattern: str) -> AsyncIterator[str]:
    async for key in r.scan_iter(pattern, count=500):
        yield str(key)


async def trip_records(r: Redis) -> list[TripRecord]:
    """Every trip still in Redis."""
    out = []
    async for key in _scan(r, keys.trip('*')):
        trip = await trips.get(r, key.rsplit(':', 1)[1])
        if trip is not None:
            out.append(trip)
    return out


async def payment_records(r: Redis) -> list[PaymentRecord]:
    """Every settled payment still in Redis."""
    out = []
    async for key in _scan(r, keys.payment('*')):
        p = await payments.get(r, key.rsplit(':', 1)[1])
        if p is not None and p.status in SETTLED_PAYMENTS:
            out.append(p)
    return out


async def closed_sessions(r: Redis) -> list[DiningSession]:
    """Dining sessions that closed and are still kept for their receipts."""
    out = []
    async for key in _scan(r, keys.visit('*')):
        if key.count(':') != 2:  # rd:visit:{sid}:payments is a list of its own
            continue
        s = await sessions.archived(r, key.rsplit(':', 1)[1])
        if s is not None and not s.open:
            out.append(s)
    return out


async def audit_after(r: Redis, after: str, count: int) -> list[tuple[str, audit.AuditEntry]]:
    got = await r.xrange(keys.AUDIT, f'({after}' if after != '0-0' else '-', '+', count=count)
    return [(i, from_fields(audit.AuditEntry, f)) for i, f in got]
