"""Cook-job state in Redis: claims with leases and epochs, fenced results, the order's progress.

A job hash `rd:job:{job_id}` moves through

    queued -> dispatched -> cooking -> cooked
                  |            |
                  +------------+--> queued (retry elsewhere) | dead (after max_attempts)
    queued | dispatched -> withdrawn, cooking -> wasted   (cancelled from the console)

Every claim raises the job's `epoch`; the Cook goal carries it, and every later write about the
job (stage, lease renewal, result) names the epoch it belongs to. A write with an epoch other
than the current one is refused and counted (`rd:dispatch:stats` `fenced_writes`), so a
dispatcher that was paused past its lease, or a robot answering an old goal, changes nothing.

Claims and lease renewals are Lua scripts (one round trip, server clock); transitions that also
write order events use WATCH/MULTI so that they go through `orchestrator.timeline` and happen
exactly once: the last cooked dish sets the order `ready` and enqueues its delivery in the same
transaction that marks the dish cooked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from orchestrator import redis_keys as keys
from orchestrator import timeline
from orchestrator.dispatch.alerts import add_alert
from orchestrator.timeline import now_ms

QUEUED = 'queued'
DISPATCHED = 'dispatched'
COOKING = 'cooking'
COOKED = 'cooked'
DEAD = 'dead'
WITHDRAWN = 'withdrawn'
WASTED = 'wasted'
IN_FLIGHT = frozenset({DISPATCHED, COOKING})
# A job in one of these states will never be cooked by a robot again.
SETTLED = frozenset({COOKED, DEAD, WITHDRAWN, WASTED})

# Stream entry fields of a cook job (the intake contract), kept on dead letters for requeue.
ENTRY_FIELDS = (
    'job_id',
    'order_id',
    'table_id',
    'dish_id',
    'station',
    'options',
    'cook_time_s',
    'line',
)

_SERVER_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: job, order, stats. ARGV: owner, robot, lease_ms, entry_id, expect_epoch ('' = none).
# A job is claimable when queued, when its lease ran out, or when its owner re-claims the
# epoch it holds (to re-send the goal after a robot came back). Returns
# {new_epoch, attempts, previous_robot} or {0, status}.
_CLAIM = (
    _SERVER_NOW
    + """
local j = redis.call('HMGET', KEYS[1], 'status', 'epoch', 'lease_until', 'owner', 'robot')
local status = j[1]
if not status then return {0, 'missing'} end
local epoch = tonumber(j[2] or '0')
local inflight = status == 'dispatched' or status == 'cooking'
local ok = status == 'queued'
if inflight then
  if tonumber(j[3] or '0') < now then ok = true end
  if ARGV[5] ~= '' and tonumber(ARGV[5]) == epoch and j[4] == ARGV[1] then ok = true end
end
if not ok then return {0, status} end
epoch = epoch + 1
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')
if not inflight then
  attempts = attempts + 1
  redis.call('HINCRBY', KEYS[2], 'jobs_cooking', 1)
  redis.call('HINCRBY', KEYS[3], 'claims', 1)
else
  redis.call('HINCRBY', KEYS[3], 'reclaims', 1)
end
redis.call('HSET', KEYS[1], 'status', inflight and status or 'dispatched', 'epoch', epoch,
  'owner', ARGV[1], 'robot', ARGV[2], 'lease_until', now + tonumber(ARGV[3]),
  'attempts', attempts, 'claimed_at', now)
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'entry_id', ARGV[4]) end
return {epoch, attempts, j[5] or ''}
"""
)

# KEYS: job, stats. ARGV: epoch, owner, lease_ms. 0 = fenced: in flight under another epoch
# or owner. 1 = renewed, or settled meanwhile (its result is on its way; nothing to keep).
_RENEW = (
    _SERVER_NOW
    + """
local j = redis.call('HMGET', KEYS[1], 'status', 'epoch', 'owner')
if j[1] ~= 'dispatched' and j[1] ~= 'cooking' then return 1 end
if tonumber(j[2]) == tonumber(ARGV[1]) and j[3] == ARGV[2] then
  redis.call('HSET', KEYS[1], 'lease_until', now + tonumber(ARGV[3]))
  return 1
end
redis.call('HINCRBY', KEYS[2], 'fenced_writes', 1)
return 0
"""
)

# KEYS: job, stats. ARGV: epoch, stage, progress. 0 = fenced (in flight under another epoch).
_STAGE = """
local j = redis.call('HMGET', KEYS[1], 'status', 'epoch')
if j[1] ~= 'dispatched' and j[1] ~= 'cooking' then return 1 end  -- settled meanwhile
if tonumber(j[2]) == tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'stage', ARGV[2], 'progress', ARGV[3])
  return 1
