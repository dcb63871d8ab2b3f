"""HTTP for the console: the page, sign-in, a snapshot, the live SSE feed and the controls.

Reads need a signed-in operator; changes also need the session's CSRF token, and price edits a
manager. Each change is audited with its result, including refusals.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field, WithJsonSchema
from redis.asyncio import Redis

from orchestrator.config import RestaurantConfig
from orchestrator.console import alert_checks, auth, feed, fleet_board, tables, tickets
from orchestrator.console import operator_actions as actions
from orchestrator.console.accounts import Operator, Verifier
from orchestrator.console.context import ConsoleContext, get_ctx
from orchestrator.feed_reader import Fanout
from orchestrator.payments import make_provider
from orchestrator.settings import Settings
from orchestrator.store import accounts, alerts, audit, jobs
from orchestrator.store import feed as feed_store
from orchestrator.store.feed import now_ms
from orchestrator.texts import Refused, Said

# The console's own files only, and never inside a frame: a STOP ALL button must not be
# clickjackable.
PAGE_HEADERS = {
    'Cache-Control': 'no-cache',
    'Content-Security-Policy': "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'",
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
}
STATIC = {'console.js': 'text/javascript', 'console.css': 'text/css'}
# Real seconds between two looks whether a live stream's session still lasts.
SESSION_CHECK_S = 10.0


@contextlib.asynccontextmanager
async def service(
    r: Redis, settings: Settings, cfg: RestaurantConfig, fanout: Fanout
) -> AsyncIterator[ConsoleContext]:
    """The alert checks, on the app's Redis client; consoles follow the app's feed reader
    (started by the app with `feed.console_transform`)."""
    checks = [asyncio.create_task(c) for c in alert_checks.checkers(r, cfg, settings.time_scale)]
    try:
        yield ConsoleContext(r, settings, cfg, fanout, Verifier(settings.login_verify_concurrency))
    finally:
        for task in checks:
            task.cancel()
        await asyncio.gather(*checks, return_exceptions=True)


router = APIRouter()
Ctx = Annotated[ConsoleContext, Depends(get_ctx)]
Reader = Annotated[Operator, Depends(auth.signed_in)]
Actor = Annotated[Operator, Depends(auth.may_act)]
Manager = Annotated[Operator, Depends(auth.manager)]


def _web_file(name: str) -> str:
    return resources.files('orchestrator').joinpath(f'web/{name}').read_text(encoding='utf-8')


@router.get('/console', response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse(_web_file('console.html'), headers=PAGE_HEADERS)


@router.get('/console/static/{name}', include_in_schema=False)
async def static(name: str) -> Response:
    if name not in STATIC:
        raise HTTPException(404, 'not found')
    return Response(
        _web_file(name), media_type=STATIC[name], headers={'Cache-Control': 'no-cache'}
    )


class Credentials(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


def _me(session: auth.Session) -> dict[str, str]:
    return {'name': session.operator.name, 'role': session.operator.role, 'csrf': session.csrf}


@router.post('/console/api/login')
async def login(
    body: Credentials, request: Request, response: Response, ctx: Ctx
) -> dict[str, str]:
    return _me(await auth.sign_in(ctx, request, response, body.name, body.password))


@router.post('/console/api/logout', status_code=204)
async def logout(
    _: Actor,
    ctx: Ctx,
    response: Response,
    session: Annotated[auth.Session, Depends(auth.current_session)],
) -> None:
    await auth.sign_out(ctx, session, response)


@router.get('/console/api/me')
async def me(session: Annotated[auth.Session, Depends(auth.current_session)]) -> dict[str, str]:
    return _me(session)


@router.get('/console/api/snapshot')
async def snapshot(
    ctx: Ctx, session: Annotated[auth.Session, Depends(auth.current_session)]
) -> dict[str, Any]:
    """Everything the console shows, and the feed id to follow the stream from."""
    r, cfg = ctx.redis, ctx.config
    # Taken first: replaying from here may repeat a change (harmless), never miss one.
    feed_id = await feed_store.last_id(r, ctx.fanout.stream)
    return {
        'now': now_ms(),
        'feed_id': feed_id,
        'me': _me(session),
        # Names in every language ({ko, en, zh}): the console shows the operator's.
        'restaurant': {
            'name': cfg.restaurant.name.model_dump(),
            'currency': cfg.restaurant.currency,
            'decimals': cfg.restaurant.currency_decimals,
        },
        'service': cfg.service.model_dump(),
        # Ticket ages are simulated time: the console multiplies real ages by it.
        'time_scale': ctx.settings.time_scale,
        'stations': [{'id': s.id, 'name': s.name.model_dump()} for s in cfg.stations],
        'dishes': [
            {
                'id': d.id,
                'name': d.name.model_dump(),
                'station': d.station,
                'price': d.price,
                'allergens': list(d.allergens),
                'options': [o.model_dump() for o in d.options],
            }
            for d in cfg.dishes
        ],
        'map': fleet_board.floor_map(cfg),
        **await fleet_board.load_closures(r, cfg),
        'robots': await fleet_board.load_robots(r, cfg),
        'tickets': await tickets.board(r, cfg),
        'alerts': await alerts.recent(r),
        'dead': await jobs.dead_letters(r),
        'audit': await audit.recent(r),
        **await feed.menu_state(r, cfg),
    }


@router.get('/console/api/stream')
async def stream(
    ctx: Ctx,
    session: Annotated[auth.Session, Depends(auth.current_session)],
    since: str | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Deltas after `since` (the snapshot's feed id) as server-sent events, from the shared
    fan-out; a `resync` event means: reload the snapshot. The stream ends once its session
    does (signed out elsewhere, or expired): the page reconnects, hears 401, and signs in."""
    frames = ctx.fanout.frames(await ctx.fanout.subscribe(last_event_id or since))
    return StreamingResponse(
        _while_signed_in(frames, ctx, session.sid),
        media_type='text/event-stream',
        headers={'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no'},
    )


