"""Error responses: always JSON `{"detail": message, "field": name-or-null, "reason": code}`
with the field named. The reason is a stable code (`rate_limited`, `sold_out`, ...) that a
client shows in its user's language (the diner page and the console do); the detail is
English, for people reading logs and API answers. The console's refusals (`texts.Refused`) also
carry `args`, the values their text names (`{"robot": "serve1", "mode": "paused"}`).

Every refusal is also counted in `robodine_order_rejections_total` by reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator.store.connection import OUTAGE_LOG_EVERY_S
from orchestrator.store.intake import NotReplicated
from orchestrator.texts import Refused
from robot_nodes.auth import LogThrottle
from table_qr.tokens import TokenError

log = logging.getLogger(__name__)

REDIS_DOWN = (
    'order service is temporarily unavailable (cannot reach the order store); '
    'nothing was stored — retry with the same Idempotency-Key'
)

NOT_REPLICATED = (
    'order service is switching or lost its replica (the order is not yet safe on a second '
    'server) — retry with the same Idempotency-Key: it will not be taken twice'
)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        detail: str,
        reason: str,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.reason, self.field = status, detail, reason, field
        self.headers = dict(headers or {})


def error_response(
    request: Request,
    status: int,
    detail: str,
    reason: str,
    field: str | None = None,
    **extra: Any,
) -> JSONResponse:
    request.app.state.ctx.metrics.rejections.inc(reason)
    return JSONResponse(
        {'detail': detail, 'field': field, 'reason': reason, **extra}, status_code=status
    )


def field_name(loc: Sequence[Any]) -> str:
    """('body', 'items', 0, 'quantity') -> 'items[0].quantity'."""
    out = ''
    for part in loc[1:] if loc and loc[0] in ('body', 'query', 'path', 'header') else loc:
        out += f'[{part}]' if isinstance(part, int) else f'.{part}' if out else str(part)
    return out or str(loc[0] if loc else 'body')


# FastAPI's detail for a body whose parsing raised (Python's JSON reads integers of at most 4,300
# digits), and ours.
UNPARSED = 'There was an error parsing the body'
UNPARSED_DETAIL = (
    'the body could not be read as JSON (a number of more than 4,300 digits, say): send a JSON '
    'object as documented'
)


def _json_invalid(err: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's own 'not JSON' error, located at the character it failed on ('body', 7): named
    as the body, with the parser's reason, as the order route names it (pydantic's)."""
    reason = err.get('ctx', {}).get('error')
    return {**err, 'loc': ('body',), 'msg': f'Invalid JSON: {reason}' if reason else err['msg']}


def install(app: FastAPI) -> None:
    outage_log = LogThrottle(OUTAGE_LOG_EVERY_S)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError) -> JSONResponse:
        response = error_response(request, e.status, e.detail, e.reason, e.field)
        response.headers.update(e.headers)
        return response

    @app.exception_handler(Refused)
    async def _refused(request: Request, e: Refused) -> JSONResponse:
        response = error_response(
            request, e.status, e.message, e.reason, e.field, args=dict(e.said.args)
        )
        response.headers.update(e.headers)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException) -> JSONResponse:
        # The framework's own (404, 405): the same body as ours.
        if e.status_code == 400 and e.detail == UNPARSED:
            # FastAPI's answer to a body its JSON parser raised on (not to malformed JSON,
            # a 422 above): named as the body, with what to fix.
            return error_response(request, 400, UNPARSED_DETAIL, 'body', 'body')
        response = error_response(request, e.status_code, str(e.detail), f'http_{e.status_code}')
        response.headers.update(e.headers or {})
        return response

    @app.exception_handler(TokenError)
    async def _token(request: Request, e: TokenError) -> JSONResponse:
        return error_response(request, e.status, e.message, 'token', 'token')

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        errors = [
            _json_invalid(err) if err['type'] == 'json_invalid' else err for err in e.errors()
        ]
        names = [field_name(err['loc']) for err in errors]
        detail = '; '.join(f'{n}: {err["msg"]}' for n, err in zip(names, errors, strict=True))
        return error_response(
            request, 422, detail or 'invalid request', 'invalid', names[0] if names else None
        )

    async def _redis_down(request: Request, e: Exception) -> JSONResponse:
        if (more := outage_log.due('redis')) is not None:
            log.warning('redis unavailable: %s; answering 503%s', e, more)
        return error_response(request, 503, REDIS_DOWN, 'redis_unavailable')

    async def _not_replicated(request: Request, e: Exception) -> JSONResponse:
        if (more := outage_log.due('replicas')) is not None:
            log.warning('order not confirmed by the replicas: %s%s', e, more)
        return error_response(request, 503, NOT_REPLICATED, 'redis_not_replicated')

    app.add_exception_handler(RedisConnectionError, _redis_down)
    app.add_exception_handler(RedisTimeoutError, _redis_down)
    # A primary demoted under a client that does not follow Sentinel: a failover in progress.
    app.add_exception_handler(ReadOnlyError, _redis_down)
    app.add_exception_handler(NotReplicated, _not_replicated)
