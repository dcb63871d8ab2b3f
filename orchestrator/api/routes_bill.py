"""The visit's bill, its split and payments, receipts and calling staff, by table code; and the
payment provider's webhook."""

from __future__ import annotations

import math
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, Strict

from orchestrator import bill_view, billing
from orchestrator.api.context import AppContext
from orchestrator.api.deps import IDEMPOTENCY_KEY_DOC, Ctx, IdempotencyKey
from orchestrator.api.errors import ApiError
from orchestrator.api.routes_diner import pick_language
from orchestrator.api.schemas import errors
from orchestrator.api.visits import DinerVisit, Visit, current_visit_code
from orchestrator.config import MAX_SEATS
from orchestrator.payments import (
    SIGNATURE_HEADER,
    WEBHOOK_TOLERANCE_S,
    IntentRequest,
    PaymentProvider,
    WebhookRejected,
)
from orchestrator.store import alerts, audit, payments, sessions
from orchestrator.store.payments import PaymentRecord, PaymentRefused
from orchestrator.store.sessions import SessionRefused
from orchestrator.texts import Said

router = APIRouter(prefix='/api/tables/{token}', tags=['bill'])
webhooks = APIRouter(tags=['payments'])


def provider_of(request: Request) -> PaymentProvider:
    provider: PaymentProvider = request.app.state.payments
    return provider


def _writable(visit: Visit) -> None:
    if not visit.writable:
        raise ApiError(
            409, 'this visit is closed; scan the code on the table to order again', 'closed'
        )


def _open_session(visit: Visit) -> str:
    _writable(visit)
    if visit.session is None:
        raise ApiError(409, 'nothing has been ordered at this table yet', 'no_visit', 'token')
    return visit.session.id


async def _bill(ctx: AppContext, visit: Visit) -> dict[str, Any]:
    # Re-read: the caller's session may have moved on since the dependency resolved it.
    s = visit.session
    if s is not None:
        s = await sessions.current(ctx.redis, visit.table.id) if s.open else s
    out = await bill_view.payload(ctx.redis, ctx.config, s)
    out['table'] = {'id': visit.table.id, 'name': visit.table.name.model_dump()}
    out['writable'] = visit.writable
    return out


def _refusal(e: SessionRefused | PaymentRefused | billing.SplitRefused) -> ApiError:
    if isinstance(e, billing.SplitRefused):
        return ApiError(422, f'{e.field}: {e.message}', e.reason or 'split', e.field)
    return ApiError(e.status, e.message, e.reason or 'bill', e.field)


@router.get('/visit', summary='The visit this code is for, and the code to keep using')
async def visit_info(token: str, visit: DinerVisit, ctx: Ctx) -> dict[str, Any]:
    code = token
    if visit.caller.visit is None:
        code = await current_visit_code(ctx, visit.caller.table_code, visit.table.id)
    return {
        'table': {
            'id': visit.table.id,
            'name': visit.table.name.model_dump(),
            'seats': visit.table.seats,
        },
        'session': visit.session.view() if visit.session else None,
        'visit_code': code,
        'writable': visit.writable,
    }


class PartyIn(BaseModel):
    model_config = ConfigDict(extra='forbid')
    # How many are at the table: at most its seats (checked against the table's own).
    size: Annotated[int, Strict(), Field(ge=1, le=MAX_SEATS)]


@router.post(
    '/party',
    summary="The party's size, as the diner page asks it once a visit (the report's covers)",
    responses=errors(401, 403, 409, 422, 429),
)
async def party_size(body: PartyIn, visit: DinerVisit, ctx: Ctx) -> dict[str, Any]:
    _writable(visit)
    seats = visit.table.seats
    if body.size > seats:
        raise ApiError(
            422, f'size: {visit.table.name.en} seats at most {seats}', 'party_size', 'size'
        )
    if wait_s := await sessions.take_party_size(ctx.redis, visit.table.id):
        retry_s = math.ceil(wait_s)
        raise ApiError(
            429,
            f'the party size was set {sessions.PARTY_SIZES_PER_MINUTE} times from this table '
            f'within a minute; please wait {retry_s} s',
            'party_limited',
            'size',
            {'Retry-After': str(retry_s)},
        )
    sid = visit.session.id if visit.session is not None else None
    try:
        s = await sessions.seat(ctx.redis, visit.table.id, body.size, 'diner', sid)
    except SessionRefused as e:
        raise _refusal(e) from e
    return {'session': s.view()}


@router.get(
    '/bill',
    summary="The visit's bill: lines, totals, shares, payments",
    responses=errors(401, 403),
)
async def get_bill(visit: DinerVisit, ctx: Ctx) -> dict[str, Any]:
    return await _bill(ctx, visit)


