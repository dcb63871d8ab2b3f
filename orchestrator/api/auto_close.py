"""Closes tables paid in full `service.close_after_paid_s` (simulated seconds) after their last
payment, unless an operator closed them first. Every API process runs one; the close is a
WATCHed transaction, so two processes closing one table close it once. Each look reads only the
tables in the paid index that are due (before, every table's session: at time scale 1000 that
was 200 reads every 50 ms in every API process, a third of its CPU in `bench/scale.py`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from redis.exceptions import RedisError

from orchestrator.api.context import AppContext
from orchestrator.store import sessions
from orchestrator.tasks import cancel_requested, nap

log = logging.getLogger(__name__)
# Real seconds between two looks (at most 1 s, and finer at high time scales).
MAX_PERIOD_S = 1.0


async def run(ctx: AppContext) -> None:
    cfg = ctx.config
    after_s = cfg.service.close_after_paid_s / ctx.settings.time_scale
    period = min(MAX_PERIOD_S, max(0.05, after_s / 4))
    indexed = False
    while not cancel_requested():
        try:
            if not indexed:
                await sessions.index_paid(ctx.redis, [t.id for t in cfg.tables])
                indexed = True
            for s in await sessions.close_due(ctx.redis, cfg.billing, int(after_s * 1000)):
                log.info('table closed after payment', extra={'table_id': s.table_id})
        except RedisError as e:  # waited out: the next look tries again
            log.warning('auto-close: redis unavailable: %s', e)
        await nap(period)


@contextlib.asynccontextmanager
async def running(ctx: AppContext) -> AsyncIterator[None]:
    task = asyncio.create_task(run(ctx))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
