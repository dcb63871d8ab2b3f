"""`create_app(settings)`: the orchestrator's FastAPI application.

The diner API and pages always; the operator console unless `settings.console_enabled` is off
(a bare intake node); the dispatcher inside the process when `settings.dispatcher_enabled`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from redis.asyncio import Redis
from redis.exceptions import RedisError

from orchestrator.api import (
    auto_close,
    errors,
    live,
    openapi,
    routes_bill,
    routes_diner,
    routes_health,
    routes_menu,
    routes_orders,
    routes_simpay,
)
from orchestrator.api.context import AppContext
from orchestrator.api.limits import BodyLimit
from orchestrator.archive import service as archive_service
from orchestrator.config import RestaurantConfig, load_restaurant
from orchestrator.console import kitchen_data
from orchestrator.console import routes as console
from orchestrator.console.feed import console_transform
from orchestrator.dispatch.service import app_service as dispatcher_service
from orchestrator.feed_reader import Fanout
from orchestrator.metrics import Metrics
from orchestrator.payments import make_provider
from orchestrator.pricing import MAX_BODY_BYTES
from orchestrator.settings import Settings, get_settings
from orchestrator.store import connection, replication
from orchestrator.store.intake import Intake

log = logging.getLogger(__name__)

WEB_DIR = Path(str(resources.files('orchestrator').joinpath('web')))
REDIS_CONNECT_TIMEOUT_S = 2.0


def redis_client(settings: Settings) -> Redis:
    """The process's one Redis pool, sized explicitly: a request waits for a free connection
    (up to `redis_pool_timeout_s`) instead of failing the moment the pool is busy."""
    return connection.connect(
        settings,
        blocking_pool=True,
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
        socket_timeout=settings.redis_socket_timeout_s,
    )


# Metrics are our own (/metrics); FastAPI's OpenTelemetry bridge would look up the global
# providers on every request (5 % of an order's CPU) to find none configured.
NO_TELEMETRY: TelemetryConfig = {'tracing': False, 'metrics': False, 'logs': False}


def create_app(
    settings: Settings | None = None, *, config: RestaurantConfig | None = None
) -> FastAPI:
    settings = settings or get_settings()
    cfg = config or load_restaurant(settings.config_path)
    r = redis_client(settings)
    # One feed reader serves every live stream of the process: consoles, menus, order status.
    fanout = Fanout(
        r,
        transform=console_transform(r, cfg)
        if settings.console_enabled
        else live.menu_transform(r, cfg),
    )
    ctx = AppContext(
        settings=settings,
        config=cfg,
        redis=r,
        intake=Intake(r, cfg, replication.from_settings(settings)),
        metrics=Metrics(),
        fanout=fanout,
        # A quarter of the Redis pool for live streams' reads: orders keep the rest.
        streams=live.StreamLimits(
            settings.streams_per_table,
            settings.streams_per_address,
            reads=max(1, settings.redis_max_connections // 4),
        ),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await ctx.intake.ensure_groups()
        except RedisError as e:
            # Not fatal: /readyz says so, and intake creates the groups once Redis is back.
            log.warning('redis not reachable at startup: %s', e)
        async with AsyncExitStack() as stack:
            await fanout.start()
            stack.push_async_callback(fanout.stop)
            await stack.enter_async_context(auto_close.running(ctx))
            if settings.console_enabled:
                app.state.console = await stack.enter_async_context(
                    console.service(r, settings, cfg, fanout)
                )
                # The archive (reports) and its archiver, beside the console.
                app.state.archive = await stack.enter_async_context(
                    archive_service.running(r, settings, cfg)
                )
            if settings.dispatcher_enabled:
                await stack.enter_async_context(dispatcher_service(settings, cfg))
            yield
        await r.aclose()

    app = FastAPI(
        title='robodine orchestrator',
        description='Table ordering for a robot restaurant: the diner page behind each '
        "table's QR code, the menu, orders with live status, health and metrics. Table routes "
        'are addressed by the signed table token from the QR code.',
        version='0.1.0',
        lifespan=lifespan,
        telemetry=NO_TELEMETRY,
    )
    app.state.ctx = ctx
    app.state.payments = make_provider(settings)
    # Orders and stream openings inside BodyLimit (the last added is the outermost).
    app.add_middleware(routes_orders.OrderFastPath)
    app.add_middleware(live.StreamOpenings)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    errors.install(app)
    openapi.install(app, cfg)
    # Orders first: routes are matched in order, and placing an order is the hot path.
    for router in (
        routes_orders.router,
        routes_menu.router,
        routes_diner.router,
        routes_health.router,
        routes_bill.router,
        routes_bill.webhooks,
        routes_simpay.router,
    ):
        app.include_router(router)
    if settings.console_enabled:
        app.include_router(console.router)
        app.include_router(kitchen_data.router)
    app.mount('/static', StaticFiles(directory=WEB_DIR), name='static')
    return app