async def _while_signed_in(
    frames: AsyncGenerator[str, None], ctx: ConsoleContext, sid: str
) -> AsyncGenerator[str, None]:
    """The frames while the session lasts: looked at with each keep-alive (every 15 s, more
    often on a busy feed), not with every frame."""
    checked = time.monotonic()
    try:
        async for frame in frames:
            if time.monotonic() - checked >= SESSION_CHECK_S:
                checked = time.monotonic()
                if not await accounts.session_alive(ctx.redis, sid):
                    return
            yield frame
    finally:
        await frames.aclose()


async def _act(
    ctx: ConsoleContext, op: Operator, action: str, target: str, work: Awaitable[Said]
) -> dict[str, Any]:
    """Run a control and audit what came of it; a refusal is answered with its HTTP status
    (`api/errors.py`). The answer's `detail` is what was done in English, `said` and `args`
    the same as a text of the console's table."""
    try:
        done = await work
    except Refused as e:
        await audit.record(ctx.redis, op.name, action, target, f'refused: {e.message}', '', e.said)
        raise
    entry = await audit.record(ctx.redis, op.name, action, target, 'ok', str(done), done)
    return {'result': 'ok', 'detail': str(done), **done.view(), 'audit_id': entry['id']}


@router.post('/console/api/robots/{robot_id}/{command}')
async def robot_command(robot_id: str, command: str, op: Actor, ctx: Ctx) -> dict[str, Any]:
    commands = {
        'pause': actions.pause_robot,
        'resume': actions.resume_robot,
        'dock': actions.dock_robot,
    }
    if command not in commands:
        raise Refused(404, 'unknown_command', command=command)
    return await _act(
        ctx,
        op,
        f'robot.{command}',
        robot_id,
        commands[command](ctx.redis, ctx.config, robot_id, op.name, ctx.settings.command_ttl_s),
    )


