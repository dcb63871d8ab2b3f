"""Payments of shares: `rd:payment:{id}`, `rd:visit:{sid}:payments`, `rd:pay-idem:{sid}:{key}`,
`rd:pay-event:{event_id}`.

Starting a payment freezes its share on the session (`store/sessions.py`) in the same WATCHed
transaction that creates the payment: the share's amount never changes again, and a second
phone paying the same share gets the payment already started (one charge). The provider's
webhook moves a `pending` payment to `paid` (the share is paid) or `declined` (the share is open
again, with the reason); each webhook event id is applied once, and a payment that is no longer
pending ignores later events. Every change goes on the feed (`payment.*`) for the consoles.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from orchestrator import billing, ids
from orchestrator import redis_keys as keys
from orchestrator.config import Billing
from orchestrator.store import feed, sessions
from orchestrator.store.records import changes, from_fields, to_fields
from orchestrator.store.sessions import DiningSession, SessionRefused

PENDING = 'pending'
PAID = 'paid'
DECLINED = 'declined'
FAILED = 'failed'
REFUNDED = 'refunded'
IDEMPOTENCY_TTL_S = 24 * 3600
# Webhook event ids are kept longer than a provider retries (and than the signature tolerance).
EVENT_TTL_S = 7 * 24 * 3600
# A second phone paying the same share waits this long for the first one's checkout URL.
CHECKOUT_WAIT_S = 5.0


@dataclass(frozen=True)
class PaymentRecord:
    id: str
    session_id: str
    table_id: str
    share_id: str
    amount: int
    currency: str
    status: str
    created_at: int
    updated_at: int
    provider: str = ''
    provider_ref: str = ''
    checkout_url: str = ''
    reason: str = ''
    paid_at: int = 0
    refunded_at: int = 0
    refunded_by: str = ''
    refund_ref: str = ''
    # The share as it was frozen (kind, items), for the receipt.
    share: dict[str, Any] | None = None

    def view(self) -> dict[str, Any]:
        return {
            'id': self.id,
            'share_id': self.share_id,
            'amount': self.amount,
            'currency': self.currency,
            'status': self.status,
            'provider': self.provider,
            'checkout_url': self.checkout_url or None,
            'reason': self.reason or None,
            'created_at': self.created_at,
            'paid_at': self.paid_at or None,
            'refunded_at': self.refunded_at or None,
        }


class PaymentRefused(Exception):
    # `reason`: a code a diner's page shows in its language (api/errors.py), '' if none.
    def __init__(
        self, status: int, message: str, field: str | None = None, reason: str = ''
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.reason = status, message, field, reason


def parse(h: dict[str, str]) -> PaymentRecord | None:
    return from_fields(PaymentRecord, h) if h and 'id' in h else None


async def get(r: Redis | Pipeline, payment_id: str) -> PaymentRecord | None:
    if not payment_id.startswith('pay'):
        return None
    return parse(await r.hgetall(keys.payment(payment_id)))


async def of_session(r: Redis, session_id: str) -> list[PaymentRecord]:
    payment_ids = await r.lrange(keys.visit_payments(session_id), 0, -1)
    async with r.pipeline(transaction=False) as pipe:
        for pid in payment_ids:
            pipe.hgetall(keys.payment(pid))
        return [p for p in map(parse, await pipe.execute()) if p is not None]


def _event(pipe: Pipeline, kind: str, p: PaymentRecord, **data: Any) -> None:
    feed.add_event(
        pipe,
        kind,
        {
            'table_id': p.table_id,
            'session_id': p.session_id,
            'payment_id': p.id,
            'share_id': p.share_id,
            'amount': p.amount,
            **data,
        },
    )


def _put_share(frozen: list[dict[str, Any]], share: billing.Share) -> list[dict[str, Any]]:
    return [*(s for s in frozen if s['id'] != share.id), share.to_json()]


async def start(
    r: Redis,
    cfg: Billing,
    table_id: str,
    session_id: str | None,
    share_id: str,
    idem_key: str,
    currency: str,
    provider: str,
) -> tuple[PaymentRecord, bool]:
    """The payment of one share: (payment, created). An existing one is returned when the key
    was used before, or when the share is already being paid (one charge per share)."""
    s = await sessions.current(r, table_id)
    if s is not None and s.open:
        known = await r.get(keys.payment_idempotency(s.id, idem_key))
        if known and (p := await get(r, known)) is not None:
            if p.share_id != share_id:
                raise PaymentRefused(
                    409, 'Idempotency-Key was already used for another share', 'Idempotency-Key'
                )
            return p, False
    now = feed.now_ms()
    payment_id = ids.new_payment_id()

    def decide(s: DiningSession, bill: billing.Bill, pipe: Pipeline) -> PaymentRecord:
        shares, _ = sessions.shares_of(s, bill)
        share = next((sh for sh in shares if sh.id == share_id), None)
        if share is None:
            raise PaymentRefused(
                409,
                f'no share {share_id!r} on the bill (it was split again?)',
                'share_id',
                'share_changed',
            )
        if share.status == 'paying':
            raise _AlreadyPaying(share.payment_id)
        if share.status != 'open':
            raise PaymentRefused(
                409, f'share {share_id!r} is already {share.status}', 'share_id', 'share_taken'
            )
        frozen = replace(share, status='paying', payment_id=payment_id, declined='')
        p = PaymentRecord(
            id=payment_id,
            session_id=s.id,
            table_id=s.table_id,
            share_id=share.id,
            amount=share.amount,
            currency=currency,
            status=PENDING,
            created_at=now,
            updated_at=now,
            provider=provider,
            share=frozen.to_json(),
        )
        sessions.put(
            pipe,
            s.table_id,
            frozen=_put_share(s.frozen, frozen),
            declined={k: v for k, v in s.declined.items() if k != share.id},
            status=sessions.CLOSING,
            bill_requested_at=s.bill_requested_at or now,
            total=bill.total,
        )
        pipe.hset(keys.payment(payment_id), mapping=to_fields(p))
        pipe.rpush(keys.visit_payments(s.id), payment_id)
        pipe.set(keys.payment_idempotency(s.id, idem_key), payment_id, ex=IDEMPOTENCY_TTL_S)
        _event(pipe, 'payment.started', p)
        return p

    try:
        return await sessions.mutate(r, cfg, table_id, session_id, decide), True
    except _AlreadyPaying as e:
        return await _wait_for_checkout(r, e.payment_id), False
    except SessionRefused as e:
        raise PaymentRefused(e.status, e.message, e.field, e.reason) from e


class _AlreadyPaying(Exception):
    def __init__(self, payment_id: str) -> None:
        super().__init__(payment_id)
        self.payment_id = payment_id


async def _wait_for_checkout(r: Redis, payment_id: str) -> PaymentRecord:
    """The payment another request started, once its checkout page is known."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CHECKOUT_WAIT_S
    while True:
        p = await get(r, payment_id)
        if p is None:
            raise PaymentRefused(
                409, 'the share changed; please try again', 'share_id', 'share_changed'
            )
        if p.checkout_url or p.status != PENDING or loop.time() > deadline:
            return p
        await asyncio.sleep(0.05)


