"""Cook jobs: `rd:job:{job_id}`, the station streams `rd:cook:{station}` and `rd:dead`.

A job hash moves through

    queued -> dispatched -> cooking -> cooked
                  |            |
                  +------------+--> queued (retry elsewhere) | dead (after max_attempts)
    queued | dispatched -> withdrawn, cooking -> wasted   (cancelled from the console)
    dead -> queued (requeued) | cooked (cooked by hand, bumped) | withdrawn (line dropped)
    dispatched | cooking -> cooked (bumped: the robot is told to stop, its copy is waste)

Every claim raises the job's `epoch`; the Cook goal carries it, and every later write about the
job (stage, lease renewal, result) names the epoch it belongs to. A write with an epoch other
than the current one is refused and counted (`fenced_writes`), so a dispatcher that was paused
past its lease, or a robot answering an old goal, changes nothing.

Claims and lease renewals are Lua scripts (one round trip, server clock); transitions that also
write order events use WATCH/MULTI so that they go through `store.orders` and happen exactly
once: the last cooked dish sets the order `ready` and enqueues its delivery in the same
transaction that marks the dish cooked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from orchestrator import redis_keys as keys
from orchestrator.store import (
    alerts,
    commands,
    deliveries,
    feed,
    orders,
    replication,
    stats,
    stock,
    streams,
)
from orchestrator.store.feed import now_ms
from orchestrator.store.orders import OrderRecord
from orchestrator.store.records import changes, from_fields, to_fields
from orchestrator.store.replication import Replicas
from orchestrator.texts import Said

GROUP = keys.DISPATCH_GROUP

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
# Settled for good: nothing an operator can do changes it (a dead job waits for one).
FINISHED = SETTLED - {DEAD}


@dataclass(frozen=True)
class CookEntry:
    """A cook job as intake queues it on its station's stream (one per dish unit)."""

    job_id: str
    order_id: str
    table_id: str
    dish_id: str
    station: str
    # 'option=choice' pairs.
    options: list[str] = field(default_factory=list)
    cook_time_s: float = 0.0
    line: int = 0
    # When the policy counts it as arrived (ms; 0: its stream entry's time). A dish remade
    # after its food was lost keeps its order's time, so it goes before newer orders.
    arrived_at: int = 0


@dataclass(frozen=True)
class JobRecord(CookEntry):
    """The job's state: the entry's fields plus its claim, lease and progress."""

    status: str = QUEUED
    epoch: int = 0
    attempts: int = 0
    owner: str = ''
    robot: str = ''
    lease_until: int = 0
    # Until when (ms) the robot may go on with it on the last lease it was told: the job moves
    # to another robot only after this, so two robots never cook it at once.
    held_until: int = 0
    claimed_at: int = 0
    # The stream entry the job came from (acknowledged when the job is settled).
    entry_id: str = ''
    stage: str = ''
    progress: float = 0.0
    failed_on: list[str] = field(default_factory=list)
    reason: str = ''
    cooked_at: int = 0
    cooked_by: str = ''
    cancelled_by: str = ''
    # Robots that started a copy of the dish after the job had moved on and threw it away
    # (`record_waste`): food cooked twice, once for nothing.
    wasted_by: list[str] = field(default_factory=list)
    # What the dish took from stock at intake (store/stock.py): given back if withdrawn.
    uses: dict[str, int] = field(default_factory=dict)

    def entry(self) -> CookEntry:
        return entry_of(self)


@dataclass(frozen=True)
class DeadLetter(CookEntry):
    reason: str = ''
    attempts: int = 0
    # The robots it failed on, comma-separated.
    robots: str = ''
    at: int = 0


def entry_of(record: CookEntry) -> CookEntry:
    """The plain cook entry of a job or dead letter."""
    return CookEntry(**{f.name: getattr(record, f.name) for f in fields(CookEntry)})


def stream(station: str) -> str:
    return keys.cook_stream(station)


def entry_fields(e: CookEntry) -> dict[str, str]:
    """The entry's fields, each encoded (a Cook goal's, a dead letter's)."""
    return to_fields(e)


# The job hash and the cook stream hold the entry as one field, its `entry_fields` as JSON:
# every order writes it twice per dish, and each field is an argument of the intake script and
# an entry in the AOF (nine of them were a seventh of Redis's work an order).
ENTRY = 'entry'


