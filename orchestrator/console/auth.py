"""Console sign-in: sessions in Redis, an HttpOnly SameSite=Strict cookie, CSRF and roles.

A session is `rd:session:{sid}` (JSON: name, role, csrf token) whose TTL slides with use. The
CSRF token is bound to the session and must come back in the `X-CSRF-Token` header of every
state-changing call; the cookie alone never authorises a change. Sign-in attempts are counted
per client address and per name at an address, and refused for a while past a limit.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response

from orchestrator.console.accounts import Operator, VerifierBusy, authenticate
from orchestrator.console.context import ConsoleContext, get_ctx
from orchestrator.store import accounts, audit
from orchestrator.texts import Refused

COOKIE = 'rd_console'
COOKIE_PATH = '/console'
CSRF_HEADER = 'X-CSRF-Token'
# Ways a diner's table token reaches the API; they never open the console.
TABLE_TOKEN_PARAMS = ('t', 'token')
TABLE_TOKEN_HEADERS = ('authorization', 'x-table-token')


@dataclass(frozen=True)
class Session:
    sid: str
    operator: Operator
    csrf: str


def _refuse_anonymous(request: Request) -> Refused:
    if any(p in request.query_params for p in TABLE_TOKEN_PARAMS) or any(
        h in request.headers for h in TABLE_TOKEN_HEADERS
    ):
        return Refused(403, 'table_token')
    return Refused(401, 'sign_in')


async def current_session(
    request: Request, ctx: Annotated[ConsoleContext, Depends(get_ctx)]
) -> Session:
    sid = request.cookies.get(COOKIE)
    found = (
        await accounts.touch_session(ctx.redis, sid, ctx.settings.session_ttl_s) if sid else None
    )
    if not sid or found is None:
        raise _refuse_anonymous(request)
    return Session(sid, Operator(found.name, found.role), found.csrf)


async def signed_in(session: Annotated[Session, Depends(current_session)]) -> Operator:
    """Any operator, for reads."""
    return session.operator


async def may_act(
    request: Request,
    session: Annotated[Session, Depends(current_session)],
    ctx: Annotated[ConsoleContext, Depends(get_ctx)],
) -> Operator:
    """Any operator, for changes: the CSRF token must match the session's."""
    sent = request.headers.get(CSRF_HEADER, '')
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        await _refused(ctx, session.operator, request, 'missing or wrong CSRF token')
        raise Refused(403, 'csrf')
    return session.operator


async def manager(
    request: Request,
    op: Annotated[Operator, Depends(may_act)],
    ctx: Annotated[ConsoleContext, Depends(get_ctx)],
) -> Operator:
    if not op.is_manager:
        await _refused(ctx, op, request, 'only a manager may do this')
        raise Refused(403, 'manager_only')
    return op


async def _refused(ctx: ConsoleContext, op: Operator, request: Request, reason: str) -> None:
    await audit.record(
        ctx.redis, op.name, f'{request.method} {request.url.path}', '', f'refused: {reason}'
    )


def client_addr(request: Request) -> str:
    return request.client.host if request.client else 'unknown'


async def sign_in(
    ctx: ConsoleContext, request: Request, response: Response, name: str, password: str
) -> Session:
    """Check a name and password and open a session.

    The attempt is counted first, per client address and per (name, address), and refused
    without a password check past either limit: a burst of guesses costs at most the limit in
    argon2 work, and guesses from elsewhere never lock an operator out of their own address.
    Refusals are audited once per window and subject, not once per attempt, so a flood
    cannot push the real history out of the capped audit stream.
    """
    s, r = ctx.settings, ctx.redis
    addr = client_addr(request)
    subjects = [f'addr:{addr}', f'name:{name}@{addr}']
    window = s.login_fail_window_s
    (by_addr, addr_left), (by_name, name_left) = await accounts.count_attempt(r, subjects, window)
    over_addr, over_name = (
        by_addr - s.login_fails_per_address,
        by_name - s.login_fails_per_name_address,
    )
    if over_addr > 0 or over_name > 0:
        wait = max(addr_left if over_addr > 0 else 0, name_left if over_name > 0 else 0)
        if over_addr == 1 or over_name == 1:
            who = 'this address' if over_addr == 1 else f'{name!r} from this address'
            await audit.record(
                r,
                name,
                'sign-in',
                addr,
                f'refused: too many failed sign-ins for {who}; further attempts refused for '
                f'{wait} s without a log entry each',
            )
        raise Refused(429, 'too_many_signins', headers={'Retry-After': str(wait)}, wait=wait)
    try:
        op = await authenticate(r, s, ctx.verifier, name, password)
    except VerifierBusy as e:
        raise Refused(503, 'signin_busy', headers={'Retry-After': '5'}) from e
    if op is None:
        if by_addr == 1:
            await audit.record(
                r,
                name,
                'sign-in',
                addr,
                'refused: wrong name or password (further failures from this address are '
                f'only counted for {addr_left} s)',
            )
        raise Refused(401, 'wrong_password')
    await accounts.forgive_attempt(r, subjects[0], subjects[1], window)
    session = Session(secrets.token_urlsafe(32), op, secrets.token_urlsafe(32))
    await accounts.create_session(
        r, session.sid, accounts.SessionRecord(op.name, op.role, session.csrf), s.session_ttl_s
    )
    response.set_cookie(
        COOKIE,
        session.sid,
        max_age=s.session_ttl_s,
        path=COOKIE_PATH,
        httponly=True,
        samesite='strict',
        secure=request.url.scheme == 'https',
    )
    await audit.record(r, op.name, 'sign-in', addr, 'ok')
    return session


async def sign_out(ctx: ConsoleContext, session: Session, response: Response) -> None:
    await accounts.end_session(ctx.redis, session.sid)
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite='strict')
    await audit.record(ctx.redis, session.operator.name, 'sign-out', '', 'ok')