async def set_intent(r: Redis, payment_id: str, ref: str, checkout_url: str) -> PaymentRecord:
    async with r.pipeline(transaction=True) as pipe:
        pipe.hset(
            keys.payment(payment_id),
            mapping=changes(
                PaymentRecord,
                provider_ref=ref,
                checkout_url=checkout_url,
                updated_at=feed.now_ms(),
            ),
        )
        pipe.hgetall(keys.payment(payment_id))
        _, h = await pipe.execute()
    p = parse(h)
    assert p is not None
    return p


@dataclass(frozen=True)
class Applied:
    # 'paid' | 'declined' | 'duplicate' (event seen before) | 'ignored' (payment not pending)
    outcome: str
    payment: PaymentRecord | None = None
    session: DiningSession | None = None


async def settle(
    r: Redis, cfg: Billing, payment_id: str, approved: bool, reason: str, amount: int | None
) -> Applied:
    """A pending payment is paid (its share too; the session is paid once every share is) or
    declined / failed (its share is open again, with the reason)."""
    p = await get(r, payment_id)
    if p is None:
        return Applied('ignored')
    if p.status != PENDING:
        return Applied('ignored', p)
    if approved and amount is not None and amount != p.amount:
        approved, reason = False, f'amount {amount} does not match the share ({p.amount})'
    at = feed.now_ms()

    def decide(s: DiningSession, bill: billing.Bill, pipe: Pipeline) -> Applied:
        # Re-read inside the transaction's view: the session hash is watched, and the payment
        # status can only leave `pending` through this function, which writes the session too.
        share = next((sh for sh in s.frozen_shares() if sh.payment_id == payment_id), None)
        if share is None or share.status != 'paying':
            return Applied('ignored', p, s)
        if approved:
            done = replace(p, status=PAID, paid_at=at, updated_at=at)
            frozen = _put_share(s.frozen, replace(share, status='paid'))
            after = replace(s, frozen=frozen)
            shares, _ = sessions.shares_of(after, bill)
            full = sessions.settled(after, bill, shares)
            updates: dict[str, Any] = {
                'frozen': frozen,
                'last_payment_at': at,
                'paid_total': s.paid_total + p.amount,
                'total': bill.total,
            }
            if full:
                updates.update(status=sessions.PAID, paid_at=at)
                sessions.mark_paid(pipe, s.table_id, at)
            sessions.put(pipe, s.table_id, **updates)
            pipe.hset(
                keys.payment(payment_id),
                mapping=changes(PaymentRecord, status=PAID, paid_at=at, updated_at=at),
            )
            _event(pipe, 'payment.paid', done, session_paid=full)
            return Applied(PAID, done, replace(after, **updates))
        status = DECLINED if reason else FAILED
        done = replace(p, status=status, reason=reason or 'payment failed', updated_at=at)
        sessions.put(
            pipe,
            s.table_id,
            frozen=[f for f in s.frozen if f['id'] != share.id],
            declined={**s.declined, share.id: done.reason},
        )
        pipe.hset(
            keys.payment(payment_id),
            mapping=changes(PaymentRecord, status=status, reason=done.reason, updated_at=at),
        )
        _event(pipe, f'payment.{status}', done, reason=done.reason)
        return Applied(status, done, s)

    try:
        return await sessions.mutate(r, cfg, p.table_id, p.session_id, decide)
    except SessionRefused:  # its visit is over: nothing left to change
        return Applied('ignored', p)


