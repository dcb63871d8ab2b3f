"""Orders of one table, addressed by the table's QR token: place, list, follow, pick up, cancel."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from orchestrator.api.context import AppContext
from orchestrator.api.deps import (
    IDEMPOTENCY_KEY_DOC,
    IdempotencyKey,
    RedisDep,
    VerifiedTable,
    idempotency_key,
)
from orchestrator.api.errors import ApiError
from orchestrator.api.live import (
    LiveResponse,
    client_address,
    order_frames,
    valid_stream_id,
    visit_frames,
)
from orchestrator.api.schemas import (
    OrderActionOut,
    OrderDetail,
    OrderOut,
    OrderState,
    errors,
)
from orchestrator.api.visits import DinerVisit, OrderVisit, caller, resolve, session_refusal
from orchestrator.pricing import OrderIn, OrderRejected, sold_out
from orchestrator.store import jobs, orders, sessions, trips

ORDERS_PREFIX, ORDERS_SUFFIX = '/api/tables/', '/orders'
router = APIRouter(prefix=f'{ORDERS_PREFIX}{{token}}{ORDERS_SUFFIX}', tags=['orders'])

JSON = 'application/json'


async def place_order(
    order: OrderIn, table: VerifiedTable, key: IdempotencyKey, request: Request
) -> Response:
    started = time.perf_counter()
    ctx: AppContext = request.app.state.ctx
    try:
        outcome = await ctx.intake.take(table.id, key, order, request.state.visit)
    except OrderRejected as e:
        raise ApiError(e.status, str(e), e.reason, e.field) from e
    if outcome.kind in ('ended', 'rate', 'dishes'):
        raise session_refusal(ctx, outcome.kind, outcome.value)
    if outcome.kind == 'conflict':
        raise ApiError(
            409,
            'Idempotency-Key was already used for a different order',
            'idempotency_conflict',
            'Idempotency-Key',
        )
    if outcome.kind in ('soldout', 'stale', 'nostock'):
        line = next(i for i, item in enumerate(order.items) if item.dish_id == outcome.value)
        field = f'items[{line}].dish_id'
        if outcome.kind == 'stale':
            raise ApiError(409, f'{field}: price keeps changing, please retry', 'price', field)
        if outcome.kind == 'nostock':
            message = f'{field}: not enough stock left for {outcome.value!r}'
            raise ApiError(409, message, 'no_stock', field)
        refusal = sold_out(field, outcome.value)
        raise ApiError(refusal.status, str(refusal), refusal.reason, refusal.field)
    if outcome.kind == 'created':
        ctx.metrics.orders_accepted.inc()
        ctx.metrics.intake_seconds.observe(time.perf_counter() - started)
    return Response(outcome.response, status_code=201, media_type=JSON)


class PlaceOrderRoute(APIRoute):
    """`place_order`, documented from its signature like any route, served without FastAPI's
    request handling: dependency solving and body validation field by field in Python cost more
    CPU than the order itself (bench/intake.py).

    The handler (`take_order`) resolves the same arguments by hand, cheapest refusal first: the
    table token (401/403) before the body is even looked at, then the Idempotency-Key (400),
    then the raw body validated in one pass by pydantic-core (422 naming the field, like
    FastAPI's). The body was already size-checked (413) by the BodyLimit middleware.
    `dependency_overrides` do not apply to this route.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return take_order


async def take_order(request: Request) -> Response:
    """Place the order of `POST /api/tables/{token}/orders` (PlaceOrderRoute)."""
    who = caller(request.app.state.ctx, request.path_params['token'])
    table, request.state.visit = who.table, who.visit
    key = await idempotency_key(request)
    order = parse_order(request.headers.get('content-type'), await request.body())
    return await place_order(order, table, key, request)


class OrderFastPath:
    """Pure ASGI middleware: `POST /api/tables/{token}/orders` straight to `take_order`.

    Starlette's routing, FastAPI's route wrappers and the exception middleware between the
    middleware and the route cost the order API a fifth of its CPU (bench/intake.py), for a
    handler that resolves its arguments itself. Its exceptions go to the app's exception
    handlers as they would from the route (anything unhandled to ServerErrorMiddleware); every
    other request, and a path the router would not match alike (a root_path), goes on. Installed
    inside BodyLimit, so that bodies are size-checked first.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _order_token(scope)
        if token is None:
            await self.app(scope, receive, send)
            return
        scope['path_params'] = {'token': token}
        request = Request(scope, receive, send)
        try:
            response = await take_order(request)
        except Exception as e:
            handler = _exception_handler(request.app, e)
            if handler is None:
                raise
            response = handler(request, e)
            if inspect.isawaitable(response):
                response = await response
        await response(scope, receive, send)


def _order_token(scope: Scope) -> str | None:
    """The token of a request the order route would take (`{token}` matches `[^/]+`)."""
    if scope['type'] != 'http' or scope['method'] != 'POST' or scope.get('root_path'):
        return None
    path: str = scope['path']
    if not (path.startswith(ORDERS_PREFIX) and path.endswith(ORDERS_SUFFIX)):
        return None
    token = path[len(ORDERS_PREFIX) : -len(ORDERS_SUFFIX)]
    return token if token and '/' not in token else None


def _exception_handler(app: Starlette, e: Exception) -> Any:
    """The handler Starlette's ExceptionMiddleware would give `e` (None: let it propagate; the
    handlers of 500 and Exception are ServerErrorMiddleware's)."""
    handlers = app.exception_handlers
    status = e.status_code if isinstance(e, StarletteHTTPException) else 500
    if status != 500 and status in handlers:
        return handlers[status]
    return next(
        (handlers[c] for c in type(e).__mro__ if c in handlers and c is not Exception), None
    )


def parse_order(content_type: str | None, body: bytes) -> OrderIn:
    """The JSON body as an OrderIn; RequestValidationError (422) as FastAPI would raise it."""
    media = (content_type or '').partition(';')[0].strip().lower()
    if media != JSON and not (media.startswith('application/') and media.endswith('+json')):
        raise RequestValidationError(
            [{'loc': ('body',), 'msg': 'Content-Type must be application/json', 'type': 'json'}]
        )
    try:
        return OrderIn.model_validate_json(body)
    except ValidationError as e:
        raise RequestValidationError(
            [{**err, 'loc': ('body', *err['loc'])} for err in e.errors(include_url=False)]
        ) from e


router.add_api_route(
    '',
    place_order,
    methods=['POST'],
    route_class_override=PlaceOrderRoute,
    status_code=201,
    response_model=None,
    summary='Place an order',
    responses={
        201: {
            'model': OrderOut,
            'description': 'Order stored; a replay of '
            'the same key and body returns this response again',
        },
        **errors(400, 401, 403, 409, 413, 422, 503),
    },
    openapi_extra={'parameters': [IDEMPOTENCY_KEY_DOC]},
)


@router.get(
    '',
    response_model=list[OrderState],
    summary="The table's orders, newest first",
    responses=errors(401, 403, 503),
)
async def list_orders(table: DinerVisit, r: RedisDep) -> list[dict[str, Any]]:
    """Only the current visit's orders (never an earlier party's)."""
    placed = await sessions.orders_of(r, table.session) if table.session else []
    return [o.view() for o in reversed(placed)]


@router.get(
    '/events',
    summary="Live: the visit's orders as they change (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={
        200: {
            'content': {
                'text/event-stream': {
                    'example': 'data: {"type":"order","order":{"id":"o2k4m6p8r2t",'
                    '"status":"cooking","jobs_cooked":1,...}}\n\n'
                }
            },
            'description': 'every order of the visit as `GET .../orders` shows it, first all '
            "of them, then each one again whenever it changes, the table's other phones' new "
            'orders included; no ids (a reconnected stream starts with every order again); '
            'ends when the visit does',
        },
        **errors(401, 403, 429, 503),
    },
)
async def visit_events(table: DinerVisit, token: str, request: Request) -> LiveResponse:
    ctx: AppContext = request.app.state.ctx
    release = ctx.streams.acquire(client_address(request), table.id)
    # The session the stream follows, once there is one: a printed table code acts for the
    # table's current session, and the next party's is not this visit's.
    following = table.session.id if table.session else None

    async def look() -> list[orders.OrderRecord] | None:
        nonlocal following
        try:
            visit = await resolve(ctx, token)
        except ApiError:
            return None  # the visit has ended
        s = visit.session
        if s is None or following not in (None, s.id):
            return None if following else []
        following = s.id
        return await sessions.orders_of(ctx.redis, s)

    return LiveResponse(visit_frames(ctx.fanout, ctx.streams.reads, table.id, look), release)


