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
from orchestrator.texts import texts


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
    """A printable receipt of the whole visit, or (with `payment`) of one payment, in `lang`:
    the lines, service charge, tax, total and the payments."""
    name = getattr(cfg.restaurant.name, lang, cfg.restaurant.name.en)
    say = texts(lang)
    esc = html.escape
    rows = []
    for ln in bill.lines:
        options = _choice_names(cfg, lang, ln.dish_id, ln.options)
        # A zero line's key ends in `-x{status}`: why it is not charged.
        reason = ln.reason and say['zero_reason'].get(ln.key.rpartition('-x')[2], ln.reason)
        label = (
            f'{esc(ln.name.get(lang) or ln.name["en"])} × {ln.quantity}'
            + (f'<br><small>{esc(options)}</small>' if options else '')
            + (
                f'<br><small>{esc(say["not_charged"].replace("{reason}", reason))}</small>'
                if reason
                else ''
            )
        )
        rows.append(_row(label, money(cfg, ln.amount), 'zero' if ln.reason else ''))
    t, b = bill.totals, cfg.billing
    rows.append(_row(esc(say['subtotal']), money(cfg, t.subtotal), 'sum'))
    for rate, amount in ((b.service_charge, t.service_charge), (b.tax, t.tax)):
        if rate.percent:
            how = say['included'] if rate.inclusive else say['added']
            rows.append(_row(f'{esc(rate.name)} {rate.percent}% ({esc(how)})', money(cfg, amount)))
    rows.append(_row(esc(say['total']), money(cfg, t.total), 'total'))
    shown = [payment] if payment is not None else paid
    statuses = say['share_status']
    for p in shown:
        # Declined or failed: the provider's reason in the page's language when it knows it.
        why = say['decline_reasons'].get(p.reason, p.reason)
        state = {'paid': statuses['paid'], 'refunded': statuses['refunded']}.get(
            p.status, statuses['paying'] if p.status == 'pending' else f'{say["declined"]}: {why}'
        )
        rows.append(
            _row(
                f'{esc(say["payment"])} {esc(p.id)} ({esc(p.provider)}) {esc(state)}<br><small>'
                f'{esc(_when(p.paid_at or p.created_at))} · {esc(say["share"])} '
                f'{esc(p.share_id)}</small>',
                money(cfg, p.amount),
                'sum' if p is shown[0] else '',
            )
        )
    # `receipt` is the page's link to it ("View receipt"), not a title.
    title = say['receipt_title'] + (
        f' · {say["payment"]} {payment.id}' if payment is not None else ''
    )
    visit = f'{say["visit"]} {esc(s.id)} · {esc(_when(s.opened_at))}' if s is not None else ''
    return (
        f'<!doctype html><html lang="{esc(lang)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{esc(title)} · {esc(name)}</title><style>{STYLE}</style></head><body>'
        f'<h1>{esc(name)}</h1><p class="meta">{esc(title)}<br>{esc(table_name)} · {visit}</p>'
        f'<table>{"".join(rows)}</table>'
        f'<p class="meta"><button onclick="print()">{esc(say["print"])}</button></p></body></html>'
    )


def _choice_names(cfg: RestaurantConfig, lang: str, dish_id: str, options: dict[str, str]) -> str:
    """A line's options as the menu names them in `lang` (their ids for a dish or choice no
    longer on the menu)."""
    dish = cfg.dish_by_id.get(dish_id)
    names = {
        (o.id, c.id): getattr(c.name, lang)
        for o in (dish.options if dish else [])
        for c in o.choices
    }
    return ', '.join(names.get((opt, choice), choice) for opt, choice in options.items())
