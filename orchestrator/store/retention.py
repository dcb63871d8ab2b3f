"""Retention: trims finished records older than a cutoff, never a live one.

What goes, for records older than the cutoff (`settings.retention_days`, `robodine retention`;
for orders and trips, never past what the archive already holds: `store/history.py`):
- orders that reached a final status (served, cancelled, failed): the order hash, its timeline
  stream, its entry in the table's index and its cook jobs; an order still open stays, however
  old, with everything it needs;
- trips that finished, or were abandoned (still `active`, their lease long gone) with none of
  their orders open;
- dead letters whose dish was settled meanwhile (requeued, cooked by hand, dropped) or whose
  order is over;
- acknowledged alerts (and acknowledgements of alerts no longer in the capped stream);
- feed entries (the feed is only ever read live).

Stream entries of the work queues are deleted when acknowledged (`streams.ack`), idempotency
records and sign-in sessions expire by TTL, and the audit trail is capped: none of them needs
trimming.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.store import feed, history, jobs, orders, trips
from orchestrator.store.records import from_fields

DAY_MS = 24 * 3600 * 1000
BATCH = 500


@dataclass
class Trimmed:
    """How many records of each kind were trimmed."""

    orders: int = 0
    jobs: int = 0
    trips: int = 0
    dead_letters: int = 0
    alerts: int = 0
    feed_entries: int = 0
    kept_open: list[str] = field(default_factory=list)

    def summary(self) -> str:
        counts = ', '.join(
            f'{getattr(self, f.name)} {f.name.replace("_", " ")}'
            for f in fields(self)
            if f.name != 'kept_open'
        )
        kept = f'; kept {len(self.kept_open)} old orders still open' if self.kept_open else ''
        return f'trimmed {counts}{kept}'


def cutoff_ms(now_ms: int, days: float) -> int:
    return now_ms - int(days * DAY_MS)


async def trim(r: Redis, cutoff: int) -> Trimmed:
    """Trim every finished record older than `cutoff` (ms since the epoch); orders and trips
    only as far as the archive holds them (`history.retention_cutoff`)."""
    out = Trimmed()
    archived = await history.retention_cutoff(r, cutoff)
    await _orders(r, archived, out)
    await _trips(r, archived, out)
    await _dead_letters(r, cutoff, out)
    await _alerts(r, cutoff, out)
    out.feed_entries = int(await r.xtrim(feed.STREAM, minid=str(cutoff), approximate=False))
    return out


async def _orders(r: Redis, cutoff: int, out: Trimmed) -> None:
    async for index in r.scan_iter(keys.table_orders('*')):
        # Ordered by creation time: only those before the cutoff are looked at.
        old = await r.zrangebyscore(index, '-inf', f'({cutoff}')
        for start in range(0, len(old), BATCH):
            batch = old[start : start + BATCH]
            records = {o.id: o for o in await orders.get_many(r, batch)}
            async with r.pipeline(transaction=False) as pipe:
                for order_id in batch:
                    order = records.get(order_id)
                    if order is not None and not order.final:
                        out.kept_open.append(order_id)
                        continue
                    # A missing hash leaves an index entry that points nowhere: it goes too.
                    job_ids = order.all_job_ids() if order is not None else []
                    pipe.delete(
                        keys.order(order_id),
                        keys.order_events(order_id),
                        *(keys.job(j) for j in job_ids),
                    )
                    pipe.zrem(index, order_id)
                    out.orders += order is not None
                    out.jobs += len(job_ids)
                await pipe.execute()


async def _trips(r: Redis, cutoff: int, out: Trimmed) -> None:
    async for key in r.scan_iter(keys.trip('*')):
        trip = await trips.get(r, str(key).rsplit(':', 1)[1])
        if trip is None or trip.created_at >= cutoff:
            continue
        if trip.status == trips.DONE and trip.finished_at >= cutoff:
            continue
        if trip.status != trips.DONE and trip.lease_until >= cutoff:
            continue
        if any(not o.final for o in await orders.get_many(r, trip.orders)):
            continue  # its food is still somewhere: an operator sorts it out first
        await r.delete(key)
        out.trips += 1


async def _dead_letters(r: Redis, cutoff: int, out: Trimmed) -> None:
    old = await r.xrange(keys.DEAD, '-', f'({cutoff}')
    if not old:
        return
    letters = [(i, from_fields(jobs.DeadLetter, f)) for i, f in old]
    states = await jobs.statuses(r, [d.job_id for _, d in letters])
    records = {o.id: o for o in await orders.get_many(r, {d.order_id for _, d in letters})}
    settled = [
        i
        for (i, d), status in zip(letters, states, strict=True)
        if status != jobs.DEAD or d.order_id not in records or records[d.order_id].final
    ]
    if settled:
        out.dead_letters = int(await r.xdel(keys.DEAD, *settled))


async def _alerts(r: Redis, cutoff: int, out: Trimmed) -> None:
    """Old alerts that were acknowledged or resolved by themselves."""
    acked = await r.smembers(keys.ALERTS_ACKED)
    resolved = await r.smembers(keys.ALERTS_RESOLVED)
    handled = acked | resolved
    if not handled:
        return
    present = {i for i, _ in await r.xrange(keys.ALERTS, '-', f'({cutoff}')}
    old = [i for i in handled if i in present]
    # Marks of alerts the capped stream dropped point nowhere.
    gone = [i for i in handled if int(i.split('-', 1)[0]) < cutoff and i not in present]
    async with r.pipeline(transaction=True) as pipe:
        if old:
            pipe.xdel(keys.ALERTS, *old)
        if old or gone:
            pipe.srem(keys.ALERTS_ACKED, *old, *gone)
            pipe.srem(keys.ALERTS_RESOLVED, *old, *gone)
        await pipe.execute()
    out.alerts = len(old)
