"""The simulated payment provider's checkout page (see orchestrator/payments.py).

A diner's phone is sent here by `POST /api/tables/{token}/payments`; "Approve" or "Decline"
makes the provider sign a webhook and POST it to this server's `/api/payments/webhook` over
HTTP, exactly as a real provider calls back, and then sends the phone back to the diner page.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qs

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from orchestrator.payments import CHECKOUT_PATH, DECLINE_REASONS, SimulatedProvider

router = APIRouter(tags=['simulated provider'], include_in_schema=False)
WEBHOOK_TIMEOUT_S = 10.0

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SimPay checkout</title>
<link rel="icon" href="/static/icon.svg" type="image/svg+xml">
<style>
body {{ font: 16px/1.4 system-ui, sans-serif; max-width: 420px; margin: 0 auto; padding: 24px;
  background: #0f172a; color: #f8fafc; }}
.card {{ background: #1e293b; border-radius: 16px; padding: 20px; }}
h1 {{ font-size: 18px; margin: 0 0 4px; }} .amount {{ font-size: 32px; font-weight: 700; }}
button {{ width: 100%; font: inherit; padding: 14px; border-radius: 12px; border: 0;
  margin-top: 12px; cursor: pointer; }}
.approve {{ background: #22c55e; color: #052e16; font-weight: 700; }}
.decline {{ background: #334155; color: #f8fafc; }}
select {{ width: 100%; font: inherit; padding: 10px; margin-top: 12px; border-radius: 8px; }}
small {{ color: #94a3b8; }}
</style></head><body><div class="card">
<h1>SimPay · simulated payment provider</h1><small>No money moves. Payment {pid}</small>
<p class="amount" data-testid="sim-amount">{amount}</p>
<form method="post" action="{action}">{hidden}
<input type="hidden" name="decision" value="approve">
<button class="approve" data-testid="approve">Approve</button></form>
<form method="post" action="{action}">{hidden}
<input type="hidden" name="decision" value="decline">
<select name="reason" aria-label="decline reason">{reasons}</select>
<button class="decline" data-testid="decline">Decline</button></form>
</div></body></html>"""


def _simulated(request: Request) -> SimulatedProvider:
    provider = request.app.state.payments
    if not isinstance(provider, SimulatedProvider):
        raise LookupError('the simulated provider is not in use')
    return provider


def _amount(amount: int, currency: str) -> str:
    return f'{amount:,} {currency} (minor units)' if currency != 'KRW' else f'₩{amount:,}'


def _safe_back(back: str) -> str:
    # Only back to a diner page of this server: never an open redirect.
    return back if back.startswith('/t/') and '//' not in back and '\\' not in back else '/'


@router.get(CHECKOUT_PATH + '/{payment_id}', response_class=HTMLResponse)
async def checkout(
    payment_id: str, request: Request, amount: int, currency: str, back: str, sig: str
) -> HTMLResponse:
    provider = _simulated(request)
    if not provider.checkout_valid(payment_id, amount, currency, back, sig):
        return HTMLResponse('<p>This checkout link is not valid.</p>', status_code=400)
    esc = html.escape
    hidden = ''.join(
        f'<input type="hidden" name="{k}" value="{esc(str(v))}">'
        for k, v in (('amount', amount), ('currency', currency), ('back', back), ('sig', sig))
    )
    reasons = ''.join(f'<option value="{k}">{esc(v)}</option>' for k, v in DECLINE_REASONS.items())
    page = PAGE.format(
        pid=esc(payment_id),
        amount=esc(_amount(amount, currency)),
        action=esc(f'{CHECKOUT_PATH}/{payment_id}'),
        hidden=hidden,
        reasons=reasons,
    )
    return HTMLResponse(page, headers={'Cache-Control': 'no-store'})


@router.post(CHECKOUT_PATH + '/{payment_id}')
async def decide(payment_id: str, request: Request) -> Response:
    # Not UTF-8 is no form of ours: it fails the checks below (400) rather than decoding (500).
    sent = (await request.body()).decode(errors='replace')
    form = {k: v[0] for k, v in parse_qs(sent).items()}
    try:
        amount, currency, back, sig = (
            int(form['amount']),
            form['currency'],
            form['back'],
            form['sig'],
        )
    except (KeyError, ValueError):
        return HTMLResponse('<p>This checkout form is not valid.</p>', status_code=400)
    decision, reason = form.get('decision', ''), form.get('reason', 'card_declined')
    provider = _simulated(request)
    if not provider.checkout_valid(payment_id, amount, currency, back, sig):
        return HTMLResponse('<p>This checkout link is not valid.</p>', status_code=400)
    body, headers = provider.webhook(
        payment_id,
        amount,
        approved=decision == 'approve',
        reason=DECLINE_REASONS.get(reason, DECLINE_REASONS['card_declined']),
    )
    url = str(request.base_url).rstrip('/') + '/api/payments/webhook'
    try:
        async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_S) as client:
            answer = await client.post(url, content=body, headers=headers)
        answer.raise_for_status()
    except httpx.HTTPError as e:
        return HTMLResponse(
            f'<p>The shop did not take the payment notice ({html.escape(str(e))}); '
            'nothing was charged. Go back and try again.</p>',
            status_code=502,
        )
    return RedirectResponse(_safe_back(back), status_code=303)