@router.post('/console/api/fleet/stop')
async def fleet_stop(op: Actor, ctx: Ctx) -> dict[str, Any]:
    return await _act(
        ctx,
        op,
        'fleet.estop',
        'all robots',
        actions.stop_all(ctx.redis, ctx.config, op.name, ctx.settings.command_ttl_s),
    )


@router.post('/console/api/fleet/resume')
async def fleet_resume(op: Actor, ctx: Ctx) -> dict[str, Any]:
    return await _act(
        ctx, op, 'fleet.release', 'all robots', actions.resume_all(ctx.redis, ctx.config, op.name)
    )


class CancelBody(BaseModel):
    # A line index cancels that line only; none cancels the whole order.
    line: Annotated[int, Field(ge=0)] | None = None


@router.post('/console/api/orders/{order_id}/cancel')
async def cancel_order(order_id: str, body: CancelBody, op: Actor, ctx: Ctx) -> dict[str, Any]:
    target = order_id if body.line is None else f'{order_id} line {body.line}'
    return await _act(
        ctx, op, 'order.cancel', target, actions.cancel(ctx.redis, order_id, body.line, op.name)
    )


@router.post('/console/api/orders/{order_id}/redeliver')
async def redeliver_order(order_id: str, op: Actor, ctx: Ctx) -> dict[str, Any]:
    return await _act(
        ctx, op, 'order.redeliver', order_id, actions.redeliver(ctx.redis, order_id, op.name)
    )


class LostBody(BaseModel):
    # remake: cook it again (before newer orders); delivered: it reached the table by hand.
    choice: Literal['remake', 'delivered', 'cancel']


@router.post('/console/api/orders/{order_id}/lost')
async def settle_lost(order_id: str, body: LostBody, op: Actor, ctx: Ctx) -> dict[str, Any]:
    """Decide about an order lost in transit with its robot."""
    return await _act(
        ctx,
        op,
        f'order.lost.{body.choice}',
        order_id,
        actions.settle_lost(ctx.redis, order_id, body.choice, op.name),
    )


@router.post('/console/api/orders/{order_id}/dishes/{job_id}/bump')
async def bump_dish(order_id: str, job_id: str, op: Actor, ctx: Ctx) -> dict[str, Any]:
    return await _act(
        ctx, op, 'dish.bump', job_id, actions.bump(ctx.redis, order_id, job_id, op.name)
    )


@router.post('/console/api/orders/{order_id}/dishes/{job_id}/drop')
async def drop_dish(order_id: str, job_id: str, op: Actor, ctx: Ctx) -> dict[str, Any]:
    """Give up one dish (a dead-lettered one, typically): the order goes on without it."""
    return await _act(
        ctx, op, 'dish.drop', job_id, actions.drop(ctx.redis, order_id, job_id, op.name)
    )


@router.post('/console/api/dead/{dead_id}/requeue')
async def requeue(dead_id: str, op: Actor, ctx: Ctx) -> dict[str, Any]:
    return await _act(
        ctx, op, 'job.requeue', dead_id, actions.requeue(ctx.redis, dead_id, op.name)
    )


# Waypoint ids (config.Ident): anything longer names none, and is not echoed back whole.
WaypointId = Annotated[str, Path(max_length=40)]
CLOSURE_COMMANDS = ('close', 'reopen')


def _floor_change(
    ctx: ConsoleContext, op: Operator, command: str, a: str, b: str | None
) -> Awaitable[dict[str, Any]]:
    if command not in CLOSURE_COMMANDS:
        raise Refused(404, 'unknown_command', command=command)
    r, cfg = ctx.redis, ctx.config
    if command == 'close':
        traffic = ctx.settings.traffic_control_for(cfg)
        work = actions.close_floor(r, cfg, a, b, op.name, traffic)
    else:
        work = actions.reopen_floor(r, cfg, a, b, op.name)
    return _act(ctx, op, f'floor.{command}', a if b is None else f'{a}~{b}', work)