async def apply_event(
    r: Redis,
    cfg: Billing,
    event_id: str,
    payment_id: str,
    approved: bool,
    reason: str,
    amount: int,
) -> Applied:
    """A verified provider webhook, applied at most once per event id."""
    if not await r.set(keys.payment_event(event_id), payment_id, nx=True, ex=EVENT_TTL_S):
        return Applied('duplicate', await get(r, payment_id))
    return await settle(r, cfg, payment_id, approved, reason, amount)


async def mark_refunded(r: Redis, payment_id: str, by: str, refund_ref: str) -> PaymentRecord:
    """A paid payment was refunded through the provider (its share counts as refunded)."""
    p = await get(r, payment_id)
    if p is None:
        raise PaymentRefused(404, f'no payment {payment_id!r}', reason='no_payment')
    if p.status != PAID:
        raise PaymentRefused(
            409,
            f'payment {payment_id} is {p.status}; only a paid one refunds',
            None,
            'not_refundable',
        )
    at = feed.now_ms()
    done = replace(p, status=REFUNDED, refunded_at=at, refunded_by=by, refund_ref=refund_ref)
    async with r.pipeline(transaction=True) as pipe:
        await pipe.watch(keys.payment(payment_id), keys.table_visit(p.table_id))
        again = await get(pipe, payment_id)
        if again is None or again.status != PAID:
            raise PaymentRefused(
                409, f'payment {payment_id} was refunded meanwhile', None, 'refunded_meanwhile'
            )
        s = await sessions.current(pipe, p.table_id)
        pipe.multi()
        pipe.hset(
            keys.payment(payment_id),
            mapping=changes(
                PaymentRecord,
                status=REFUNDED,
                refunded_at=at,
                refunded_by=by,
                refund_ref=refund_ref,
                updated_at=at,
            ),
        )
        if s is not None and s.id == p.session_id:
            share = next((sh for sh in s.frozen_shares() if sh.payment_id == payment_id), None)
            if share is not None:
                frozen = _put_share(s.frozen, replace(share, status='refunded'))
                sessions.put(pipe, s.table_id, frozen=frozen, paid_total=s.paid_total - p.amount)
        _event(pipe, 'payment.refunded', done, by=by)
        await pipe.execute()
    return done
