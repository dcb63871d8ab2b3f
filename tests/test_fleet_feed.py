"""The robots' state on the feed with two dispatchers (real `robodine dispatcher` processes, a
real robot over DDS, real Redis): every dispatcher hears every heartbeat, and each put its own
`robot.state` and `fleet.heartbeats` events on the feed, so consoles read everything twice. One
dispatcher (the holder of the `fleet_feed` duty) puts them there now, and when it is SIGKILLed
the other takes over."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from functools import partial

import pytest
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.dispatch.service import FEED_DUTY, FEED_HOLD_MS
from orchestrator.store import feed
from tests.dispatch_support import Kitchen, kitchen_running, wait_for

TIME_SCALE = 20.0
ROBOT = 'bar1'


@pytest.fixture(scope='module')
def fleet(
    tmp_path_factory: pytest.TempPathFactory, demo_config: RestaurantConfig
) -> Iterator[Kitchen]:
    with kitchen_running(
        demo_config, tmp_path_factory.mktemp('kitchen'), TIME_SCALE, 120.0, [ROBOT]
    ) as kitchen:
        yield kitchen


async def _modes(r: Redis, since_ms: int) -> list[str]:
    """The robot's modes in its `robot.state` events since `since_ms`, in order."""
    events = await feed.events_of(r, 'robot.state', since_ms)
    return [p['mode'] for p in (e.payload() for e in events) if p.get('robot_id') == ROBOT]


async def _said(r: Redis, since_ms: int, mode: str) -> bool:
    return mode in await _modes(r, since_ms)


async def _recorded(r: Redis, mode: str) -> bool:
    return await r.hget(keys.robot(ROBOT), 'mode') == mode


async def _control(r: Redis, command: str) -> None:
    await r.xadd(keys.CONTROL, {'command': command, 'robot_id': ROBOT, 'by': 'op:kim'})


async def _holder(r: Redis) -> str | None:
    """The dispatcher holding the fleet feed duty (its name and a random suffix)."""
    return await r.get(keys.duty(FEED_DUTY))


async def _summaries(r: Redis, since_ms: int) -> int:
    return len(await feed.events_of(r, 'fleet.heartbeats', since_ms))


@pytest.mark.ros
async def test_two_dispatchers_put_each_state_change_on_the_feed_once(
    fleet: Kitchen, redis_url: str, aredis: Redis
) -> None:
    names = [fleet.start_dispatcher(redis_url) for _ in range(2)]
    try:
        heard = fleet.logged_by(names, f'{ROBOT} heard')
        await wait_for(heard, 60, what=f'{ROBOT} heard by both')
        # The first holder's first event says bar1 is idle (what changed since it published).
        await wait_for(partial(_said, aredis, 0, 'idle'), 20, what=f'{ROBOT} idle on the feed')
        for command, mode in (('pause', 'paused'), ('resume', 'idle')):
            since, holder = feed.now_ms(), await wait_for(partial(_holder, aredis), 10)
            await _control(aredis, command)
            await wait_for(partial(_said, aredis, since, mode), 20, what=f'{mode} on the feed')
            await wait_for(partial(_recorded, aredis, mode), 10, what=f'{mode} in the record')
            # Each dispatcher mirrors what it heard four times a second: a second event would
            # be there by now.
            await asyncio.sleep(1.0)
            said = await _modes(aredis, since)
            if await _holder(aredis) == holder:
                assert said == [mode]
            else:  # a holder starved past its hold handed over: the new one says it again
                assert said == [mode] * len(said) and len(said) <= 2, said
        # One summary of the heartbeats a second, not one per dispatcher (two a second): 5 s
        # hold 5 or 6, one more if a starved holder lost its hold meanwhile.
        since = feed.now_ms()
        await asyncio.sleep(5.0)
        assert await _summaries(aredis, since) <= 7

        # The holder dies: the other takes the feed over once the hold has expired.
        holder = await wait_for(partial(_holder, aredis), 10, what='a feed holder') or ''
        (victim,) = [n for n in names if holder.startswith(f'{n}-')]
        fleet.dispatchers[victim].send_signal(signal.SIGKILL)
        fleet.dispatchers[victim].wait()
        since = feed.now_ms()
        await _control(aredis, 'pause')
        # (Its first events may also say what changed since it last published: bar1 idle.)
        await wait_for(
            partial(_said, aredis, since, 'paused'),
            FEED_HOLD_MS / 1000 + 20,
            what='paused, from the other',
        )
        (survivor,) = [n for n in names if n != victim]
        assert (await _holder(aredis) or '').startswith(f'{survivor}-')
    finally:
        await _control(aredis, 'resume')
        fleet.stop_dispatchers()
