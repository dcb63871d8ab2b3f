"""Dining sessions (one per visit): `rd:table:{t}:visit`, `rd:visit:{sid}`, and the diners'
per-table rate limits `rd:staff-call:{t}`, `rd:party-sizes:{t}`.

A table is free (no session, or its last one closed), seated (a session is open), closing (the
bill was asked for or a payment started) or paid (paid in full, waiting to be closed). The
intake script opens a session with the first order at a free table and attaches every order to
the table's open session (atomically with the order); an operator can also seat a party. A
session is closed by an operator or `service.close_after_paid_s` after its last payment once
paid in full; its hash is then copied to `rd:visit:{sid}` for the receipt, and the table is
free: the next order opens session n + 1.

The split (`billing.Split`) and the frozen shares (those whose payment started) live on the
session hash, so every change of them is one WATCHed transaction on that hash — the same key the
intake script writes, so an order landing in between makes the change start again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from orchestrator import billing, ids
from orchestrator import redis_keys as keys
from orchestrator.config import Billing
from orchestrator.store import counters, feed, jobs, orders
from orchestrator.store.orders import OrderRecord
from orchestrator.store.records import changes, from_fields, to_fields
from orchestrator.texts import Value

SEATED = 'seated'
CLOSING = 'closing'
PAID = 'paid'
CLOSED = 'closed'
# Closed sessions stay readable (receipts) this long.
ARCHIVE_TTL_S = 90 * 24 * 3600
# An operator-seated session's orders may carry a timestamp from another process's clock.
CLOCK_SLACK_MS = 60_000
ATTEMPTS = 20
VISIT_ENDED = 'your visit has ended — scan the code on the table to start a new one'
# A table's diners may set their party's size this many times a minute (from the first): each
# is a session write and a feed event; the page asks once a visit, and a correction or two from
# the party's phones is plenty.
PARTY_SIZES_PER_MINUTE = 5
T = TypeVar('T')


@dataclass(frozen=True)
class DiningSession:
    id: str
    table_id: str
    n: int
    status: str
    opened_at: int
    opened_by: str = 'order'
    party_size: int = 0
    orders: int = 0
    dishes: int = 0
    # The intake script's per-minute order counter (minute number since the epoch, count).
    rate_minute: int = 0
    rate_count: int = 0
    bill_requested_at: int = 0
    last_payment_at: int = 0
    paid_at: int = 0
    closed_at: int = 0
    closed_by: str = ''
    split: dict[str, Any] = field(default_factory=dict)
    frozen: list[dict[str, Any]] = field(default_factory=list)
    # share id -> why its last payment was declined
    declined: dict[str, str] = field(default_factory=dict)
    share_seq: int = 0
    # The bill's total when it last changed hands (for the console and the rush report).
    total: int = 0
    paid_total: int = 0

    @property
    def open(self) -> bool:
        return self.status != CLOSED

    def frozen_shares(self) -> list[billing.Share]:
        return [billing.Share.from_json(s) for s in self.frozen]

    def split_plan(self) -> billing.Split:
        return billing.Split.from_json(self.split)

    def view(self) -> dict[str, Any]:
        return {
            'id': self.id,
            'table_id': self.table_id,
            'status': self.status,
            'opened_at': self.opened_at,
            'opened_by': self.opened_by,
            'party_size': self.party_size or None,
            'orders': self.orders,
            'dishes': self.dishes,
            'bill_requested_at': self.bill_requested_at or None,
            'paid_at': self.paid_at or None,
            'closed_at': self.closed_at or None,
        }


def parse(h: dict[str, str]) -> DiningSession | None:
    return from_fields(DiningSession, h) if h and 'id' in h else None


async def current(r: Redis | Pipeline, table_id: str) -> DiningSession | None:
    """The table's current session, or its last one (closed), or None if it never had one."""
    return parse(await r.hgetall(keys.table_visit(table_id)))


async def current_many(r: Redis, table_ids: Iterable[str]) -> list[DiningSession | None]:
    async with r.pipeline(transaction=False) as pipe:
        for t in table_ids:
            pipe.hgetall(keys.table_visit(t))
        return [parse(h) for h in await pipe.execute()]