@router.post('/bill/request', summary='Ask for the bill', responses=errors(401, 403, 409))
async def request_bill(visit: DinerVisit, ctx: Ctx) -> dict[str, Any]:
    sid = _open_session(visit)
    try:
        await sessions.request_bill(ctx.redis, ctx.config.billing, visit.table.id, sid)
    except SessionRefused as e:
        raise _refusal(e) from e
    return await _bill(ctx, visit)


class ItemIn(BaseModel):
    model_config = ConfigDict(extra='forbid')
    # A bill line's key (`lines[].key`) and how many of its units.
    line: Annotated[str, Field(min_length=1, max_length=80)]
    units: Annotated[int, Strict(), Field(ge=1, le=100)] = 1


class SplitIn(BaseModel):
    """`even` N ways (`ways`), `items`: one more share of the listed units (the rest stays
    one share), `amount`: one more share of `amount` (minor units) out of what nobody has
    claimed, or `none`: one share of everything left."""

    model_config = ConfigDict(
        extra='forbid',
        json_schema_extra={
            'examples': [
                {'mode': 'even', 'ways': 3},
                {'mode': 'items', 'items': [{'line': 'o3kq9vz2m1x-0', 'units': 1}]},
                {'mode': 'amount', 'amount': 20000},
            ]
        },
    )
    mode: Literal['none', 'even', 'items', 'amount']
    ways: Annotated[int, Strict(), Field(ge=1, le=billing.MAX_WAYS)] = 1
    items: Annotated[list[ItemIn], Field(max_length=100)] = []
    amount: Annotated[int, Strict(), Field(ge=1, le=10**12)] | None = None


@router.post('/bill/split', summary='Split the bill', responses=errors(401, 403, 409, 422))
async def split_bill(body: SplitIn, visit: DinerVisit, ctx: Ctx) -> dict[str, Any]:
    if body.mode == 'amount' and body.amount is None:
        raise ApiError(
            422, 'amount: how much to pay is required with mode amount', 'split', 'amount'
        )
    sid = _open_session(visit)
    items = [(i.line, i.units) for i in body.items]

    def plan(bill: billing.Bill, s: sessions.DiningSession, new_id: str) -> billing.Split:
        if body.mode == 'even':
            return billing.split_even(body.ways)
        if body.mode == 'items':
            return billing.claim(bill, s.split_plan(), s.frozen_shares(), items, new_id)
        if body.amount is not None:
            split, frozen = s.split_plan(), s.frozen_shares()
            return billing.claim_amount(bill, split, frozen, body.amount, new_id)
        return billing.Split()

    try:
        new = await sessions.split(ctx.redis, ctx.config.billing, visit.table.id, sid, plan)
    except (SessionRefused, billing.SplitRefused) as e:
        raise _refusal(e) from e
    out = await _bill(ctx, visit)
    if body.mode == 'items':
        out['share_id'] = new.claims[-1][0]
    elif body.mode == 'amount':
        out['share_id'] = new.amounts[-1][0]
    return out


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra='forbid', json_schema_extra={'examples': [{'share_id': 'e1'}]})
    share_id: Annotated[str, Field(min_length=1, max_length=20)]


@router.post(
    '/payments',
    summary='Pay one share: a payment with the provider (one per share)',
    status_code=201,
    responses={
        200: {'description': 'the payment this key (or another phone) already started'},
        **errors(400, 401, 403, 409),
    },
    openapi_extra={'parameters': [IDEMPOTENCY_KEY_DOC]},
)
async def pay(
    body: PaymentIn, visit: DinerVisit, key: IdempotencyKey, request: Request, ctx: Ctx
) -> JSONResponse:
    sid = _open_session(visit)
    provider = provider_of(request)
    try:
        p, created = await payments.start(
            ctx.redis,
            ctx.config.billing,
            visit.table.id,
            sid,
            body.share_id,
            key,
            ctx.config.restaurant.currency,
            provider.name,
        )
    except PaymentRefused as e:
        raise _refusal(e) from e
    if created:
        code = request.path_params['token']
        intent = await provider.create_intent(
            IntentRequest(
                payment_id=p.id,
                amount=p.amount,
                currency=p.currency,
                description=f'{ctx.config.restaurant.name.en} · {visit.table.name.en}',
                return_path=f'/t/{code}?payment={p.id}#bill',
            )
        )
        p = await payments.set_intent(ctx.redis, p.id, intent.ref, intent.checkout_url)
        await audit.record(
            ctx.redis, f'diner:{visit.table.id}', 'payment.start', p.id, 'ok', _detail(p)
        )
    return JSONResponse(p.view(), status_code=201 if created else 200)


def _detail(p: PaymentRecord) -> str:
    return f'share {p.share_id} {p.amount} {p.currency} via {p.provider}'


async def _payment_of(ctx: AppContext, visit: Visit, payment_id: str) -> PaymentRecord:
    p = await payments.get(ctx.redis, payment_id)
    if p is None or visit.session is None or p.session_id != visit.session.id:
        raise ApiError(404, f'no payment {payment_id!r} for this visit', 'not_found', 'payment_id')
    return p


