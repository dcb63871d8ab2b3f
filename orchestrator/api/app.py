"""`create_app(settings)`: the orchestrator's FastAPI application.

Other parts plug in without editing these routers: `create_app` includes the router (and runs
the `services`, if any) of every installed module of `extensions` (default EXTENSIONS), runs
the dispatcher service when `settings.dispatcher_enabled`, and takes extra `routers` and
`services` (async context manager factories given the AppContext, entered at startup, exited at
shutdown).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from importlib import resources
from pathlib import Path
from types import ModuleType

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis
from redis.exceptions import RedisError

from orchestrator.api import errors, routes_diner, routes_health, routes_menu, routes_orders
from orchestrator.api.context import AppContext, Service
from orchestrator.api.limits import BodyLimit
from orchestrator.config import RestaurantConfig, load_restaurant
from orchestrator.intake import Intake
from orchestrator.metrics import Metrics
from orchestrator.orders import MAX_BODY_BYTES
from orchestrator.settings import Settings, get_settings

log = logging.getLogger(__name__)

# Optional parts that add routes (`router`) and/or background services (`services`).
EXTENSIONS = ('orchestrator.console.routes',)
DISPATCHER = 'orchestrator.dispatch.service'
WEB_DIR = Path(str(resources.files('orchestrator').joinpath('web')))
# Blocking reads (SSE) hold a connection each; everything else is a quick round trip.
REDIS_CONNECT_TIMEOUT_S = 2.0


def optional_module(name: str) -> ModuleType | None:
    """The module, or None if it (not one of its own imports) is missing."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name is not None and name.startswith(e.name):
            return None
        raise


def create_app(
    settings: Settings | None = None,
    *,
    config: RestaurantConfig | None = None,
    routers: Sequence[APIRouter] = (),
    services: Sequence[Service] = (),
    extensions: Sequence[str] = EXTENSIONS,
) -> FastAPI:
    settings = settings or get_settings()
    cfg = config or load_restaurant(settings.config_path)
    r = Redis.from_url(
        settings.redis_url, decode_responses=True, socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S
    )
    ctx = AppContext(
        settings=settings, config=cfg, redis=r, intake=Intake(r, cfg), metrics=Metrics()
    )
    extra_routers, all_services = list(routers), list(services)
    for name in extensions:
        if (mod := optional_module(name)) is not None:
            if hasattr(mod, 'router'):
                extra_routers.append(mod.router)
            all_services += getattr(mod, 'services', [])
    if settings.dispatcher_enabled:
        if (mod := optional_module(DISPATCHER)) is not None:
            all_services.append(mod.app_service)
        else:
            log.warning('dispatcher requested but %s is not installed', DISPATCHER)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await ctx.intake.ensure_groups()
        except RedisError as e:
            # Not fatal: /readyz says so, and intake creates the groups once Redis is back.
            log.warning('redis not reachable at startup: %s', e)
        async with AsyncExitStack() as stack:
            for service in all_services:
                await stack.enter_async_context(service(ctx))
            yield
        await r.aclose()

    app = FastAPI(
        title='robodine orchestrator',
        description='Table ordering for a robot restaurant: the diner page behind each '
        "table's QR code, the menu, orders with live status, health and metrics. Table routes "
        'are addressed by the signed table token from the QR code.',
        version='0.1.0',
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES, path_prefix='/api/tables/')
    errors.install(app)
    # Orders first: routes are matched in order, and placing an order is the hot path.
    for router in (
        routes_orders.router,
        routes_menu.router,
        routes_diner.router,
        routes_health.router,
        *extra_routers,
    ):
        app.include_router(router)
    app.mount('/static', StaticFiles(directory=WEB_DIR), name='static')
    return app
