"""The console's Tables view: each table free / seated / bill / paid, and the operator's table
actions (seat, close, refund), each refused with its reason."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from orchestrator import bill_view
from orchestrator.config import RestaurantConfig
from orchestrator.payments import PaymentProvider
from orchestrator.store import alerts, orders, payments, sessions
from orchestrator.store.payments import PaymentRefused
from orchestrator.store.sessions import DiningSession, SessionRefused
from orchestrator.texts import Refused, Said

MAX_PARTY = 40


def state_of(s: DiningSession | None) -> str:
    """free | seated | bill (asked for, or being paid) | paid (in full, not closed yet)."""
    if s is None or not s.open:
        return 'free'
    return {sessions.CLOSING: 'bill', sessions.PAID: 'paid'}.get(s.status, 'seated')


async def board(r: Redis, cfg: RestaurantConfig) -> list[dict[str, Any]]:
    current = await sessions.current_many(r, (t.id for t in cfg.tables))
    calls: dict[str, int] = {}
    for a in await alerts.recent(r):
        if a.get('kind') == 'staff_call' and not alerts.handled(a):
            calls[a.get('table_id', '')] = calls.get(a.get('table_id', ''), 0) + 1
    out = []
    for table, s in zip(cfg.tables, current, strict=True):
        row: dict[str, Any] = {
            'id': table.id,
            'name': table.name.model_dump(),
            'seats': table.seats,
            'state': state_of(s),
            'staff_calls': calls.get(table.id, 0),
        }
        if s is not None and s.open:
            placed = await sessions.orders_of(r, s)
            bill = await sessions.bill_of(r, cfg.billing, s)
            shares, _ = sessions.shares_of(s, bill)
            row.update(
                session=s.view(),
                orders=len(placed),
                food_waiting=sum(1 for o in placed if o.status not in orders.FINAL),
                total=bill.total,
                paid=sum(sh.amount for sh in shares if sh.status == 'paid'),
            )
        out.append(row)
    return out


def _table(cfg: RestaurantConfig, table_id: str) -> None:
    if table_id not in cfg.table_by_id:
        raise Refused(404, 'no_table', table=table_id)


async def seat(r: Redis, cfg: RestaurantConfig, table_id: str, party: int, by: str) -> Said:
    _table(cfg, table_id)
    if not 1 <= party <= MAX_PARTY:
        raise Refused(422, 'bad_party', field='party_size', max=MAX_PARTY)
    before = await sessions.current(r, table_id)
    s = await sessions.seat(r, table_id, party, by)
    seated = before is None or not before.open
    return Said('done.seated' if seated else 'done.party_size_set', {'n': party, 'visit': s.id})


async def close(r: Redis, cfg: RestaurantConfig, table_id: str, by: str) -> Said:
    _table(cfg, table_id)
    try:
        s = await sessions.close(r, cfg.billing, table_id, by)
    except SessionRefused as e:
        # No open visit, a bill that keeps changing, or money still owed (`owed`).
        raise Refused(
            e.status, f'close_{e.reason}', table=table_id, owed=e.values.get('owed', 0)
        ) from e
    return Said('done.closed', {'visit': s.id, 'bill_total': s.total})


async def table_bill(r: Redis, cfg: RestaurantConfig, table_id: str) -> dict[str, Any]:
    _table(cfg, table_id)
    s = await sessions.current(r, table_id)
    return await bill_view.payload(r, cfg, s if s is not None and s.open else None)


async def refund(r: Redis, provider: PaymentProvider, payment_id: str, by: str) -> Said:
    p = await payments.get(r, payment_id)
    if p is None:
        raise Refused(404, 'no_payment', payment=payment_id)
    if p.status != payments.PAID:
        raise Refused(409, 'not_refundable', payment=payment_id, payment_status=p.status)
    ref = await provider.refund(p.provider_ref, p.amount)
    try:
        await payments.mark_refunded(r, payment_id, by, ref)
    except PaymentRefused as e:
        raise Refused(e.status, e.reason, payment=payment_id, payment_status=p.status) from e
    return Said(
        'done.refunded',
        {'amount': p.amount, 'currency': p.currency, 'table': p.table_id, 'ref': ref},
    )
