"""The payment-provider seam, and the built-in simulated provider.

A provider does three things for us (`PaymentProvider`): create a payment intent for an
amount (and give the URL of its checkout page, where the diner's phone is sent), verify the
webhook it sends back when the payment succeeded or failed, and refund. The orchestrator keeps
the payment's state itself (`store/payments.py`); the provider is only trusted through a webhook
whose signature verifies.

Webhooks are signed like Stripe's: header `Robodine-Signature: t=<unix seconds>,v1=<hex
HMAC-SHA256 of "<t>.<raw body>">`. A signature that does not verify, or a timestamp more than
`WEBHOOK_TOLERANCE_S` from our clock, is refused (400) before anything is read; the event's id
is then applied at most once (`store/payments.apply_event`), so a replayed webhook changes
nothing.

**The simulated provider** needs no account: its checkout page is served by the orchestrator
itself (`api/routes_simpay.py`), and the intent's details travel in the checkout URL, signed, so
it keeps no state. "Approve" / "Decline" on that page make it sign a webhook and POST it to
`/api/payments/webhook` like a real provider would, then send the phone back to the diner page.
Its secret is derived from the first table key, so a demo needs no extra configuration.

**A real provider** (Toss Payments, Stripe) is a class with the same three methods:
`create_intent` returns its checkout (Toss: the payment window, `requestPayment` with `orderId` =
our payment id and `amount`, whose success URL confirms with `POST /v1/payments/confirm`;
Stripe: a Checkout Session with `client_reference_id` = our payment id); `verify_webhook` checks
its scheme (Stripe: `Stripe-Signature`, the same t/v1 HMAC as ours; Toss: the
`PAYMENT_STATUS_CHANGED` event checked against `GET /v1/payments/{paymentKey}`) and maps it to a
`ProviderEvent` (succeeded → approved, failed or cancelled → declined with its message);
`refund` calls its refund API (Toss: `POST /v1/payments/{paymentKey}/cancel`; Stripe:
`POST /v1/refunds`). Register it in `make_provider`; its keys belong in the settings.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlencode

from orchestrator.settings import Settings

SIGNATURE_HEADER = 'robodine-signature'
WEBHOOK_TOLERANCE_S = 300
SIMULATED = 'simulated'
CHECKOUT_PATH = '/pay/sim'
DECLINE_REASONS = {
    'insufficient_funds': 'insufficient funds',
    'card_declined': 'card declined by the bank',
    'expired_card': 'the card has expired',
}


@dataclass(frozen=True)
class IntentRequest:
    payment_id: str
    amount: int
    currency: str
    description: str
    # Where the phone goes back to afterwards (a path on this server).
    return_path: str


@dataclass(frozen=True)
class Intent:
    ref: str
    checkout_url: str


@dataclass(frozen=True)
class ProviderEvent:
    id: str
    kind: Literal['approved', 'declined']
    payment_id: str
    amount: int
    reason: str = ''


class WebhookRejected(Exception):
    """A webhook that is not to be trusted (400): bad signature, stale or malformed."""


class PaymentProvider(Protocol):
    name: str

    async def create_intent(self, request: IntentRequest) -> Intent: ...

    def verify_webhook(
        self, body: bytes, headers: Mapping[str, str], now_s: float
    ) -> ProviderEvent: ...

    async def refund(self, ref: str, amount: int) -> str: ...


def signature_header(secret: bytes, body: bytes, at_s: int) -> str:
    mac = hmac.new(secret, f'{at_s}.'.encode() + body, hashlib.sha256).hexdigest()
    return f't={at_s},v1={mac}'


def verify_signature(
    secret: bytes, body: bytes, header: str | None, now_s: float, tolerance_s: float
) -> None:
    """Raises WebhookRejected unless `header` signs `body` recently with `secret`."""
    if not header:
        raise WebhookRejected(f'missing {SIGNATURE_HEADER} header')
    parts = dict(p.split('=', 1) for p in header.split(',') if '=' in p)
    try:
        at_s = int(parts['t'])
        given = parts['v1']
    except (KeyError, ValueError) as e:
        raise WebhookRejected('malformed signature header') from e
    # In integers: a timestamp of hundreds of digits is no float (it was a 500).
    if abs(int(now_s) - at_s) > tolerance_s:
        raise WebhookRejected('webhook timestamp is too old (or in the future): replay refused')
    expected = signature_header(secret, body, at_s).split('v1=', 1)[1]
    # As bytes: compare_digest refuses str with non-ASCII characters (it was a 500).
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise WebhookRejected('webhook signature does not verify')


class SimulatedProvider:
    name = SIMULATED

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _checkout_mac(self, payment_id: str, amount: int, currency: str, back: str) -> str:
        msg = f'checkout|{payment_id}|{amount}|{currency}|{back}'.encode()
        digest = hmac.new(self._secret, msg, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).rstrip(b'=').decode()

    async def create_intent(self, request: IntentRequest) -> Intent:
        query = urlencode(
            {
                'amount': request.amount,
                'currency': request.currency,
                'back': request.return_path,
                'sig': self._checkout_mac(
                    request.payment_id, request.amount, request.currency, request.return_path
                ),
            }
        )
        return Intent(
            ref=f'sim_{request.payment_id}',
            checkout_url=f'{CHECKOUT_PATH}/{request.payment_id}?{query}',
        )

    def checkout_valid(
        self, payment_id: str, amount: int, currency: str, back: str, sig: str
    ) -> bool:
        """The checkout page's parameters are the ones we signed (nobody changed the amount)."""
        # As bytes: a signature with non-ASCII characters is refused like any other forgery.
        expected = self._checkout_mac(payment_id, amount, currency, back)
        return hmac.compare_digest(sig.encode(), expected.encode())

    def webhook(
        self,
        payment_id: str,
        amount: int,
        approved: bool,
        reason: str = '',
        at_s: int | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The webhook the provider sends for a decision: body and headers."""
        event = {
            'id': 'evt_' + secrets.token_hex(8),
            'type': 'payment.approved' if approved else 'payment.declined',
            'payment_id': payment_id,
            'amount': amount,
            'reason': '' if approved else reason,
        }
        body = json.dumps(event, separators=(',', ':')).encode()
        at = int(time.time()) if at_s is None else at_s
        return body, {
            SIGNATURE_HEADER: signature_header(self._secret, body, at),
            'content-type': 'application/json',
        }

    def verify_webhook(
        self, body: bytes, headers: Mapping[str, str], now_s: float
    ) -> ProviderEvent:
        verify_signature(
            self._secret, body, headers.get(SIGNATURE_HEADER), now_s, WEBHOOK_TOLERANCE_S
        )
        try:
            raw = json.loads(body)
            kind = {'payment.approved': 'approved', 'payment.declined': 'declined'}[raw['type']]
            return ProviderEvent(
                id=str(raw['id']),
                kind=kind,  # type: ignore[arg-type]
                payment_id=str(raw['payment_id']),
                amount=int(raw['amount']),
                reason=str(raw.get('reason') or ''),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise WebhookRejected('webhook body is not a payment event') from e

    async def refund(self, ref: str, amount: int) -> str:
        return f'sim_rf_{secrets.token_hex(6)}'


def simulated_secret(settings: Settings) -> bytes:
    """The simulated provider's webhook secret: derived from the first table key."""
    key = next(iter(settings.table_keys.values())).get_secret_value().encode()
    return hmac.new(key, b'robodine simulated payment provider', hashlib.sha256).digest()


def make_provider(settings: Settings) -> SimulatedProvider:
    """The provider payments go through (only the simulated one is built in)."""
    return SimulatedProvider(simulated_secret(settings))
