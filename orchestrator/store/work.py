"""The dispatcher's work: the cook streams and the delivery stream, read as one consumer
group (`dispatch`) in one blocking call.

Entries come back decoded (CookEntry / DeliveryEntry). An entry that was deleted while pending
(its job settled meanwhile) comes back without fields: it is acknowledged here and dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.store import deliveries, jobs, streams
from orchestrator.store.deliveries import DeliveryEntry
from orchestrator.store.jobs import CookEntry

GROUP = keys.DISPATCH_GROUP
READ_COUNT = 200


@dataclass
class Batch:
    cook: list[tuple[str, CookEntry]] = field(default_factory=list)
    deliveries: list[tuple[str, DeliveryEntry]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.cook or self.deliveries)


class WorkQueue:
    def __init__(self, r: Redis, stations: list[str], consumer: str) -> None:
        self._r = r
        self._consumer = consumer
        self._streams = [jobs.stream(s) for s in stations] + [deliveries.STREAM]

    async def ensure_groups(self) -> None:
        for stream in self._streams:
            await streams.ensure_group(self._r, stream, GROUP)

    async def _decode(self, got: list[tuple[str, list[streams.Entry]]]) -> Batch:
        batch = Batch()
        for stream, entries in got:
            gone = []
            for entry_id, fields in entries:
                if stream == deliveries.STREAM:
                    d = deliveries.parse_entry(fields) if fields else None
                    if d is not None:
                        batch.deliveries.append((entry_id, d))
                        continue
                else:
                    c = jobs.parse_entry(fields) if fields else None
                    if c is not None:
                        batch.cook.append((entry_id, c))
                        continue
                gone.append(entry_id)
            if gone:
                await streams.ack_now(self._r, stream, GROUP, *gone)
        return batch

    async def pending(self) -> list[Batch]:
        """Our own pending entries (a restart under the same consumer name), in batches."""
        positions = dict.fromkeys(self._streams, '0')
        out: list[Batch] = []
        while True:
            got = await streams.read_group(self._r, GROUP, self._consumer, positions, READ_COUNT)
            if not any(entries for _, entries in got):
                return out
            for stream, entries in got:
                if entries:
                    positions[stream] = entries[-1][0]
            out.append(await self._decode(got))

    async def new(self, block_ms: int) -> Batch:
        got = await streams.read_group(
            self._r,
            GROUP,
            self._consumer,
            dict.fromkeys(self._streams, '>'),
            READ_COUNT,
            block_ms,
        )
        return await self._decode(got)

    async def reclaim(self, min_idle_ms: int) -> Batch:
        """Entries whose consumer (a dispatcher) has been silent for `min_idle_ms`."""
        got = [
            (s, await streams.autoclaim(self._r, s, GROUP, self._consumer, min_idle_ms))
            for s in self._streams
        ]
        return await self._decode(got)