@router.get(
    '/{order_id}',
    response_model=OrderDetail,
    summary='One order with its timeline',
    responses=errors(401, 403, 404, 503),
)
async def get_order(order_id: str, seen: OrderVisit, r: RedisDep) -> dict[str, Any]:
    return {**seen.order.view(), 'timeline': await orders.timeline(r, order_id)}


@router.get(
    '/{order_id}/events',
    summary='Live status changes (Server-Sent Events)',
    response_class=StreamingResponse,
    responses={
        200: {
            'content': {
                'text/event-stream': {
                    'example': 'id: 1764383918123-0\ndata: {"type":"order.accepted",'
                    '"status":"received",...}\n\n'
                }
            },
            'description': 'one event per status change; `id` is the stream '
            'entry id, send it back as Last-Event-ID to resume; the stream '
            'ends after a final status (served, cancelled, failed)',
        },
        **errors(401, 403, 404, 429, 503),
    },
)
async def order_events(
    seen: OrderVisit,
    request: Request,
    last_event_id: Annotated[str | None, Header()] = None,
) -> LiveResponse:
    ctx: AppContext = request.app.state.ctx
    release = ctx.streams.acquire(client_address(request), seen.visit.id)
    after = last_event_id if last_event_id and valid_stream_id(last_event_id) else '0-0'
    frames = order_frames(ctx.redis, ctx.fanout, ctx.streams.reads, seen.order, after)
    return LiveResponse(frames, release)