async def archived(r: Redis, session_id: str) -> DiningSession | None:
    return parse(await r.hgetall(keys.visit(session_id)))


def next_n(s: DiningSession | None) -> int:
    """The number the table's next session will have."""
    return (s.n if s else 0) + 1


def visible(
    s: DiningSession | None, visit: int | None, now_ms: int, grace_ms: int
) -> DiningSession | None:
    """The session a caller sees, or raises VisitEnded.

    The printed code (`visit` None) sees the open session, or none at a free table. A visit
    code sees its own session while it is open and for `grace_ms` after it closed; the code
    handed out at a free table (the next session's number) sees nothing until that session
    opens. Any other code — an earlier session's — has ended.
    """
    if visit is None:
        return s if s is not None and s.open else None
    if s is not None and s.n == visit:
        if s.open or now_ms < s.closed_at + grace_ms:
            return s
        raise VisitEnded(VISIT_ENDED)
    if visit == next_n(s) and (s is None or not s.open):
        return None
    raise VisitEnded(VISIT_ENDED)


class VisitEnded(Exception):
    pass


class SessionRefused(Exception):
    # `reason`: a code a diner's page or the console shows in its language (api/errors.py);
    # `values`: those its text names.
    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        reason: str = '',
        values: Mapping[str, Value] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.reason = status, message, field, reason
        self.values = dict(values or {})


# -- reads: the session's orders and bill ------------------------------------------------


async def orders_of(r: Redis, s: DiningSession) -> list[OrderRecord]:
    """The session's orders, oldest first (never an earlier party's)."""
    order_ids = await orders.ids_since(r, [s.table_id], s.opened_at - CLOCK_SLACK_MS)
    return [o for o in await orders.get_many(r, order_ids) if o.session_id == s.id]


async def bill_of(r: Redis, cfg: Billing, s: DiningSession | None) -> billing.Bill:
    if s is None:
        return billing.make_bill([], cfg)
    placed = await orders_of(r, s)
    job_ids = [list(ids.job_ids(o.id, [int(ln['quantity']) for ln in o.lines])) for o in placed]
    statuses = await jobs.statuses(r, [j for per in job_ids for _, j in per])
    lines: list[billing.BillLine] = []
    at = 0
    for o, per in zip(placed, job_ids, strict=True):
        units: dict[int, list[str]] = {}
        for li, _ in per:
            status = statuses[at] or ''
            if o.status == orders.CANCELLED and status not in billing.ZERO_REASONS:
                # A cancelled order never reached its table: its cooked dishes are not
                # charged either (staff who want them paid cancel the other lines instead).
                status = jobs.WITHDRAWN
            units.setdefault(li, []).append(status)
            at += 1
        lines += billing.bill_lines(o.id, o.lines, units)
    return billing.make_bill(lines, cfg)


def shares_of(s: DiningSession | None, bill: billing.Bill) -> tuple[list[billing.Share], int]:
    if s is None:
        return billing.shares(bill, billing.Split(), [])
    return billing.shares(bill, s.split_plan(), s.frozen_shares(), s.declined)


def settled(s: DiningSession, bill: billing.Bill, shares: list[billing.Share]) -> bool:
    """Paid in full: something was ordered, and every share is paid (or refunded)."""
    return bool(bill.lines) and all(sh.status in ('paid', 'refunded') for sh in shares)


# -- writes ------------------------------------------------------------------------------


def put(pipe: Pipeline, table_id: str, **values: Any) -> None:
    """Queue a partial update of the table's session hash."""
    pipe.hset(keys.table_visit(table_id), mapping=changes(DiningSession, **values))


def mark_paid(pipe: Pipeline, table_id: str, at: int) -> None:
    """The table is paid in full at `at`: the auto-close sweeper (`close_due`) will look at it.
    An order after that makes it owe again; the sweeper finds that and leaves it."""
    pipe.zadd(keys.PAID_TABLES, {table_id: at})


def _event(pipe: Pipeline, kind: str, s: DiningSession, **data: Any) -> None:
    feed.add_event(pipe, kind, {'table_id': s.table_id, 'session_id': s.id, **data})


