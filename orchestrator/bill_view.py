"""The bill as the diner page and the console show it, and printable HTML receipts.

Shared by the diner API (`api/routes_bill.py`) and the console (`console/routes.py`): both read
the session's bill, shares and payments through the store and show the same numbers.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from orchestrator.billing import Bill, Share
from orchestrator.config import Rate, RestaurantConfig
from orchestrator.store import payments, sessions
from orchestrator.store.payments import PaymentRecord
from orchestrator.store.sessions import DiningSession


def _rate(rate: Rate, amount: int, added: int) -> dict[str, Any]:
    return {
        'name': rate.name,
        'percent': float(rate.percent),
        'inclusive': rate.inclusive,
        'amount': amount,
        'added': added,
    }


def share_view(share: Share) -> dict[str, Any]:
    return {
        'id': share.id,
        'kind': share.kind,
        'amount': share.amount,
        'status': share.status,
        'items': [{'line': k, 'units': n} for k, n in share.items],
        'payment_id': share.payment_id or None,
        'declined': share.declined or None,
    }


async def load(
    r: Redis, cfg: RestaurantConfig, s: DiningSession | None
) -> tuple[Bill, list[Share], int, list[PaymentRecord]]:
    bill = await sessions.bill_of(r, cfg.billing, s)
    shares, overpaid = sessions.shares_of(s, bill)
    paid = await payments.of_session(r, s.id) if s is not None else []
    return bill, shares, overpaid, paid


async def payload(r: Redis, cfg: RestaurantConfig, s: DiningSession | None) -> dict[str, Any]:
    """Everything the Bill tab (and the console's bill) shows."""
    bill, shares, overpaid, paid = await load(r, cfg, s)
    t = bill.totals
    settled = sum(p.amount for p in paid if p.status == payments.PAID)
    return {
        'session': s.view() if s is not None else None,
        'currency': cfg.restaurant.currency,
        'decimals': cfg.restaurant.currency_decimals,
        'lines': [ln.view() for ln in bill.lines],
        'subtotal': t.subtotal,
        'service_charge': _rate(
            cfg.billing.service_charge, t.service_charge, t.service_charge_added
        ),
        'tax': _rate(cfg.billing.tax, t.tax, t.tax_added),
        'total': t.total,
        'paid': settled,
        'due': sum(sh.amount for sh in shares if sh.status in ('open', 'paying')),
        'overpaid': overpaid,
        'split': s.split_plan().to_json() if s is not None else {'mode': 'none'},
        'shares': [share_view(sh) for sh in shares],
        'payments': [p.view() for p in paid],
    }


# -- receipts ----------------------------------------------------------------------------

STYLE = """
body { font: 14px/1.4 system-ui, 'Noto Sans KR', 'Noto Sans SC', sans-serif; max-width: 380px;
  margin: 16px auto; color: #111; }
h1 { font-size: 18px; margin: 0; text-align: center; }
p.meta { text-align: center; color: #555; margin: 4px 0 12px; }
table { width: 100%; border-collapse: collapse; }
td { padding: 3px 0; vertical-align: top; }
td.num { text-align: right; white-space: nowrap; }
tr.zero td { color: #777; }
tr.sum td { border-top: 1px dashed #999; }
tr.total td { font-weight: 700; font-size: 16px; border-top: 2px solid #111; }
small { color: #555; }
@media print { button { display: none; } body { margin: 0; } }
"""


def money(cfg: RestaurantConfig, minor: int) -> str:
    decimals = cfg.restaurant.currency_decimals
    sign = '-' if minor < 0 else ''
    major, frac = divmod(abs(minor), 10**decimals)
    body = f'{major:,}' + (f'.{frac:0{decimals}d}' if decimals else '')
    return f'{sign}{body} {cfg.restaurant.currency}'


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime('%Y-%m-%d %H:%M UTC') if ms else ''


def _row(label: str, amount: str, cls: str = '') -> str:
    return f'<tr class="{cls}"><td>{label}</td><td class="num">{html.escape(amount)}</td></tr>'


def receipt_html(
    cfg: RestaurantConfig,
    table_name: str,
    s: DiningSession | None,
    bill: Bill,
    paid: list[PaymentRecord],
    lang: str,
    payment: PaymentRecord | None = None,
) -> str:
    """A printable receipt of the whole visit, or (with `payment`) of one payment: the lines,
    service charge, tax, total and the payments."""
    name = getattr(cfg.restaurant.name, lang, cfg.restaurant.name.en)
    esc = html.escape
    rows = []
    for ln in bill.lines:
        options = ', '.join(f'{k}: {v}' for k, v in ln.options.items())
        label = (
            f'{esc(ln.name.get(lang) or ln.name["en"])} × {ln.quantity}'
            + (f'<br><small>{esc(options)}</small>' if options else '')
            + (f'<br><small>{esc(ln.reason)}</small>' if ln.reason else '')
        )
        rows.append(_row(label, money(cfg, ln.amount), 'zero' if ln.reason else ''))
    t, b = bill.totals, cfg.billing
    rows.append(_row('Subtotal', money(cfg, t.subtotal), 'sum'))
    for rate, amount in ((b.service_charge, t.service_charge), (b.tax, t.tax)):
        if rate.percent:
            how = 'included' if rate.inclusive else 'added'
            rows.append(_row(f'{esc(rate.name)} {rate.percent}% ({how})', money(cfg, amount)))
    rows.append(_row('Total', money(cfg, t.total), 'total'))
    shown = [payment] if payment is not None else paid
    for p in shown:
        state = {'paid': 'paid', 'refunded': 'refunded', 'pending': 'in progress'}.get(
            p.status, f'{p.status}: {p.reason}'
        )
        rows.append(
            _row(
                f'Payment {esc(p.id)} ({esc(p.provider)}) {esc(state)}<br><small>'
                f'{esc(_when(p.paid_at or p.created_at))} · share {esc(p.share_id)}</small>',
                money(cfg, p.amount),
                'sum' if p is shown[0] else '',
            )
        )
    title = f'Receipt · payment {payment.id}' if payment is not None else 'Receipt'
    visit = f'visit {esc(s.id)} · {esc(_when(s.opened_at))}' if s is not None else ''
    return (
        f'<!doctype html><html lang="{esc(lang)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{esc(title)} · {esc(name)}</title><style>{STYLE}</style></head><body>'
        f'<h1>{esc(name)}</h1><p class="meta">{esc(title)}<br>{esc(table_name)} · {visit}</p>'
        f'<table>{"".join(rows)}</table>'
        '<p class="meta"><button onclick="print()">Print</button></p></body></html>'
    )