end
redis.call('HINCRBY', KEYS[2], 'fenced_writes', 1)
return 0
"""


@dataclass(frozen=True)
class Claim:
    job_id: str
    epoch: int
    attempts: int
    previous_robot: str


async def claim_job(
    r: Redis,
    job_id: str,
    order_id: str,
    owner: str,
    robot_id: str,
    lease_s: float,
    entry_id: str = '',
    expect_epoch: int | None = None,
) -> Claim | str:
    """Take the job for `robot_id` under a new epoch; returns the Claim, or the job's status
    when it is not claimable (someone else holds an unexpired lease, or it is settled)."""
    res = await r.eval(
        _CLAIM,
        3,
        keys.job(job_id),
        keys.order(order_id),
        keys.DISPATCH_STATS,
        owner,
        robot_id,
        int(lease_s * 1000),
        entry_id,
        '' if expect_epoch is None else str(expect_epoch),
    )
    if int(res[0]) == 0:
        return str(res[1])
    return Claim(job_id, int(res[0]), int(res[1]), str(res[2]))


async def renew_lease(r: Redis, job_id: str, epoch: int, owner: str, lease_s: float) -> bool:
    return bool(
        await r.eval(
            _RENEW, 2, keys.job(job_id), keys.DISPATCH_STATS, epoch, owner, int(lease_s * 1000)
        )
    )


async def record_stage(r: Redis, job_id: str, epoch: int, stage: str, progress: float) -> bool:
    return bool(
        await r.eval(
            _STAGE, 2, keys.job(job_id), keys.DISPATCH_STATS, epoch, stage, f'{progress:.2f}'
        )
    )


def _counts(order: dict[str, str], cooked: int = 0, cooking: int = 0) -> dict[str, int]:
    return {
        'cooked': int(order.get('jobs_cooked') or 0) + cooked,
        'cooking': max(0, int(order.get('jobs_cooking') or 0) + cooking),
        'total': int(order.get('jobs_total') or 0),
    }


def _ack_entry(pipe: Pipeline, job: dict[str, str]) -> None:
    if job.get('entry_id'):
        stream = keys.cook_stream(job['station'])
        pipe.xack(stream, keys.COOK_GROUP, job['entry_id'])
        pipe.xdel(stream, job['entry_id'])


def _fenced(job: dict[str, str], epoch: int | None) -> bool:
    return epoch is not None and int(job.get('epoch') or 0) != epoch


def _enqueue_delivery(pipe: Pipeline, order: dict[str, str]) -> None:
    pipe.xadd(
        keys.DELIVERIES,
        {'order_id': order['id'], 'table_id': order['table_id'], 'at': str(now_ms())},
    )


def _settle_order(
    pipe: Pipeline, order: dict[str, str], counts: dict[str, int], data: dict[str, Any]
) -> None:
    """After a dish is cooked or cancelled: ready (+ delivery) when nothing is left to cook,
    cancelled when nothing was left to cook at all."""
    if order.get('status') in timeline.FINAL:
        return
    if counts['total'] == 0:
        timeline.add_event(pipe, order['id'], 'order.cancelled', data, timeline.CANCELLED)
    elif counts['cooked'] >= counts['total']:
        timeline.add_event(pipe, order['id'], 'order.ready', data, timeline.READY)
        _enqueue_delivery(pipe, order)


async def _bump(r: Redis, field: str) -> None:
    await r.hincrby(keys.DISPATCH_STATS, field, 1)


async def mark_started(r: Redis, job_id: str, epoch: int, robot_id: str) -> bool:
    """The robot accepted the goal: the dish is cooking (`dish.cooking`, order `cooking`)."""

    async def txn(pipe: Pipeline) -> bool:
        job = await pipe.hgetall(keys.job(job_id))
        if job.get('status') not in IN_FLIGHT or _fenced(job, epoch):
            return False
        first = job['status'] == DISPATCHED
        order = await pipe.hgetall(keys.order(job['order_id']))
        pipe.multi()
        pipe.hset(keys.job(job_id), mapping={'status': COOKING, 'robot': robot_id})
        if first and order.get('status') not in timeline.FINAL:
            status = (
                timeline.COOKING
                if order.get('status') in (timeline.RECEIVED, timeline.COOKING)
                else None
            )
            timeline.add_event(
                pipe,
                job['order_id'],
                'dish.cooking',
                {
                    'job_id': job_id,
                    'dish_id': job['dish_id'],
                    'robot_id': robot_id,
                    **_counts(order),
                },
                status,
            )
        return True

    ok = await r.transaction(txn, keys.job(job_id), value_from_callable=True)
    if not ok:
        await _bump(r, 'fenced_writes')
    return bool(ok)


async def complete_job(r: Redis, job_id: str, epoch: int | None, by: str) -> str:
    """Mark a dish cooked. `epoch` None means a person bumped it by hand from the console.

    Returns 'cooked', 'duplicate' (it was already), 'fenced' (stale epoch) or the settled
    status that forbids it ('withdrawn', 'wasted', 'dead', 'missing').
    """

    async def txn(pipe: Pipeline) -> str:
        job = await pipe.hgetall(keys.job(job_id))
        status = job.get('status', 'missing')
        if status == COOKED:
            return 'duplicate'
        if status in SETTLED or status == 'missing':
            return status
        if _fenced(job, epoch):
            return 'fenced'
        order = await pipe.hgetall(keys.order(job['order_id']))
        in_flight = status in IN_FLIGHT
        counts = _counts(order, cooked=1, cooking=-1 if in_flight else 0)
        data = {'job_id': job_id, 'dish_id': job['dish_id'], 'by': by, **counts}
        pipe.multi()
        pipe.hset(
            keys.job(job_id),
            mapping={'status': COOKED, 'cooked_at': now_ms(), 'cooked_by': by, 'lease_until': 0},
        )
        pipe.hincrby(keys.order(job['order_id']), 'jobs_cooked', 1)
        if in_flight:
            pipe.hincrby(keys.order(job['order_id']), 'jobs_cooking', -1)
        _ack_entry(pipe, job)
        if order.get('status') not in timeline.FINAL:
            status_now = timeline.COOKING if order.get('status') == timeline.RECEIVED else None
            timeline.add_event(pipe, job['order_id'], 'dish.cooked', data, status_now)
            _settle_order(pipe, order, counts, {'by': by, **counts})
        return COOKED

    out = await r.transaction(
        txn, keys.job(job_id), _order_key_of(job_id), value_from_callable=True
    )
    if out == 'fenced':
        await _bump(r, 'fenced_writes')
    return str(out)


def _order_key_of(job_id: str) -> str:
    # job_id is `{order_id}-{line:02d}-{unit:02d}`; watching the order serialises the last two
    # dishes of one order so exactly one of them sees "all cooked".
    return keys.order(job_id.rsplit('-', 2)[0])


async def fail_job(
    r: Redis, job_id: str, epoch: int, robot_id: str, reason: str, max_attempts: int
) -> str:
    """The robot could not cook it. Returns 'retry' (queued again, that robot avoided),
    'dead' (dead-lettered after `max_attempts`, operator alerted) or 'fenced'/'ignored'."""

    async def txn(pipe: Pipeline) -> str:
        job = await pipe.hgetall(keys.job(job_id))
        if job.get('status') not in IN_FLIGHT:
            return 'ignored'
        if _fenced(job, epoch):
            return 'fenced'
        failed_on = sorted({*json.loads(job.get('failed_on') or '[]'), robot_id})
        attempts = int(job.get('attempts') or 0)
        order_id = job['order_id']
        entry = await _entry_fields(pipe, job_id, job) if attempts >= max_attempts else {}
        pipe.multi()
        pipe.hincrby(keys.order(order_id), 'jobs_cooking', -1)
        common = {
            'failed_on': json.dumps(failed_on),
            'reason': reason,
            'lease_until': 0,
            'stage': '',
        }
        if attempts < max_attempts:
            pipe.hset(keys.job(job_id), mapping={'status': QUEUED, 'robot': '', **common})
            return 'retry'
        pipe.hset(keys.job(job_id), mapping={'status': DEAD, **common})
        pipe.xadd(
            keys.DEAD,
            {
                **entry,
                'reason': reason,
                'attempts': str(attempts),
                'robots': ','.join(failed_on),
                'at': str(now_ms()),
            },
        )
        _ack_entry(pipe, job)
        add_alert(
            pipe,
            'job_dead',
            'critical',
            f'{job["dish_id"]} for table {job.get("table_id", "?")} failed {attempts} '
            f'times ({reason}); requeue it or cook it by hand',
            order_id=order_id,
            job_id=job_id,
            robot_id=robot_id,
        )
        timeline.add_event(
            pipe,
            order_id,
            'dish.failed',
            {'job_id': job_id, 'dish_id': job['dish_id'], 'reason': reason},
        )
        return DEAD

    out = await r.transaction(txn, keys.job(job_id), value_from_callable=True)
    if out == 'fenced':
        await _bump(r, 'fenced_writes')
    return str(out)


async def _entry_fields(r: Redis | Pipeline, job_id: str, job: dict[str, str]) -> dict[str, str]:
    """The job's cook-stream entry (for the dead letter), rebuilt from the job if it is gone."""
    if job.get('entry_id'):
        found = await r.xrange(keys.cook_stream(job['station']), job['entry_id'], job['entry_id'])
        if found:
            return dict(found[0][1])
    return {'job_id': job_id, **{f: job[f] for f in ENTRY_FIELDS if f in job}}


