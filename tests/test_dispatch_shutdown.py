"""The dispatcher's loops end on shutdown even when redis-py swallows the cancellation."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.dispatch.service import Dispatcher
from tests.api_helpers import eventually


async def test_stream_reader_ends_when_its_cancellation_is_swallowed(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    real = aredis.xreadgroup
    reading = asyncio.Event()

    async def swallowing(*args: Any, **kwargs: Any) -> Any:
        # What redis-py 8 sometimes does: a cancellation during the command returns quietly.
        reading.set()
        try:
            return await real(*args, **kwargs)
        except asyncio.CancelledError:
            return []

    aredis.xreadgroup = swallowing
    d = Dispatcher(aredis, demo_config, 'shutdown-test')
    loop = asyncio.create_task(d._forever(d._read_jobs))
    await eventually(lambda: aredis.exists(keys.DELIVERIES))
    await reading.wait()
    await asyncio.sleep(0.1)  # inside the blocking read
    loop.cancel()
    done, _ = await asyncio.wait([loop], timeout=10)
    assert done, 'the stream reader went on reading after it was cancelled'
