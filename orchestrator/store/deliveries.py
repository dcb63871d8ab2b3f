"""`rd:deliveries` (group `dispatch`): orders whose food is ready to be carried to the table.

An entry is added in the transaction that marks an order's last dish cooked (or when an
operator sends returned food out again) and acknowledged when the trip carrying it is over.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from orchestrator import redis_keys as keys
from orchestrator.store import streams
from orchestrator.store.feed import now_ms
from orchestrator.store.records import from_fields, to_fields

STREAM = keys.DELIVERIES
GROUP = keys.DISPATCH_GROUP


@dataclass(frozen=True)
class DeliveryEntry:
    order_id: str
    table_id: str
    at: int = 0
    # Who sent it out again ('' for the first time).
    by: str = ''


def enqueue(pipe: Pipeline, order_id: str, table_id: str, by: str = '') -> None:
    e = DeliveryEntry(order_id, table_id, now_ms(), by)
    pipe.xadd(STREAM, {k: v for k, v in to_fields(e).items() if v})


def parse_entry(fields: dict[str, str]) -> DeliveryEntry | None:
    if not fields.get('order_id'):
        return None
    return from_fields(DeliveryEntry, {'table_id': '', **fields})


def ack(pipe: Pipeline, *entry_ids: str) -> None:
    streams.ack(pipe, STREAM, GROUP, *entry_ids)


async def ack_now(r: Redis, *entry_ids: str) -> None:
    await streams.ack_now(r, STREAM, GROUP, *entry_ids)