async def mutate(
    r: Redis,
    cfg: Billing,
    table_id: str,
    session_id: str | None,
    decide: Callable[[DiningSession, billing.Bill, Pipeline], T],
) -> T:
    """Run `decide(session, bill, pipe)` on the table's open session (`session_id`, if given)
    and execute the writes it queued on `pipe`, all or nothing: the session hash is WATCHed and
    the bill re-read until no order landed in between. `decide` may raise SessionRefused."""
    key = keys.table_visit(table_id)
    for _ in range(ATTEMPTS):
        s = await current(r, table_id)
        if s is None or not s.open or (session_id and s.id != session_id):
            raise SessionRefused(409, 'this table has no open visit', 'session', 'closed')
        bill = await bill_of(r, cfg, s)
        async with r.pipeline(transaction=True) as pipe:
            await pipe.watch(key)
            again = await current(pipe, table_id)
            if again != s:
                continue
            pipe.multi()
            result = decide(s, bill, pipe)
            try:
                await pipe.execute()
            except WatchError:
                continue
            return result
    raise SessionRefused(
        409, 'the bill keeps changing; please try again', 'session', 'bill_changed'
    )


def _open_fields(table_id: str, n: int, by: str, party_size: int, at: int) -> dict[str, str]:
    return to_fields(
        DiningSession(
            id=ids.new_session_id(),
            table_id=table_id,
            n=n,
            status=SEATED,
            opened_at=at,
            opened_by=by,
            party_size=party_size,
        )
    )


async def seat(
    r: Redis, table_id: str, party_size: int, by: str, session_id: str | None = None
) -> DiningSession:
    """Seat a party: open a session at a free table, or set the party size of the open one;
    with `session_id` (a diner's visit), of that session only: SessionRefused once it closed."""
    key = keys.table_visit(table_id)
    async with r.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(key)
                s = await current(pipe, table_id)
                if session_id is not None and (s is None or s.id != session_id or not s.open):
                    raise SessionRefused(403, VISIT_ENDED, 'token', 'visit_ended')
                if s is not None and s.open and s.party_size == party_size:
                    return s  # told again (another phone, a retry): nothing to write or tell
                pipe.multi()
                if s is not None and s.open:
                    put(pipe, table_id, party_size=party_size)
                    s = replace(s, party_size=party_size)
                else:
                    fields = _open_fields(table_id, next_n(s), by, party_size, feed.now_ms())
                    pipe.delete(key)
                    pipe.hset(key, mapping=fields)
                    s = from_fields(DiningSession, fields)
                _event(pipe, 'table.seated', s, by=by, party_size=party_size)
                await pipe.execute()
                return s
            except WatchError:
                continue


async def request_bill(
    r: Redis, cfg: Billing, table_id: str, session_id: str | None
) -> DiningSession:
    """The diners asked for the bill (the first time counts, for the payment time)."""

    def decide(s: DiningSession, bill: billing.Bill, pipe: Pipeline) -> DiningSession:
        if s.bill_requested_at:
            return s
        at = feed.now_ms()
        status = CLOSING if s.status == SEATED else s.status
        put(pipe, s.table_id, bill_requested_at=at, status=status, total=bill.total)
        _event(pipe, 'bill.requested', s, total=bill.total)
        return replace(s, bill_requested_at=at, status=status)

    return await mutate(r, cfg, table_id, session_id, decide)


async def split(
    r: Redis,
    cfg: Billing,
    table_id: str,
    session_id: str | None,
    plan: Callable[[billing.Bill, DiningSession, str], billing.Split],
) -> billing.Split:
    """Change the split (`plan(bill, session, new share id)`; raises billing.SplitRefused)."""

    def decide(s: DiningSession, bill: billing.Bill, pipe: Pipeline) -> billing.Split:
        new = plan(bill, s, f'c{s.share_seq + 1}')
        at = feed.now_ms()
        put(
            pipe,
            s.table_id,
            split=new.to_json(),
            share_seq=s.share_seq + 1,
            status=CLOSING if s.status == SEATED else s.status,
            bill_requested_at=s.bill_requested_at or at,
            total=bill.total,
        )
        _event(
            pipe,
            'bill.split',
            s,
            mode=new.mode,
            ways=new.ways,
            claims=len(new.claims),
            amounts=len(new.amounts),
        )
        return new

    return await mutate(r, cfg, table_id, session_id, decide)