def pack(fields: Mapping[str, str]) -> str:
    """The `ENTRY` field of an entry's `entry_fields` (intake fills in a copy per dish unit)."""
    return orjson.dumps(fields).decode()


def packed(e: CookEntry) -> dict[str, str]:
    """The entry as its stream and its job hash hold it."""
    return {ENTRY: pack(entry_fields(e))}


def _unpacked(fields: Mapping[str, str]) -> Mapping[str, str]:
    """A stream entry's or job hash's fields with its entry's spread out ({} if the entry is
    not one). Those written before the entry was packed (a restaurant upgraded with jobs
    queued) hold them spread already."""
    if ENTRY not in fields:
        return fields
    try:
        entry = orjson.loads(fields[ENTRY])
    except orjson.JSONDecodeError:
        return {}
    return {**entry, **fields} if isinstance(entry, dict) else {}


def parse_entry(fields: Mapping[str, str]) -> CookEntry | None:
    """A stream entry's job, or None for an entry that is not one (deleted, foreign)."""
    fields = _unpacked(fields)
    if not fields.get('job_id') or not fields.get('station'):
        return None
    return from_fields(CookEntry, {'order_id': '', 'table_id': '', 'dish_id': '', **fields})


def _record(h: Mapping[str, str]) -> JobRecord | None:
    """The job of a hash, None if there is none."""
    h = _unpacked(h)
    return from_fields(JobRecord, h) if 'job_id' in h else None


def hash_fields(job: JobRecord) -> dict[str, str]:
    """A whole job hash: its entry packed and its state."""
    state = {k: v for k, v in to_fields(job).items() if k not in CookEntry.__dataclass_fields__}
    return {**packed(job.entry()), **state}


def new_job(e: CookEntry) -> dict[str, str]:
    """The hash of a job not yet claimed: its entry (so that a dead letter or a requeue never
    needs the stream entry) and its state."""
    return {**packed(e), **changes(JobRecord, status=QUEUED, epoch=0, attempts=0)}


def queue(pipe: Pipeline, e: CookEntry) -> None:
    """Queue a new job on its station (a dish made again after its food was lost)."""
    pipe.hset(keys.job(e.job_id), mapping=new_job(e))
    pipe.xadd(stream(e.station), packed(e))


_SERVER_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: job, order, stats. ARGV: owner, robot, lease_ms, entry_id, expect_epoch ('' = none),
# held_until_ms (what the goal tells the robot). A job is claimable when queued, when its lease
# ran out (for another robot: once the robot that had it stopped holding it too), or when its
# owner re-claims the epoch it holds (to re-send the goal after a robot came back). Returns
# {new_epoch, attempts, previous_robot} or {0, status}.
_CLAIM = (
    _SERVER_NOW
    + """
local j = redis.call('HMGET', KEYS[1], 'status', 'epoch', 'lease_until', 'owner', 'robot',
  'held_until')
local status = j[1]
if not status then return {0, 'missing'} end
local epoch = tonumber(j[2] or '0')
local inflight = status == 'dispatched' or status == 'cooking'
local ok = status == 'queued'
if inflight then
  local free = tonumber(j[3] or '0')
  if j[5] ~= ARGV[2] then free = math.max(free, tonumber(j[6] or '0')) end
  if free < now then ok = true end
  if ARGV[5] ~= '' and tonumber(ARGV[5]) == epoch and j[4] == ARGV[1] then ok = true end
end
if not ok then
  -- Re-claiming what it held under an epoch that is no longer the job's: fenced.
  if inflight and ARGV[5] ~= '' then redis.call('HINCRBY', KEYS[3], 'fenced_writes', 1) end
  return {0, status}
end
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
  'attempts', attempts, 'claimed_at', now,
  'held_until', math.max(tonumber(j[6] or '0'), tonumber(ARGV[6])))
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'entry_id', ARGV[4]) end
return {epoch, attempts, j[5] or ''}
"""
)

