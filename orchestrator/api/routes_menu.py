"""The menu, with what is sold out and today's prices, now and live."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from orchestrator.api import live
from orchestrator.api.deps import ConfigDep, Ctx, RedisDep
from orchestrator.api.schemas import MENU_EXAMPLE, errors
from orchestrator.feed_reader import sse_frame
from orchestrator.menu import menu_payload
from orchestrator.store.menu import read_state

router = APIRouter(tags=['menu'])


@router.get(
    '/api/menu',
    summary='Menu by category, names in ko/en/zh, availability, prices',
    responses={
        200: {'content': {'application/json': {'example': MENU_EXAMPLE}}},
        **errors(503),
    },
)
async def get_menu(cfg: ConfigDep, r: RedisDep) -> dict[str, Any]:
    return menu_payload(cfg, await read_state(r, (d.id for d in cfg.dishes)))


@router.get(
    '/api/menu/events',
    summary='Live menu changes (Server-Sent Events)',
    response_class=StreamingResponse,
    responses={
        200: {
            'content': {
                'text/event-stream': {
                    'example': 'id: 1764383918123-0\ndata: {"type":"menu",'
                    '"soldout":["mandu"],"prices":{}}\n\n'
                }
            },
            'description': 'the sold-out set and price overrides now, then again after every '
            'change',
        },
        **errors(429, 503),
    },
)
async def menu_events(request: Request, ctx: Ctx) -> live.LiveResponse:
    """For diner pages: the sold-out set and price overrides now, then again after every
    change (`{"type": "menu", "soldout": [...], "prices": {...}}`), from the process's shared
    feed reader, so open menus cost no Redis connection each."""
    release = ctx.streams.acquire(live.client_address(request))
    # Subscribed before the state is read: a change in between is sent again, never missed.
    sub = await ctx.fanout.subscribe(kinds=live.MENU_ONLY)
    try:
        current = await live.menu_message(ctx.redis, ctx.config)
    except BaseException:
        ctx.fanout.unsubscribe(sub)
        release()
        raise
    first = sse_frame(ctx.fanout.last_id or '0-0', current)
    return live.LiveResponse(ctx.fanout.frames(sub, first), release)
