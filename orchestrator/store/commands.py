"""`rd:control` (group `fleet`): commands for robots, from operators and diners, run by the
dispatcher's robot-command worker.

A command is issued when its entry is added (the entry id is Redis's clock in ms) and expires
`command_ttl_s` later: a dispatcher that reads it after that (it was down, or Redis was) does
not run it, so a STOP ALL never fires hours late.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from orchestrator import redis_keys as keys
from orchestrator.store import streams
from orchestrator.store.records import from_fields, to_fields

STREAM = keys.CONTROL
GROUP = keys.CONTROL_GROUP
KINDS = frozenset({'pause', 'resume', 'estop', 'release', 'dock', 'cancel', 'confirm_pickup'})


@dataclass(frozen=True)
class Command:
    command: str
    robot_id: str
    by: str = ''
    # `cancel`: the cook job or trip; `confirm_pickup`: the trip, table and order.
    job_id: str = ''
    trip_id: str = ''
    table_id: str = ''
    order_id: str = ''


def add(pipe: Pipeline | Redis, c: Command) -> None:
    pipe.xadd(STREAM, {k: v for k, v in to_fields(c).items() if v})


def parse(fields: dict[str, str]) -> Command:
    return from_fields(Command, {'command': '', 'robot_id': '', **fields})


async def send(r: Redis, *cs: Command) -> None:
    """Queue the commands in one transaction."""
    async with r.pipeline(transaction=True) as pipe:
        for c in cs:
            add(pipe, c)
        await pipe.execute()


async def send_once(r: Redis, c: Command, ttl_s: float) -> bool:
    """Queue `c` unless the same command for the same robot is queued and not yet run (a
    double tap, or two operators): False then, and nothing is queued. The mark goes once a
    dispatcher has run the command (`done`), or after `ttl_s`, when it expires unrun."""
    mark = keys.command_queued(c.robot_id, c.command)

    async def txn(pipe: Pipeline) -> bool:
        if await pipe.exists(mark):
            return False
        pipe.multi()
        pipe.set(mark, '1', px=max(1, int(ttl_s * 1000)))
        add(pipe, c)
        return True

    return bool(await r.transaction(txn, mark, value_from_callable=True))


async def ensure_group(r: Redis) -> None:
    await streams.ensure_group(r, STREAM, GROUP)


async def read(r: Redis, consumer: str, start: str, block_ms: int | None) -> list[streams.Entry]:
    """Commands for `consumer`: its pending ones from `start`, or new ones with '>'."""
    got = await streams.read_group(r, GROUP, consumer, {STREAM: start}, 20, block_ms)
    return [e for _, es in got for e in es]


async def reclaim(r: Redis, consumer: str, min_idle_ms: int) -> list[streams.Entry]:
    return await streams.autoclaim(r, STREAM, GROUP, consumer, min_idle_ms)


def issued_ms(entry_id: str) -> int:
    """When the command was queued (Redis's clock), from its entry id."""
    return int(entry_id.split('-', 1)[0])


async def age_ms(r: Redis, entry_id: str) -> int:
    """How long ago the command was queued, on Redis's clock (the same that stamped it)."""
    seconds, micros = await r.time()
    return int(seconds) * 1000 + int(micros) // 1000 - issued_ms(entry_id)


async def done(r: Redis, entry_id: str, c: Command | None = None) -> None:
    """The command was run (or expired): the same one may be queued again."""
    async with r.pipeline(transaction=True) as pipe:
        streams.ack(pipe, STREAM, GROUP, entry_id)
        if c is not None:
            pipe.delete(keys.command_queued(c.robot_id, c.command))
        await pipe.execute()
