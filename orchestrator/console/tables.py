"""The console's Tables view: each table free / seated / bill / paid, and the operator's table
actions (seat, close, refund), each refused with its reason."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from orchestrator import bill_view
from orchestrator.config import RestaurantConfig
from orchestrator.console.operator_actions import Refused
from orchestrator.payments import PaymentProvider
from orchestrator.store import alerts, orders, payments, sessions
from orchestrator.store.payments import PaymentRefused
from orchestrator.store.sessions import DiningSession, SessionRefused

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
        if a.get('kind') == 'staff_call' and not a['acked']:
            calls[a.get('table_id', '')] = calls.get(a.get('table_id', ''), 0) + 1
    out = []
    for table, s in zip(cfg.tables, current, strict=True):
        row: dict[str, Any] = {
            'id': table.id,
            'name': table.name,
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
        raise Refused(404, f'no table {table_id!r} in this restaurant')


async def seat(r: Redis, cfg: RestaurantConfig, table_id: str, party: int, by: str) -> str:
    _table(cfg, table_id)
    if not 1 <= party <= MAX_PARTY:
        raise Refused(422, f'party_size must be between 1 and {MAX_PARTY}')
    before = await sessions.current(r, table_id)
    s = await sessions.seat(r, table_id, party, by)
    seated = before is None or not before.open
    return f'{"seated a party of" if seated else "party size set to"} {party} ({s.id})'


async def close(r: Redis, cfg: RestaurantConfig, table_id: str, by: str) -> str:
    _table(cfg, table_id)
    try:
        s = await sessions.close(r, cfg.billing, table_id, by)
    except SessionRefused as e:
        raise Refused(e.status, e.message) from e
    return f'closed visit {s.id} (total {s.total})'


async def table_bill(r: Redis, cfg: RestaurantConfig, table_id: str) -> dict[str, Any]:
    _table(cfg, table_id)
    s = await sessions.current(r, table_id)
    return await bill_view.payload(r, cfg, s if s is not None and s.open else None)


async def refund(r: Redis, provider: PaymentProvider, payment_id: str, by: str) -> str:
    p = await payments.get(r, payment_id)
    if p is None:
        raise Refused(404, f'no payment {payment_id!r}')
    if p.status != payments.PAID:
        raise Refused(409, f'payment {payment_id} is {p.status}; only a paid one refunds')
    ref = await provider.refund(p.provider_ref, p.amount)
    try:
        await payments.mark_refunded(r, payment_id, by, ref)
    except PaymentRefused as e:
        raise Refused(e.status, e.message) from e
    return f'refunded {p.amount} {p.currency} of {p.table_id} ({ref})'
