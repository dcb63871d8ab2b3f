"""Order intake: one atomic Redis step (a Lua script) per accepted order.

The script (orchestrator/lua/intake.lua) checks the idempotency key first, then that no dish
was 86'd since validation, then writes the order hash, the table's index, the idempotency
record, one job hash and one `rd:cook:{station}` entry per dish unit and the `order.accepted`
event. Redis runs it as one step and, with `appendfsync always`, replies only once it is on
disk: a 201 is only sent for an order that survives a crash, and a client that saw an error
can retry with the same key and get the order exactly once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from orchestrator import redis_keys as keys
from orchestrator import timeline
from orchestrator.config import RestaurantConfig
from orchestrator.orders import OrderIn, PricedOrder, cook_jobs, new_order_id

log = logging.getLogger(__name__)

LUA = resources.files('orchestrator').joinpath('lua/intake.lua').read_text(encoding='utf-8')
# How long a replayed request gets the first response back.
IDEMPOTENCY_TTL_S = 24 * 3600
# Same cap as timeline.add_event: the feed is for consoles, never read by a consumer group.
FEED_MAXLEN = 100_000


@dataclass(frozen=True)
class Outcome:
    kind: Literal['created', 'replay', 'conflict', 'soldout']
    # The first response's JSON (created / replay) or the sold-out dish id.
    value: str = ''


class Intake:
    def __init__(self, r: Redis, cfg: RestaurantConfig) -> None:
        self._r = r
        self._cfg = cfg
        # Loaded once; redis-py sends EVALSHA and reloads it if Redis lost its script cache.
        self._script = r.register_script(LUA)
        self.groups_ready = False

    async def ensure_groups(self) -> None:
        """Create every station's cook stream with its `dispatch` consumer group (idempotent)."""
        for station in self._cfg.stations:
            try:
                await self._r.xgroup_create(
                    keys.cook_stream(station.id), keys.COOK_GROUP, id='0', mkstream=True
                )
            except ResponseError as e:
                if 'BUSYGROUP' not in str(e):
                    raise
        self.groups_ready = True

    async def submit(
        self, table_id: str, idem_key: str, order: OrderIn, priced: PricedOrder
    ) -> Outcome:
        if not self.groups_ready:
            await self.ensure_groups()
        order_id = new_order_id()
        jobs = cook_jobs(self._cfg, order_id, table_id, priced.lines)
        event = timeline.event_fields(
            order_id,
            'order.accepted',
            {'table_id': table_id, 'total': priced.total, 'jobs': len(jobs)},
        )
        event['status'] = timeline.RECEIVED
        at = event['at']
        currency = self._cfg.restaurant.currency
        lines_json = json.dumps(priced.lines, ensure_ascii=False, separators=(',', ':'))
        response = {
            'id': order_id,
            'table_id': table_id,
            'status': timeline.RECEIVED,
            'lines': priced.lines,
            'total': priced.total,
            'currency': currency,
            'created_at': int(at),
        }
        order_hash = {
            'id': order_id,
            'table_id': table_id,
            'status': timeline.RECEIVED,
            'total': str(priced.total),
            'currency': currency,
            'lines': lines_json,
            'jobs_total': str(len(jobs)),
            'jobs_cooked': '0',
            'created_at': at,
            'updated_at': at,
        }
        payload: dict[str, Any] = {
            'order': _flat(order_hash),
            'score': at,
            'order_id': order_id,
            'event': _flat(event),
            'dishes': priced.dish_ids,
            'ttl': IDEMPOTENCY_TTL_S,
            'feed_maxlen': str(FEED_MAXLEN),
            'response': json.dumps(response, ensure_ascii=False, separators=(',', ':')),
            'jobs': [
                {
                    'hash': _flat(
                        {
                            'job_id': j['job_id'],
                            'status': 'queued',
                            'order_id': order_id,
                            'table_id': table_id,
                            'dish_id': j['dish_id'],
                            'station': j['station'],
                            'epoch': '0',
                            'attempts': '0',
                        }
                    ),
                    'entry': _flat(j),
                }
                for j in jobs
            ],
        }
        script_keys = [
            keys.idempotency(table_id, idem_key),
            keys.order(order_id),
            keys.table_orders(table_id),
            keys.order_events(order_id),
            keys.FEED,
            keys.SOLDOUT,
        ]
        for j in jobs:
            script_keys += [keys.job(j['job_id']), keys.cook_stream(j['station'])]
        result = await self._script(
            keys=script_keys,
            args=[
                order.body_hash(),
                json.dumps(payload, ensure_ascii=False, separators=(',', ':')),
            ],
        )
        outcome = Outcome(result[0], result[1] if len(result) > 1 else '')
        if outcome.kind == 'created':
            log.info(
                'order accepted',
                extra={
                    'order_id': order_id,
                    'table_id': table_id,
                    'total': priced.total,
                    'jobs': len(jobs),
                },
            )
        return outcome


def _flat(mapping: dict[str, str]) -> list[str]:
    return [x for kv in mapping.items() for x in kv]
