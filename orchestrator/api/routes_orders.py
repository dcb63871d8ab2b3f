"""Orders of one table, addressed by the table's QR token: place, list, follow, pick up."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import StreamingResponse

from orchestrator import order_store, timeline
from orchestrator.api.context import AppContext
from orchestrator.api.deps import IDEMPOTENCY_KEY_DOC, IdempotencyKey, RedisDep, VerifiedTable
from orchestrator.api.errors import ApiError
from orchestrator.api.schemas import OrderDetail, OrderOut, OrderState, PickupOut, errors
from orchestrator.logs import order_id_var
from orchestrator.orders import OrderIn, OrderRejected, sold_out

router = APIRouter(prefix='/api/tables/{token}/orders', tags=['orders'])

STREAM_ID = re.compile(r'^\d+(-\d+)?$')
# An idle SSE connection gets a comment this often, so proxies keep it and dead clients show.
SSE_KEEPALIVE_MS = 15_000
JSON = 'application/json'


@router.post(
    '',
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
async def place_order(
    order: OrderIn, table: VerifiedTable, key: IdempotencyKey, request: Request
) -> Response:
    started = time.perf_counter()
    ctx: AppContext = request.app.state.ctx  # not a dependency: this is the hot path
    try:
        outcome = await ctx.intake.take(table.id, key, order)
    except OrderRejected as e:
        raise ApiError(e.status, str(e), e.reason, e.field) from e
    if outcome.kind == 'conflict':
        raise ApiError(
            409,
            'Idempotency-Key was already used for a different order',
            'idempotency_conflict',
            'Idempotency-Key',
        )
    if outcome.kind in ('soldout', 'stale'):
        line = next(i for i, item in enumerate(order.items) if item.dish_id == outcome.value)
        field = f'items[{line}].dish_id'
        if outcome.kind == 'stale':
            raise ApiError(409, f'{field}: price keeps changing, please retry', 'price', field)
        refusal = sold_out(field, outcome.value)
        raise ApiError(refusal.status, str(refusal), refusal.reason, refusal.field)
    if outcome.kind == 'created':
        ctx.metrics.orders_accepted.inc()
        ctx.metrics.intake_seconds.observe(time.perf_counter() - started)
    return Response(outcome.value, status_code=201, media_type=JSON)


@router.get(
    '',
    response_model=list[OrderState],
    summary="The table's orders, newest first",
    responses=errors(401, 403, 503),
)
async def list_orders(table: VerifiedTable, r: RedisDep) -> list[dict[str, Any]]:
    return await order_store.table_orders(r, table.id)


async def _order_of_table(r: RedisDep, table_id: str, order_id: str) -> dict[str, str]:
    h = await order_store.table_order(r, table_id, order_id)
    if h is None:
        raise ApiError(404, f'no order {order_id!r} at this table', 'not_found', 'order_id')
    order_id_var.set(order_id)
    return h


@router.get(
    '/{order_id}',
    response_model=OrderDetail,
    summary='One order with its timeline',
    responses=errors(401, 403, 404, 503),
)
async def get_order(order_id: str, table: VerifiedTable, r: RedisDep) -> dict[str, Any]:
    h = await _order_of_table(r, table.id, order_id)
    return {**order_store.order_view(h), 'timeline': await order_store.order_timeline(r, order_id)}


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
        **errors(401, 403, 404, 503),
    },
)
async def order_events(
    order_id: str,
    table: VerifiedTable,
    r: RedisDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    await _order_of_table(r, table.id, order_id)
    start = last_event_id if last_event_id and STREAM_ID.match(last_event_id) else '0-0'

    async def stream() -> AsyncIterator[str]:
        yield 'retry: 2000\n\n'
        async for item in order_store.events(r, order_id, start, SSE_KEEPALIVE_MS):
            if item is None:
                yield ': keepalive\n\n'
                continue
            entry_id, fields = item
            data = json.dumps(timeline.decode_event(entry_id, fields), ensure_ascii=False)
            yield f'id: {entry_id}\ndata: {data}\n\n'

    return StreamingResponse(
        stream(),
        media_type='text/event-stream',
        headers={'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no'},
    )


@router.post(
    '/{order_id}/pickup',
    status_code=202,
    response_model=PickupOut,
    summary='Diner confirms the food was taken off the robot',
    responses=errors(401, 403, 404, 409, 503),
)
async def confirm_pickup(order_id: str, table: VerifiedTable, r: RedisDep) -> dict[str, str]:
    await _order_of_table(r, table.id, order_id)
    try:
        await order_store.request_pickup(r, table.id, order_id)
    except order_store.PickupRefused as e:
        raise ApiError(409, str(e), 'pickup_refused', 'order_id') from e
    return {'order_id': order_id, 'status': 'pickup_requested'}
