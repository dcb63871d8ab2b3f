"""Probes for the orchestrator's supervisor and the Prometheus scrape."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from redis.exceptions import RedisError

from orchestrator.api.deps import Ctx
from orchestrator.metrics import CONTENT_TYPE

router = APIRouter(tags=['health'])


@router.get('/healthz', summary='The process is up')
async def healthz() -> dict[str, str]:
    return {'status': 'ok'}


@router.get(
    '/readyz',
    summary='Redis is reachable (503 if not)',
    responses={
        503: {
            'description': 'Redis unreachable',
            'content': {
                'application/json': {
                    'example': {'status': 'unavailable', 'detail': 'Connection refused'}
                }
            },
        }
    },
)
async def readyz(ctx: Ctx) -> JSONResponse:
    try:
        await ctx.redis.ping()
    except (RedisError, OSError) as e:
        return JSONResponse({'status': 'unavailable', 'detail': f'redis: {e}'}, status_code=503)
    return JSONResponse({'status': 'ready'})


@router.get('/metrics', response_class=PlainTextResponse, summary='Prometheus metrics')
async def metrics(ctx: Ctx) -> PlainTextResponse:
    return PlainTextResponse(ctx.metrics.render(), media_type=CONTENT_TYPE)