@router.get('/payments/{payment_id}', summary='One payment', responses=errors(401, 403, 404))
async def get_payment(payment_id: str, visit: DinerVisit, ctx: Ctx) -> dict[str, Any]:
    return (await _payment_of(ctx, visit, payment_id)).view()


# The language the page shows (its switch), else the browser's Accept-Language.
Lang = Annotated[Literal['ko', 'en', 'zh'] | None, Query(description='receipt language')]


async def _receipt(
    ctx: AppContext, visit: Visit, lang: str, payment: PaymentRecord | None
) -> HTMLResponse:
    bill, _, _, paid = await bill_view.load(ctx.redis, ctx.config, visit.session)
    page = bill_view.receipt_html(
        ctx.config,
        getattr(visit.table.name, lang),
        visit.session,
        bill,
        paid,
        lang,
        payment,
    )
    return HTMLResponse(page, headers={'Cache-Control': 'no-store'})


@router.get(
    '/receipt', response_class=HTMLResponse, summary="The visit's receipt (printable HTML)"
)
async def visit_receipt(
    visit: DinerVisit,
    ctx: Ctx,
    lang: Lang = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> HTMLResponse:
    return await _receipt(ctx, visit, lang or pick_language(accept_language), None)


@router.get(
    '/payments/{payment_id}/receipt',
    response_class=HTMLResponse,
    summary="One payment's receipt (printable HTML)",
)
async def payment_receipt(
    payment_id: str,
    visit: DinerVisit,
    ctx: Ctx,
    lang: Lang = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> HTMLResponse:
    p = await _payment_of(ctx, visit, payment_id)
    return await _receipt(ctx, visit, lang or pick_language(accept_language), p)


class StaffCallIn(BaseModel):
    model_config = ConfigDict(extra='forbid')
    reason: Literal['help', 'water', 'cutlery', 'allergy']


@router.post(
    '/staff-calls',
    status_code=201,
    summary='Call staff to the table (one call per table per interval)',
    responses=errors(401, 403, 429),
)
async def call_staff(body: StaffCallIn, visit: DinerVisit, ctx: Ctx) -> dict[str, Any]:
    _writable(visit)
    interval = ctx.config.service.staff_call_interval_s
    wait_s = await sessions.call_staff(ctx.redis, visit.table.id, interval)
    if wait_s:
        retry_s = math.ceil(wait_s)
        raise ApiError(
            429,
            f'staff were called from this table a moment ago; you can call again in {retry_s} s',
            'staff_call_limited',
            'reason',
            {'Retry-After': str(retry_s)},
        )
    await alerts.raise_alert(
        ctx.redis,
        'staff_call',
        'warning',
        # The console's text for each reason: `alert.texts.staff_call.{reason}`.
        Said(
            f'alert.texts.staff_call.{body.reason}',
            {'table': visit.table.name.en, 'table_id': visit.table.id},
        ),
        table_id=visit.table.id,
    )
    return {'table_id': visit.table.id, 'reason': body.reason, 'status': 'called'}


# The built-in simulated provider's signature (a real provider signs with its own header).
SIGNATURE_PARAMETER = {
    'name': SIGNATURE_HEADER.title(),
    'in': 'header',
    'required': True,
    'description': (
        't=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">; refused with 400 when it does not '
        f'verify or t is more than {WEBHOOK_TOLERANCE_S} s off'
    ),
    'schema': {'type': 'string', 'pattern': r'^t=\d+,v1=[0-9a-f]{64}$'},
    'example': 't=1764928800,v1=' + '0' * 64,
}


@webhooks.post(
    '/api/payments/webhook',
    summary="The payment provider's webhook (signed; each event applied once)",
    responses={400: {'description': 'bad signature, stale timestamp or not an event'}},
    # Declared, not read as a parameter: the provider verifies its own header (a missing or
    # bad one is a 400 naming the signature, not a 422).
    openapi_extra={'parameters': [SIGNATURE_PARAMETER]},
)
async def payment_webhook(request: Request, ctx: Ctx) -> Response:
    body = await request.body()
    provider = provider_of(request)
    try:
        event = provider.verify_webhook(body, request.headers, time.time())
    except WebhookRejected as e:
        raise ApiError(400, str(e), 'webhook', 'signature') from e
    applied = await payments.apply_event(
        ctx.redis,
        ctx.config.billing,
        event.id,
        event.payment_id,
        event.kind == 'approved',
        event.reason,
        event.amount,
    )
    p = applied.payment
    if applied.outcome in (payments.PAID, payments.DECLINED, payments.FAILED) and p is not None:
        await audit.record(
            ctx.redis,
            f'provider:{provider.name}',
            f'payment.{applied.outcome}',
            p.id,
            'ok',
            _detail(p) + (f': {p.reason}' if p.reason else ''),
        )
    return JSONResponse({'result': applied.outcome, 'payment_id': event.payment_id})