def _archive(pipe: Pipeline, s: DiningSession) -> None:
    pipe.hset(keys.visit(s.id), mapping=to_fields(s))
    pipe.expire(keys.visit(s.id), ARCHIVE_TTL_S)


async def close(r: Redis, cfg: Billing, table_id: str, by: str) -> DiningSession:
    """Close the table's session: only once paid in full (or nothing is owed)."""

    def decide(s: DiningSession, bill: billing.Bill, pipe: Pipeline) -> DiningSession:
        shares, _ = shares_of(s, bill)
        owed = sum(sh.amount for sh in shares if sh.status not in ('paid', 'refunded'))
        if owed:
            paying = any(sh.status == 'paying' for sh in shares)
            raise SessionRefused(
                409,
                f'{owed} still to pay'
                + (' (a payment is in progress)' if paying else '')
                + '; the table closes once paid in full',
                reason='owed_paying' if paying else 'owed',
                values={'owed': owed},
            )
        done = replace(s, status=CLOSED, closed_at=feed.now_ms(), closed_by=by, total=bill.total)
        put(pipe, s.table_id, status=CLOSED, closed_at=done.closed_at, closed_by=by)
        pipe.zrem(keys.PAID_TABLES, s.table_id)
        _archive(pipe, done)
        _event(pipe, 'table.closed', done, by=by, total=bill.total)
        return done

    return await mutate(r, cfg, table_id, None, decide)


async def index_paid(r: Redis, table_ids: Iterable[str]) -> None:
    """Put every table paid in full among `table_ids` in the sweeper's index (its sessions
    may have been paid before the index existed)."""
    sessions = await current_many(r, table_ids)
    paid = {s.table_id: s.last_payment_at for s in sessions if s is not None and s.status == PAID}
    if paid:
        await r.zadd(keys.PAID_TABLES, paid)


async def close_due(r: Redis, cfg: Billing, after_ms: int) -> list[DiningSession]:
    """Close every session paid in full whose last payment is `after_ms` old (the sweeper's
    step): only the tables in the paid index that long are read. A party that paid before
    its food came keeps its table until every order is over (served, cancelled or failed):
    closed, its phones could no longer follow the food, and the table would be given to the
    next party while a robot brings the food; it closes at a later look."""
    now = feed.now_ms()
    due = await r.zrangebyscore(keys.PAID_TABLES, '-inf', now - after_ms)
    out = []
    for s in await current_many(r, due):
        if s is not None and s.status == PAID and now >= s.last_payment_at + after_ms:
            if not all(o.final for o in await orders_of(r, s)):
                continue
            try:
                out.append(await close(r, cfg, s.table_id, 'auto'))
            except SessionRefused:
                continue  # an order landed meanwhile: not paid in full any more
    return out


async def call_staff(r: Redis, table_id: str, interval_s: float) -> float:
    """Take the table's staff-call slot: 0 when taken, else the seconds until it is free."""
    if interval_s <= 0:
        return 0.0
    key = keys.staff_call(table_id)
    if await r.set(key, '1', nx=True, px=int(interval_s * 1000)):
        return 0.0
    return _left_s(await r.pttl(key))


async def take_party_size(r: Redis, table_id: str) -> float:
    """Count one party size set by the table's diners: 0 within the minute's
    `PARTY_SIZES_PER_MINUTE`, else the seconds until the minute is over."""
    ((n, left_ms),) = await counters.count(r, [keys.party_sizes(table_id)], 60_000)
    return 0.0 if n <= PARTY_SIZES_PER_MINUTE else _left_s(left_ms)


def _left_s(pttl_ms: int) -> float:
    """Seconds until a rate limit's expiring key is gone: a moment if it just went."""
    return max(0.001, pttl_ms / 1000)