async def cancel_job(r: Redis, job_id: str, by: str) -> dict[str, str]:
    """Cancel one dish (console). Returns {'result': 'withdrawn' | 'wasted' | 'cooked' |
    <status>, 'robot_id': ...}: not started yet -> withdrawn; being cooked -> wasted and the
    robot is told to stop (a `cancel` on `rd:control`); the epoch is raised so that the
    robot's late answer is refused. The order is settled when nothing is left to cook."""

    async def txn(pipe: Pipeline) -> dict[str, str]:
        job = await pipe.hgetall(keys.job(job_id))
        status = job.get('status', 'missing')
        if status in SETTLED or status == 'missing':
            return {'result': status, 'robot_id': job.get('robot', '')}
        order = await pipe.hgetall(keys.order(job['order_id']))
        result = WASTED if status == COOKING else WITHDRAWN
        in_flight = status in IN_FLIGHT
        counts = _counts(order, cooking=-1 if in_flight else 0)
        counts['total'] -= 1
        robot_id = job.get('robot', '') if in_flight else ''
        pipe.multi()
        pipe.hset(
            keys.job(job_id), mapping={'status': result, 'lease_until': 0, 'cancelled_by': by}
        )
        pipe.hincrby(keys.job(job_id), 'epoch', 1)
        pipe.hincrby(keys.order(job['order_id']), 'jobs_total', -1)
        if in_flight:
            pipe.hincrby(keys.order(job['order_id']), 'jobs_cooking', -1)
            pipe.xadd(
                keys.CONTROL,
                {'command': 'cancel', 'robot_id': robot_id, 'job_id': job_id, 'by': by},
            )
        _ack_entry(pipe, job)
        timeline.add_event(
            pipe,
            job['order_id'],
            'dish.cancelled',
            {'job_id': job_id, 'dish_id': job['dish_id'], 'result': result, 'by': by, **counts},
        )
        _settle_order(pipe, order, counts, {'by': by, **counts})
        return {'result': result, 'robot_id': robot_id}

    out = await r.transaction(
        txn, keys.job(job_id), _order_key_of(job_id), value_from_callable=True
    )
    return dict(out)