def _order_action(action: str, summary: str) -> Callable[[Any], Any]:
    """A diner's POST on one of their orders: 202 once accepted, 409 when the order is not in
    the state the action needs."""
    return router.post(
        f'/{{order_id}}/{action}',
        status_code=202,
        response_model=OrderActionOut,
        summary=summary,
        responses=errors(401, 403, 404, 409, 503),
    )


@_order_action('pickup', 'Diner confirms the food was taken off the robot')
async def confirm_pickup(order_id: str, seen: OrderVisit, r: RedisDep) -> dict[str, str]:
    try:
        await orders.request_pickup(r, seen.visit.id, order_id)
    except orders.PickupRefused as e:
        raise ApiError(409, str(e), 'pickup_refused', 'order_id') from e
    return {'order_id': order_id, 'status': 'pickup_requested'}


@_order_action(
    'redeliver', 'Diner asks for food that came back to the kitchen to be brought again'
)
async def bring_again(order_id: str, seen: OrderVisit, r: RedisDep) -> dict[str, str]:
    # Only food a robot brought back (nobody took it) goes out again: once per return, so a
    # diner cannot send robots out at will.
    if not await trips.redeliver(r, order_id, 'diner'):
        raise ApiError(
            409,
            f'order {order_id} is {seen.order.status}, not back at the kitchen: only food a '
            'robot brought back can be brought again',
            'not_returned',
            'order_id',
        )
    return {'order_id': order_id, 'status': 'redelivery_requested'}


@_order_action('cancel', 'Diner cancels an order the kitchen has not started')
async def cancel_order(order_id: str, seen: OrderVisit, r: RedisDep) -> dict[str, str]:
    # All or nothing, and only before any robot takes a dish (a started dish would be
    # wasted: that is staff's call, from the console).
    order = seen.order
    if order.final:
        raise ApiError(409, f'order {order_id} is already {order.status}', 'final', 'order_id')
    stopped = await jobs.withdraw(r, order_id, order.job_ids(), 'diner')
    if stopped not in (jobs.WITHDRAWN, ''):
        raise ApiError(
            409,
            f'the kitchen has started order {order_id} (a dish is {stopped}): it can no longer '
            'be cancelled here, please ask the staff',
            'started',
            'order_id',
        )
    return {'order_id': order_id, 'status': 'cancelled'}