@router.post('/console/api/floor/aisles/{a}/{b}/{command}')
async def aisle_closure(
    a: WaypointId, b: WaypointId, command: str, op: Actor, ctx: Ctx
) -> dict[str, Any]:
    """Close or reopen the aisle between waypoints `a` and `b` (both directions)."""
    return await _floor_change(ctx, op, command, a, b)


@router.post('/console/api/floor/waypoints/{waypoint}/{command}')
async def waypoint_closure(
    waypoint: WaypointId, command: str, op: Actor, ctx: Ctx
) -> dict[str, Any]:
    """Close or reopen a waypoint (a junction, a table's stop): no robot drives onto it."""
    return await _floor_change(ctx, op, command, waypoint, None)


@router.post('/console/api/alerts/{alert_id}/ack')
async def ack_alert(alert_id: str, op: Actor, ctx: Ctx) -> dict[str, Any]:
    async def work() -> Said:
        if not await alerts.acknowledge(ctx.redis, alert_id, op.name):
            raise Refused(404, 'no_alert', alert=alert_id)
        return Said('done.acknowledged')

    return await _act(ctx, op, 'alert.ack', alert_id, work())


class SoldOutBody(BaseModel):
    soldout: bool


@router.put('/console/api/dishes/{dish_id}/soldout')
async def soldout(dish_id: str, body: SoldOutBody, op: Actor, ctx: Ctx) -> dict[str, Any]:
    return await _act(
        ctx,
        op,
        'dish.soldout' if body.soldout else 'dish.available',
        dish_id,
        actions.set_soldout(ctx.redis, ctx.config, dish_id, body.soldout, op.name),
    )


class PriceBody(BaseModel):
    # Minor units of the currency; null goes back to the menu's price. The bound is declared
    # here and checked by the action, whose refusal the console says in its language.
    price: (
        Annotated[
            int,
            WithJsonSchema({'type': 'integer', 'minimum': 0, 'maximum': actions.MAX_PRICE}),
        ]
        | None
    )


@router.put('/console/api/dishes/{dish_id}/price')
async def price(dish_id: str, body: PriceBody, op: Manager, ctx: Ctx) -> dict[str, Any]:
    return await _act(
        ctx,
        op,
        'dish.price',
        dish_id,
        actions.set_price(ctx.redis, ctx.config, dish_id, body.price, op.name),
    )


@router.get('/console/api/audit')
async def audit_log(_: Reader, ctx: Ctx, count: int = 100) -> list[dict[str, str]]:
    return await audit.recent(ctx.redis, max(1, min(count, 1000)))


# -- Tables view (console/tables.py) -----------------------------------------------------


@router.get('/console/api/tables')
async def tables_board(_: Reader, ctx: Ctx) -> list[dict[str, Any]]:
    return await tables.board(ctx.redis, ctx.config)


@router.get('/console/api/tables/{table_id}/bill')
async def table_bill(table_id: str, _: Reader, ctx: Ctx) -> dict[str, Any]:
    return await tables.table_bill(ctx.redis, ctx.config, table_id)


class SeatBody(BaseModel):
    party_size: Annotated[int, Field(ge=1, le=tables.MAX_PARTY)]


@router.post('/console/api/tables/{table_id}/seat')
async def seat_table(table_id: str, body: SeatBody, op: Actor, ctx: Ctx) -> dict[str, Any]:
    return await _act(
        ctx,
        op,
        'table.seat',
        table_id,
        tables.seat(ctx.redis, ctx.config, table_id, body.party_size, op.name),
    )


@router.post('/console/api/tables/{table_id}/close')
async def close_table(table_id: str, op: Actor, ctx: Ctx) -> dict[str, Any]:
    return await _act(
        ctx, op, 'table.close', table_id, tables.close(ctx.redis, ctx.config, table_id, op.name)
    )


@router.post('/console/api/payments/{payment_id}/refund')
async def refund_payment(payment_id: str, op: Manager, ctx: Ctx) -> dict[str, Any]:
    work = tables.refund(ctx.redis, make_provider(ctx.settings), payment_id, op.name)
    return await _act(ctx, op, 'payment.refund', payment_id, work)