async def requeue_dead(r: Redis, dead_id: str, by: str) -> str | None:
    """Give a dead-lettered job another round of `max_attempts`; returns its job id."""
    found = await r.xrange(keys.DEAD, dead_id, dead_id)
    if not found:
        return None
    entry = dict(found[0][1])
    job_id = entry['job_id']

    async def txn(pipe: Pipeline) -> str | None:
        if await pipe.hget(keys.job(job_id), 'status') != DEAD:
            return None
        pipe.multi()
        pipe.hset(
            keys.job(job_id),
            mapping={
                'status': QUEUED,
                'attempts': 0,
                'failed_on': '[]',
                'robot': '',
                'entry_id': '',
            },
        )
        pipe.xadd(
            keys.cook_stream(entry['station']), {f: entry[f] for f in ENTRY_FIELDS if f in entry}
        )
        pipe.xdel(keys.DEAD, dead_id)
        timeline.add_event(
            pipe,
            entry['order_id'],
            'dish.requeued',
            {'job_id': job_id, 'dish_id': entry.get('dish_id', ''), 'by': by},
        )
        return job_id

    out = await r.transaction(txn, keys.job(job_id), value_from_callable=True)
    return None if out is None else str(out)


async def ack_entry(r: Redis, station: str, entry_id: str) -> None:
    """Drop a cook-stream entry whose job needs no dispatcher any more."""
    stream = keys.cook_stream(station)
    async with r.pipeline(transaction=True) as pipe:
        pipe.xack(stream, keys.COOK_GROUP, entry_id)
        pipe.xdel(stream, entry_id)
        await pipe.execute()


async def stats(r: Redis) -> dict[str, int]:
    return {k: int(v) for k, v in (await r.hgetall(keys.DISPATCH_STATS)).items()}
