"""`rd:robot:{robot_id}`: the last heartbeat of each robot, as the dispatcher's ROS bridge
heard it (the console, alert checks and controls read it; only the dispatcher writes it)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import redis
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from orchestrator import redis_keys as keys
from orchestrator.store.records import from_fields, to_fields


@dataclass(frozen=True)
class RobotRecord:
    robot_id: str
    kind: str = ''
    # idle busy paused charging fault estopped (from the robot), unreachable lost (from the
    # dispatcher).
    mode: str = ''
    # Cook job ids (cooking) or the trip id (serving) in progress.
    jobs: list[str] = field(default_factory=list)
    x: float = 0.0
    y: float = 0.0
    theta: float = 0.0
    battery: float = 0.0
    detail: str = ''
    # When the dispatcher last heard it (ms since the epoch).
    seen_at: int = 0


def write(pipe: Pipeline, robot: RobotRecord) -> None:
    pipe.hset(keys.robot(robot.robot_id), mapping=to_fields(robot))


async def get_many(r: Redis, robot_ids: Iterable[str]) -> dict[str, RobotRecord | None]:
    """Each robot's last state, None for one never heard of."""
    wanted = list(robot_ids)
    async with r.pipeline(transaction=False) as pipe:
        for rid in wanted:
            pipe.hgetall(keys.robot(rid))
        hashes = await pipe.execute()
    return {
        rid: from_fields(RobotRecord, {**h, 'robot_id': rid}) if h else None
        for rid, h in zip(wanted, hashes, strict=True)
    }


async def get(r: Redis, robot_id: str) -> RobotRecord | None:
    return (await get_many(r, [robot_id]))[robot_id]


def modes_sync(client: redis.Redis, robot_ids: Iterable[str]) -> dict[str, str | None]:
    """For processes without an event loop (bringup waiting for its robots)."""
    return {rid: client.hget(keys.robot(rid), 'mode') for rid in robot_ids}
