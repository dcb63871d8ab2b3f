"""Probes for the orchestrator's supervisor and the Prometheus scrape."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from redis.exceptions import RedisError

from orchestrator.api.deps import Ctx
from orchestrator.metrics import CONTENT_TYPE
from orchestrator.store import server

router = APIRouter(tags=['health'])


@router.get('/healthz', summary='The process is up')
async def healthz() -> dict[str, str]:
    return {'status': 'ok'}


READY_EXAMPLE = {
    'status': 'ready',
    'redis': {
        'appendonly': 'yes',
        'appendfsync': 'always',
        'maxmemory_policy': 'noeviction',
        'warnings': [],
    },
}


@router.get(
    '/readyz',
    summary='Redis is reachable (503 if not), with its durability settings',
    responses={
        200: {
            'description': 'ready; `redis` says whether Redis keeps what it acknowledged '
            '(append-only file, fsync policy, no eviction), with a warning for each gap',
            'content': {'application/json': {'example': READY_EXAMPLE}},
        },
        503: {
            'description': 'Redis unreachable',
            'content': {
                'application/json': {
                    'example': {'status': 'unavailable', 'detail': 'redis: Connection refused'}
                }
            },
        },
    },
)
async def readyz(ctx: Ctx) -> JSONResponse:
    try:
        found = await server.durability(ctx.redis)
    except (RedisError, OSError) as e:
        return JSONResponse({'status': 'unavailable', 'detail': f'redis: {e}'}, status_code=503)
    return JSONResponse({'status': 'ready', 'redis': found.view()})


@router.get('/metrics', response_class=PlainTextResponse, summary='Prometheus metrics')
async def metrics(ctx: Ctx) -> PlainTextResponse:
    return PlainTextResponse(ctx.metrics.render(), media_type=CONTENT_TYPE)
