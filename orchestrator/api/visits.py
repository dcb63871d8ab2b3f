"""Visit codes: what a diner's phone holds after scanning, valid for one dining session only.

The printed table code (`table_qr/tokens.py`) is permanent: it is on the table. Opening it
(`GET /t/{code}`) redirects the phone to a **visit code** `{table code}.{n}.{mac}` bound to the
table's session number n (the open session, or the next one at a free table), HMAC-signed with
the same key as the table code. Every diner route accepts both:

- the printed code always acts for the table's current session (as a fresh scan would);
- a visit code acts for its own session while it is open, reads it (bill, receipt) for
  `service.visit_grace_s` after it closed, and is refused with 403 "your visit has ended" after
  that or as soon as the table's next session opened.

So a phone that scanned yesterday, or a link shared out of the restaurant, cannot read or order
for today's party; what a printed code alone can do is capped by the per-table limits.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from orchestrator.api.context import AppContext
from orchestrator.api.deps import table_for_token
from orchestrator.api.errors import ApiError
from orchestrator.config import Table
from orchestrator.logs import order_id_var
from orchestrator.store import orders, sessions
from orchestrator.store.feed import now_ms
from orchestrator.store.sessions import DiningSession, VisitEnded
from table_qr.tokens import TokenError

MAC_BYTES = 12


@dataclass(frozen=True)
class Caller:
    table: Table
    # The table code the visit code was made from (the printed one for a printed code).
    table_code: str
    # The visit code's session number; None for the printed table code.
    visit: int | None


@dataclass(frozen=True)
class Visit:
    caller: Caller
    # The session this caller sees (None: a free table, nothing ordered yet).
    session: DiningSession | None

    @property
    def table(self) -> Table:
        return self.caller.table

    @property
    def id(self) -> str:
        """The table's id (the order routes address the table by it)."""
        return self.caller.table.id

    @property
    def writable(self) -> bool:
        """Can order and pay: not a closed session read during its grace."""
        return self.session is None or self.session.open


def _mac(ctx: AppContext, table_code: str, n: int) -> str:
    key_id = table_code.split('.', 1)[0]
    secret = ctx.settings.table_keys[key_id].get_secret_value().encode()
    digest = hmac.new(secret, f'visit.{table_code}.{n}'.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:MAC_BYTES]).rstrip(b'=').decode()


def visit_code(ctx: AppContext, table_code: str, n: int) -> str:
    return f'{table_code}.{n}.{_mac(ctx, table_code, n)}'


def caller(ctx: AppContext, token: str) -> Caller:
    """Who a code speaks for (no Redis); TokenError (401/403) if it is not to be trusted."""
    parts = token.split('.')
    if len(parts) != 6:
        return Caller(table_for_token(ctx, token), token, None)
    table_code, n_text, mac = '.'.join(parts[:4]), parts[4], parts[5]
    table = table_for_token(ctx, table_code)
    # Compared as bytes: a code with non-ASCII characters is refused like any forgery.
    valid = n_text.isascii() and n_text.isdigit() and len(n_text) < 10
    expected = _mac(ctx, table_code, int(n_text)).encode() if valid else b''
    if not valid or not hmac.compare_digest(mac.encode(), expected):
        raise TokenError(401, 'visit code is not valid (bad signature)')
    return Caller(table, table_code, int(n_text))


async def resolve(ctx: AppContext, token: str) -> Visit:
    """The caller and the session it may see; 403 once its visit has ended."""
    who = caller(ctx, token)
    current = await sessions.current(ctx.redis, who.table.id)
    grace_ms = int(ctx.config.service.visit_grace_s * 1000)
    try:
        seen = sessions.visible(current, who.visit, now_ms(), grace_ms)
    except VisitEnded as e:
        raise ApiError(403, str(e), 'visit_ended', 'token') from e
    return Visit(who, seen)


async def current_visit_code(ctx: AppContext, table_code: str, table_id: str) -> str:
    """The visit code a scan of the printed code gets now."""
    s = await sessions.current(ctx.redis, table_id)
    return visit_code(ctx, table_code, s.n if s is not None and s.open else sessions.next_n(s))


async def diner_visit(token: str, request: Request) -> Visit:
    """Dependency of the diner's table routes."""
    return await resolve(request.app.state.ctx, token)


@dataclass(frozen=True)
class OrderSeen:
    """One order of the caller's session, read once for its route."""

    visit: Visit
    order: orders.OrderRecord


async def order_visit(token: str, order_id: str, request: Request) -> OrderSeen:
    """Dependency of the routes of one order: the order must be of the caller's session (an
    earlier party's order, or another table's, is not found)."""
    visit = await diner_visit(token, request)
    order = await orders.of_table(request.app.state.ctx.redis, visit.id, order_id)
    if visit.session is None or order is None or order.session_id != visit.session.id:
        raise ApiError(404, f'no order {order_id!r} at this table', 'not_found', 'order_id')
    order_id_var.set(order_id)
    return OrderSeen(visit, order)


DinerVisit = Annotated[Visit, Depends(diner_visit)]
OrderVisit = Annotated[OrderSeen, Depends(order_visit)]


def session_refusal(ctx: AppContext, kind: str, value: str) -> ApiError:
    """The error for an order the intake script refused for the table's session."""
    service = ctx.config.service
    if kind == 'ended':
        return ApiError(403, sessions.VISIT_ENDED, 'visit_ended', 'token')
    if kind == 'rate':
        wait_s = 60 - now_ms() // 1000 % 60
        return ApiError(
            429,
            f'this table has placed {service.orders_per_minute} orders this minute; '
            f'please wait {wait_s} s before ordering again',
            'rate_limited',
            'token',
        )
    return ApiError(
        422,
        f'this visit may order at most {service.dishes_per_session} dishes '
        f'({value} left); please ask staff if you need more',
        'dish_limit',
        'items',
    )
