"""Request dependencies, as `Annotated` aliases the routers declare in their signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from orchestrator.api.context import AppContext
from orchestrator.api.errors import ApiError
from orchestrator.config import RestaurantConfig, Table
from orchestrator.pricing import valid_idempotency_key
from orchestrator.settings import Settings
from table_qr.tokens import TokenError, verify


async def get_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_context)]


async def get_settings(ctx: Ctx) -> Settings:
    return ctx.settings


async def get_redis(ctx: Ctx) -> Redis:
    return ctx.redis


async def get_config(ctx: Ctx) -> RestaurantConfig:
    return ctx.config


SettingsDep = Annotated[Settings, Depends(get_settings)]
RedisDep = Annotated[Redis, Depends(get_redis)]
ConfigDep = Annotated[RestaurantConfig, Depends(get_config)]


def table_for_token(ctx: AppContext, token: str) -> Table:
    """The table a QR token stands for; TokenError (401/403) if it is not to be trusted."""
    table = ctx.table_by_token.get(token)
    if table is not None:
        return table
    s = ctx.settings
    claim = verify(token, s.table_keys, ctx.config.restaurant.id, s.revoked_tokens)
    table = ctx.config.table_by_id.get(claim.table_id)
    if table is None:
        raise TokenError(401, 'table code names a table this restaurant does not have')
    ctx.table_by_token[token] = table
    return table


# The two dependencies of every order request take the Request itself rather than sub-
# dependencies or Header() parameters: FastAPI's dependency solving is a large share of the
# intake's CPU time (see bench/intake.py).
async def verified_table(token: str, request: Request) -> Table:
    return table_for_token(request.app.state.ctx, token)


VerifiedTable = Annotated[Table, Depends(verified_table)]


async def idempotency_key(request: Request) -> str:
    key = request.headers.get('idempotency-key')
    if key is None:
        raise ApiError(
            400, 'Idempotency-Key header is required', 'idempotency_key', 'Idempotency-Key'
        )
    if not valid_idempotency_key(key):
        raise ApiError(
            400,
            'Idempotency-Key must be 8-64 characters of A-Z a-z 0-9 _ -',
            'idempotency_key',
            'Idempotency-Key',
        )
    return key


IdempotencyKey = Annotated[str, Depends(idempotency_key)]
# OpenAPI description of the header `idempotency_key` reads (for a route's `openapi_extra`).
IDEMPOTENCY_KEY_DOC = {
    'name': 'Idempotency-Key',
    'in': 'header',
    'required': True,
    'description': '8-64 characters of [A-Za-z0-9_-], one per order; resending the same order '
    'with the same key returns the first response, a different order with it gets a 409',
    'schema': {'type': 'string', 'pattern': '^[A-Za-z0-9_-]{8,64}$'},
    'example': 'b6f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
}