# KEYS: job, stats. ARGV: epoch, owner, lease_ms, held_until_ms (0 if the robot is not told).
# Returns RENEWED, SETTLED_MEANWHILE (settled while this owner held it: its result is on its
# way, or it was cancelled or bumped, which raise the epoch: nothing to keep) or FENCED (in
# flight under another epoch or owner, or settled by another owner: taken over, as `complete`
# says of a stale result).
_RENEW = (
    _SERVER_NOW
    + """
local j = redis.call('HMGET', KEYS[1], 'status', 'epoch', 'owner', 'held_until')
if j[1] ~= 'dispatched' and j[1] ~= 'cooking' then
  if j[3] == ARGV[2] then return 2 end
elseif tonumber(j[2]) == tonumber(ARGV[1]) and j[3] == ARGV[2] then
  redis.call('HSET', KEYS[1], 'lease_until', now + tonumber(ARGV[3]),
    'held_until', math.max(tonumber(j[4] or '0'), tonumber(ARGV[4])))
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
    # As many replicas as asked confirmed it (always true without `replicas`).
    replicated: bool = True


async def claim(
    r: Redis,
    job_id: str,
    owner: str,
    robot_id: str,
    lease_s: float,
    entry_id: str = '',
    expect_epoch: int | None = None,
    held_until_ns: int = 0,
    replicas: Replicas | None = None,
) -> Claim | str:
    """Take the job for `robot_id` under a new epoch; returns the Claim, or the job's status
    when it is not claimable (someone else holds an unexpired lease, the robot that had it
    may still be cooking it, or it is settled). `held_until_ns` is the hold the goal gives
    the robot (wall clock, compared with Redis's: the hosts' clocks must agree). With
    `replicas`, the claim says whether they confirmed it: a claim a failover rolls back is
    taken again under the same epoch, maybe for another robot."""
    (res,), replicated = await replication.written(
        r,
        replicas,
        lambda pipe: pipe.eval(
            _CLAIM,
            3,
            keys.job(job_id),
            orders.key_of_job(job_id),
            stats.KEY,
            owner,
            robot_id,
            int(lease_s * 1000),
            entry_id,
            '' if expect_epoch is None else str(expect_epoch),
            held_until_ns // 1_000_000,
        ),
    )
    if int(res[0]) == 0:
        return str(res[1])
    return Claim(job_id, int(res[0]), int(res[1]), str(res[2]), replicated)


# What a lease renewal found (`_RENEW`).
FENCED, RENEWED, SETTLED_MEANWHILE = 0, 1, 2


@dataclass(frozen=True)
class Lease:
    """A lease to renew: the job, the epoch it is held under and the hold the robot is about
    to be told (wall clock, ns; 0 if it is not told)."""

    job_id: str
    epoch: int
    held_until_ns: int = 0


async def renew_leases(
    r: Redis, owner: str, lease_s: float, leases: list[Lease], replicas: Replicas | None = None
) -> tuple[list[int], bool]:
    """Extend the leases in one round trip, recording each hold before the robot is told;
    FENCED, RENEWED or SETTLED_MEANWHILE for each, and whether `replicas` confirmed them (tell
    the robots only then: a hold a failover rolls back lets another robot claim the job while
    this one still cooks it)."""

    def write(pipe: Pipeline) -> None:
        for lease in leases:
            pipe.eval(
                _RENEW,
                2,
                keys.job(lease.job_id),
                stats.KEY,
                lease.epoch,
                owner,
                int(lease_s * 1000),
                lease.held_until_ns // 1_000_000,
            )

    results, replicated = await replication.written(r, replicas, write)
    return [int(x) for x in results], replicated


async def record_stage(r: Redis, job_id: str, epoch: int, stage: str, progress: float) -> bool:
    return bool(
        await r.eval(_STAGE, 2, keys.job(job_id), stats.KEY, epoch, stage, f'{progress:.2f}')
    )


async def get(r: Redis | Pipeline, job_id: str) -> JobRecord | None:
    return _record(await r.hgetall(keys.job(job_id)))


async def get_many(r: Redis, job_ids: Iterable[str]) -> dict[str, JobRecord]:
    """The jobs that exist among `job_ids`, by id, in one round trip."""
    wanted = list(job_ids)
    async with r.pipeline(transaction=False) as pipe:
        for jid in wanted:
            pipe.hgetall(keys.job(jid))
        hashes = await pipe.execute()
    found = {jid: _record(h) for jid, h in zip(wanted, hashes, strict=True)}
    return {jid: job for jid, job in found.items() if job is not None}


async def statuses(r: Redis, job_ids: list[str]) -> list[str | None]:
    async with r.pipeline(transaction=False) as pipe:
        for jid in job_ids:
            pipe.hget(keys.job(jid), 'status')
        return list(await pipe.execute())


@dataclass(frozen=True)
class Counts:
    cooked: int
    cooking: int
    total: int

    def data(self) -> dict[str, int]:
        return {'cooked': self.cooked, 'cooking': self.cooking, 'total': self.total}


def _counts(order: OrderRecord | None, cooked: int = 0, cooking: int = 0) -> Counts:
    if order is None:
        return Counts(cooked, max(0, cooking), 0)
    return Counts(
        order.jobs_cooked + cooked, max(0, order.jobs_cooking + cooking), order.jobs_total
    )


def _ack_entry(pipe: Pipeline, job: JobRecord) -> None:
    if job.entry_id:
        streams.ack(pipe, stream(job.station), GROUP, job.entry_id)


def _fenced(job: JobRecord, epoch: int | None) -> bool:
    return epoch is not None and job.epoch != epoch


def _settle_order(
    pipe: Pipeline, order: OrderRecord | None, counts: Counts, data: dict[str, Any]
) -> None:
    """After a dish is cooked or cancelled: ready (+ delivery) when nothing is left to cook,
    cancelled when nothing was left to cook at all."""
    if order is None or order.final:
        return
    if counts.total == 0:
        orders.add_event(pipe, order.id, 'order.cancelled', data, orders.CANCELLED)
    elif counts.cooked >= counts.total:
        orders.add_event(pipe, order.id, 'order.ready', data, orders.READY)
        deliveries.enqueue(pipe, order.id, order.table_id)


async def mark_started(r: Redis, job_id: str, epoch: int, robot_id: str) -> bool:
    """The robot accepted the goal: the dish is cooking (`dish.cooking`, order `cooking`)."""

    async def txn(pipe: Pipeline) -> bool:
        job = await get(pipe, job_id)
        if job is None or job.status not in IN_FLIGHT or _fenced(job, epoch):
            return False
        first = job.status == DISPATCHED
        order = await orders.get(pipe, job.order_id)
        pipe.multi()
        pipe.hset(keys.job(job_id), mapping=changes(JobRecord, status=COOKING, robot=robot_id))
        if first and order is not None and not order.final:
            status = orders.COOKING if order.status in (orders.RECEIVED, orders.COOKING) else None
            orders.add_event(
                pipe,
                job.order_id,
                'dish.cooking',
                {
                    'job_id': job_id,
                    'dish_id': job.dish_id,
                    'robot_id': robot_id,
                    **_counts(order).data(),
                },
                status,
            )
        return True

    ok = await r.transaction(txn, keys.job(job_id), value_from_callable=True)
    if not ok:
        await stats.bump(r, 'fenced_writes')
    return bool(ok)


async def complete(r: Redis, job_id: str, epoch: int | None, by: str) -> str:
    """Mark a dish cooked. `epoch` None means a person bumped it by hand from the console,
    which also settles a dead-lettered dish (its dead letters go) and stops a robot cooking it
    (as a cancel does: a `cancel` command, the epoch raised so its late answer is refused).

    Returns 'cooked', 'duplicate' (it was already), 'fenced' (stale epoch) or the settled
    status that forbids it ('withdrawn', 'wasted', 'missing'; 'dead' for a robot's result).
    """

    async def txn(pipe: Pipeline) -> str:
        job = await get(pipe, job_id)
        if job is None:
            return 'missing'
        if job.status == COOKED:  # a stale epoch's result is refused even once cooked
            return 'fenced' if _fenced(job, epoch) else 'duplicate'
        if job.status in FINISHED or (job.status == DEAD and epoch is not None):
            return job.status
        if _fenced(job, epoch):
            return 'fenced'
        letters = await _dead_letter_ids(pipe, job) if job.status == DEAD else []
        order = await orders.get(pipe, job.order_id)
        in_flight = job.status in IN_FLIGHT
        counts = _counts(order, cooked=1, cooking=-1 if in_flight else 0)
        data = {'job_id': job_id, 'dish_id': job.dish_id, 'by': by, **counts.data()}
        pipe.multi()
        pipe.hset(
            keys.job(job_id),
            mapping=changes(
                JobRecord, status=COOKED, cooked_at=now_ms(), cooked_by=by, lease_until=0
            ),
        )
        orders.count_dishes(pipe, job.order_id, cooked=1, cooking=-1 if in_flight else 0)
        if in_flight and epoch is None:
            # Cooked by hand while a robot cooks it: the robot's copy would be a second dish.
            pipe.hincrby(keys.job(job_id), 'epoch', 1)
            _stop_robot(pipe, job, by)
        _ack_entry(pipe, job)
        _resolve_dead(pipe, job, letters, by)
        if order is not None and not order.final:
            status_now = orders.COOKING if order.status == orders.RECEIVED else None
            orders.add_event(pipe, job.order_id, 'dish.cooked', data, status_now)
            _settle_order(pipe, order, counts, {'by': by, **counts.data()})
        return COOKED

    out = await r.transaction(
        txn, keys.job(job_id), orders.key_of_job(job_id), value_from_callable=True
    )
    if out == 'fenced':
        await stats.bump(r, 'fenced_writes')
    return str(out)


async def fail(
    r: Redis, job_id: str, epoch: int, robot_id: str, reason: str, max_attempts: int
) -> str:
    """The robot could not cook it. Returns 'retry' (queued again, that robot avoided),
    'dead' (dead-lettered after `max_attempts`, operator alerted) or 'fenced'/'ignored'."""

    async def txn(pipe: Pipeline) -> str:
        job = await get(pipe, job_id)
        if job is not None and _fenced(job, epoch):
            return 'fenced'  # a stale epoch's, even once the job settled
        if job is None or job.status not in IN_FLIGHT:
            return 'ignored'
        failed_on = sorted({*job.failed_on, robot_id})
        pipe.multi()
        orders.count_dishes(pipe, job.order_id, cooking=-1)
        common = {'failed_on': failed_on, 'reason': reason, 'lease_until': 0, 'stage': ''}
        if job.attempts < max_attempts:
            pipe.hset(
                keys.job(job_id), mapping=changes(JobRecord, status=QUEUED, robot='', **common)
            )
            return 'retry'
        pipe.hset(keys.job(job_id), mapping=changes(JobRecord, status=DEAD, **common))
        dead = DeadLetter(
            **vars(job.entry()),
            reason=reason,
            attempts=job.attempts,
            robots=','.join(failed_on),
            at=now_ms(),
        )
        pipe.xadd(keys.DEAD, to_fields(dead))
        _ack_entry(pipe, job)
        alerts.add(
            pipe,
            'job_dead',
            'critical',
            Said(
                'alert.texts.job_dead',
                {
                    'dish': job.dish_id,
                    'dish_id': job.dish_id,
                    'table': job.table_id or '?',
                    'attempts': job.attempts,
                    'reason': reason,
                },
            ),
            order_id=job.order_id,
            job_id=job_id,
            robot_id=robot_id,
        )
        orders.add_event(
            pipe,
            job.order_id,
            'dish.failed',
            {'job_id': job_id, 'dish_id': job.dish_id, 'reason': reason},
        )
        return DEAD

    out = await r.transaction(txn, keys.job(job_id), value_from_callable=True)
    if out == 'fenced':
        await stats.bump(r, 'fenced_writes')
    return str(out)


@dataclass(frozen=True)
class Cancelled:
    # 'withdrawn' | 'wasted', or the settled status that left nothing to cancel.
    result: str
    robot_id: str = ''
    # This call cancelled it (False: it was settled already, by someone else too).
    changed: bool = True


async def cancel(r: Redis, job_id: str, by: str) -> Cancelled:
    """Cancel one dish (console): not started yet or dead-lettered -> withdrawn (its dead
    letters go); being cooked -> wasted and the robot is told to stop (a `cancel` command); the
    epoch is raised so that the robot's late answer is refused. The order is settled when
    nothing is left to cook."""

    async def txn(pipe: Pipeline) -> Cancelled:
        job = await get(pipe, job_id)
        if job is None:
            return Cancelled('missing', changed=False)
        if job.status in FINISHED:
            return Cancelled(job.status, job.robot, changed=False)
        letters = await _dead_letter_ids(pipe, job) if job.status == DEAD else []
        order = await orders.get(pipe, job.order_id)
        c = _counts(order, cooking=-1 if job.status in IN_FLIGHT else 0)
        pipe.multi()
        return _cancelled(pipe, job, order, replace(c, total=c.total - 1), letters, by)

    out = await r.transaction(
        txn, keys.job(job_id), orders.key_of_job(job_id), value_from_callable=True
    )
    assert isinstance(out, Cancelled)
    return out


async def cancel_order(
    r: Redis,
    order_id: str,
    job_ids: list[str],
    by: str,
    check: Callable[[OrderRecord | None], None],
) -> list[Cancelled]:
    """Cancel a whole order (console) in one transaction: its dishes as `cancel` does, and the
    order. Dish by dish, cancelling the last uncooked one made the order `ready` (with what was
    cooked) and sent it for delivery before it was cancelled, and a serving robot could claim it
    in between. `check` sees the order inside the transaction and raises to refuse it (over, or
    on a trip: the dispatcher's trip claim watches the order too)."""

    async def txn(pipe: Pipeline) -> list[Cancelled]:
        order = await orders.get(pipe, order_id)
        check(order)
        found = [await get(pipe, j) for j in job_ids]
        open_jobs = [j for j in found if j is not None and j.status not in FINISHED]
        letters = {
            j.job_id: await _dead_letter_ids(pipe, j) for j in open_jobs if j.status == DEAD
        }
        c = _counts(order)
        pipe.multi()
        out = []
        for job in open_jobs:
            c = Counts(c.cooked, max(0, c.cooking - int(job.status in IN_FLIGHT)), c.total - 1)
            out.append(_cancelled(pipe, job, None, c, letters.get(job.job_id, []), by))
        orders.add_event(pipe, order_id, 'order.cancelled', {'by': by}, orders.CANCELLED)
        return out

    out = await r.transaction(
        txn, keys.order(order_id), *map(keys.job, job_ids), value_from_callable=True
    )
    assert isinstance(out, list)
    return out


async def withdraw(r: Redis, order_id: str, job_ids: Iterable[str], by: str) -> str:
    """Withdraw dishes of one order that no robot has started, all or none (a diner's
    cancel: it wastes nothing). Returns WITHDRAWN, or why nothing was: the status of a dish
    that has started (or 'missing'), or '' when every one was cancelled already. Atomic with
    the dispatcher's claims, which check the job's status inside Redis."""
    wanted = list(job_ids)

    async def txn(pipe: Pipeline) -> str:
        found = [await get(pipe, j) for j in wanted]
        live = [j for j in found if j is None or j.status not in (WITHDRAWN, WASTED)]
        if not live:
            return ''
        if blocked := next((j for j in live if j is None or j.status != QUEUED), None):
            return blocked.status if blocked else 'missing'
        order = await orders.get(pipe, order_id)
        c = _counts(order)
        pipe.multi()
        for n, job in enumerate(j for j in live if j is not None):
            _cancelled(pipe, job, order, replace(c, total=c.total - n - 1), [], by)
        return WITHDRAWN

    out = await r.transaction(
        txn, keys.order(order_id), *map(keys.job, wanted), value_from_callable=True
    )
    return str(out)


def _cancelled(
    pipe: Pipeline,
    job: JobRecord,
    order: OrderRecord | None,
    counts: Counts,
    letters: list[str],
    by: str,
) -> Cancelled:
    """The writes of a cancelled dish, queued after MULTI; `counts` are the order's once it
    is gone (the order settles when nothing is left to cook)."""
    result = WASTED if job.status == COOKING else WITHDRAWN
    in_flight = job.status in IN_FLIGHT
    robot_id = job.robot if in_flight else ''
    pipe.hset(
        keys.job(job.job_id),
        mapping=changes(JobRecord, status=result, lease_until=0, cancelled_by=by),
    )
    pipe.hincrby(keys.job(job.job_id), 'epoch', 1)
    orders.count_dishes(pipe, job.order_id, total=-1, cooking=-1 if in_flight else 0)
    if in_flight:
        _stop_robot(pipe, job, by)
    _ack_entry(pipe, job)
    _resolve_dead(pipe, job, letters, by)
    orders.add_event(
        pipe,
        job.order_id,
        'dish.cancelled',
        {
            'job_id': job.job_id,
            'dish_id': job.dish_id,
            'result': result,
            'by': by,
            **counts.data(),
        },
    )
    _settle_order(pipe, order, counts, {'by': by, **counts.data()})
    stock.on_cancel(pipe, job.uses, result == WASTED, _stock_ref(job), by)
    return Cancelled(result, robot_id)


def _stop_robot(pipe: Pipeline, job: JobRecord, by: str) -> None:
    """Tell the robot a job in flight is on to stop it (a `cancel` command)."""
    commands.add(pipe, commands.Command('cancel', job.robot, by, job_id=job.job_id))


def _stock_ref(job: JobRecord) -> dict[str, str]:
    return {'order_id': job.order_id, 'job_id': job.job_id, 'dish_id': job.dish_id}


async def _dead_letter_ids(pipe: Pipeline, job: JobRecord) -> list[str]:
    """The dead letters of a dead job. `rd:dead` holds only the dishes waiting for an
    operator (each leaves it when requeued, bumped or dropped), so reading it whole is cheap."""
    return [i for i, f in await pipe.xrange(keys.DEAD) if f.get('job_id') == job.job_id]


def _resolve_dead(pipe: Pipeline, job: JobRecord, letter_ids: list[str], by: str) -> None:
    """A dead job was settled by hand: its dead letters go, and consoles refresh the list."""
    if job.status != DEAD:
        return
    if letter_ids:
        pipe.xdel(keys.DEAD, *letter_ids)
    feed.add_event(pipe, 'dead.resolved', {'job_id': job.job_id, 'by': by})


async def dead_letters(r: Redis, count: int = 100) -> list[dict[str, str]]:
    return [{'id': i, **f} for i, f in await r.xrevrange(keys.DEAD, count=count)]


async def requeue_dead(r: Redis, dead_id: str, by: str) -> str | None:
    """Give a dead-lettered job another round of `max_attempts`; returns its job id."""
    try:
        found = await r.xrange(keys.DEAD, dead_id, dead_id)
    except ResponseError:  # not a stream id at all
        return None
    if not found:
        return None
    dead = from_fields(DeadLetter, found[0][1])
    job_id = dead.job_id
    entry = entry_of(dead)

    async def txn(pipe: Pipeline) -> str | None:
        if await pipe.hget(keys.job(job_id), 'status') != DEAD:
            return None
        pipe.multi()
        pipe.hset(
            keys.job(job_id),
            mapping=changes(
                JobRecord, status=QUEUED, attempts=0, failed_on=[], robot='', entry_id=''
            ),
        )
        pipe.xadd(stream(entry.station), packed(entry))
        pipe.xdel(keys.DEAD, dead_id)
        orders.add_event(
            pipe,
            entry.order_id,
            'dish.requeued',
            {'job_id': job_id, 'dish_id': entry.dish_id, 'by': by},
        )
        return job_id

    out = await r.transaction(txn, keys.job(job_id), value_from_callable=True)
    return None if out is None else str(out)


async def record_waste(r: Redis, job_id: str, robot_id: str, detail: str) -> None:
    """A superseded copy of the dish was started on `robot_id` and thrown away: recorded on
    the job and raised as a `dish_cooked_twice` alert, in one transaction."""

    async def txn(pipe: Pipeline) -> None:
        job = await get(pipe, job_id)
        if job is None or robot_id in job.wasted_by:
            return
        pipe.multi()
        pipe.hset(
            keys.job(job_id), mapping=changes(JobRecord, wasted_by=[*job.wasted_by, robot_id])
        )
        alerts.add(
            pipe,
            'dish_cooked_twice',
            'warning',
            Said(
                'alert.texts.dish_cooked_twice',
                {
                    'robot': robot_id,
                    'dish': job.dish_id,
                    'dish_id': job.dish_id,
                    'order': job.order_id,
                    'other': job.robot or '?',
                    'epoch': job.epoch,
                    'detail': detail,
                },
            ),
            robot_id=robot_id,
            order_id=job.order_id,
            job_id=job_id,
            table_id=job.table_id,
        )

    await r.transaction(txn, keys.job(job_id))


async def ack_entry(r: Redis, station: str, entry_id: str) -> None:
    """Drop a cook-stream entry whose job needs no dispatcher any more."""
    await streams.ack_now(r, stream(station), GROUP, entry_id)
