"""The rush report's money and tables part, read back from the dining sessions and payments:
revenue, payment time (bill asked for → paid in full) and table turn time (seated → free)."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from orchestrator.bill_view import money
from orchestrator.config import RestaurantConfig
from orchestrator.rush.diners import Party, SimClock
from orchestrator.store import orders, payments, sessions
from orchestrator.store.sessions import DiningSession


async def _session(r: Redis, order_id: str) -> DiningSession | None:
    order = await orders.get(r, order_id)
    if order is None or not order.session_id:
        return None
    s = await sessions.archived(r, order.session_id)
    if s is None:
        current = await sessions.current(r, order.table_id)
        s = current if current is not None and current.id == order.session_id else None
    return s


async def bill_report(
    r: Redis, clock: SimClock, parties: list[Party], cfg: RestaurantConfig, stats: Any
) -> dict[str, Any]:
    """`stats` is the report's summary function (n, mean, p50, p95, max)."""
    revenue = refunded = 0
    pay_times, turns = [], []
    paying = [p for p in parties if p.order_id is not None]
    declined = 0
    for p in paying:
        assert p.order_id is not None
        s = await _session(r, p.order_id)
        if s is None:
            continue
        for pay in await payments.of_session(r, s.id):
            revenue += pay.amount if pay.status in (payments.PAID, payments.REFUNDED) else 0
            refunded += pay.amount if pay.status == payments.REFUNDED else 0
            declined += pay.status == payments.DECLINED
        if s.bill_requested_at and s.paid_at:
            pay_times.append(clock.at_ms(s.paid_at) - clock.at_ms(s.bill_requested_at))
        if s.closed_at:
            turns.append(clock.at_ms(s.closed_at) - clock.at_ms(s.opened_at))
    return {
        'currency': cfg.restaurant.currency,
        # In the currency's minor unit (cents), and as a diner reads it.
        'revenue': revenue - refunded,
        'revenue_text': money(cfg, revenue - refunded),
        'refunded': refunded,
        'parties_paid': sum(p.paid_s is not None for p in parties),
        'split_parties': sum(p.ways > 1 for p in paying),
        'payments_declined': declined,
        'payment_s': stats(pay_times),
        'table_turn_s': stats(turns),
    }


def bill_summary(report: dict[str, Any]) -> list[str]:
    b = report.get('bill')
    if not b:
        return []
    pay, turn = b['payment_s'], b['table_turn_s']
    line = (
        f'  revenue {b["revenue_text"]} from {b["parties_paid"]} parties '
        f'({b["split_parties"]} split, {b["payments_declined"]} payments declined and retried)'
    )
    if pay['n']:
        line += f'; payment (bill → paid) mean {pay["mean"]:.0f} s, p95 {pay["p95"]:.0f} s'
    if turn['n']:
        line += f'; table turn mean {turn["mean"] / 60:.1f} min'
    return [line]
