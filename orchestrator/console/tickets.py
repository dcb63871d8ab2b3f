"""Kitchen tickets: orders with their lines and the state of every dish unit (cook job).

The console groups them on the client (a column per station, the pass, recall); here they are
read from Redis in a few pipelined round trips, for the snapshot and for each feed event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.timeline import FINAL, now_ms

# Orders older than this are not on the board (a service day, with margin).
WINDOW_MS = 18 * 3600 * 1000
# Finished tickets kept for recall.
RECALL = 40


def job_ids(order_id: str, lines: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """(line index, job id) of every dish unit, per the job id contract."""
    return [
        (li, f'{order_id}-{li:02d}-{unit:02d}')
        for li, line in enumerate(lines)
        for unit in range(int(line.get('quantity', 1)))
    ]


def option_labels(cfg: RestaurantConfig, dish_id: str, options: Any) -> list[str]:
    """`Spice level: Hot` labels; options are {option: choice} (or a list of `a=b`)."""
    pairs = (
        options.items()
        if isinstance(options, dict)
        else (str(o).partition('=')[::2] for o in options or [])
    )
    dish = cfg.dish_by_id.get(dish_id)
    out = []
    for opt_id, choice_id in pairs:
        opt = dish.option(opt_id) if dish else None
        choice = next((c for c in opt.choices if c.id == choice_id), None) if opt else None
        out.append(
            f'{opt.name.en}: {choice.name.en}' if opt and choice else f'{opt_id}: {choice_id}'
        )
    return out


def build_ticket(
    cfg: RestaurantConfig, order: dict[str, str], jobs: dict[str, dict[str, str]]
) -> dict[str, Any]:
    lines = json.loads(order.get('lines') or '[]')
    units: dict[int, list[dict[str, str]]] = {}
    for li, job_id in job_ids(order['id'], lines):
        job = jobs.get(job_id, {})
        units.setdefault(li, []).append(
            {
                'job_id': job_id,
                'status': job.get('status', 'queued'),
                'robot_id': job.get('robot', ''),
            }
        )
    table = cfg.table_by_id.get(order.get('table_id', ''))
    out_lines = []
    for li, line in enumerate(lines):
        dish = cfg.dish_by_id.get(line['dish_id'])
        out_lines.append(
            {
                'line': li,
                'dish_id': line['dish_id'],
                'name': dish.name.en if dish else line['dish_id'],
                'station': line.get('station') or (dish.station if dish else ''),
                'quantity': int(line.get('quantity', 1)),
                'options': option_labels(cfg, line['dish_id'], line.get('options')),
                'note': line.get('note', ''),
                'allergens': list(dish.allergens) if dish else [],
                'units': units.get(li, []),
            }
        )
    return {
        'id': order['id'],
        'table_id': order.get('table_id', ''),
        'table': table.name if table else order.get('table_id', ''),
        'status': order.get('status', ''),
        'created_at': int(order.get('created_at') or 0),
        'updated_at': int(order.get('updated_at') or 0),
        'total': int(order.get('total') or 0),
        'currency': order.get('currency', cfg.restaurant.currency),
        'robot_id': order.get('robot_id', ''),
        'trip_id': order.get('trip_id', ''),
        # Came back to the pass (pickup timed out): waits for an operator to send it again.
        'returned': bool(order.get('returned')),
        'lines': out_lines,
    }


async def load_tickets(
    r: Redis, cfg: RestaurantConfig, order_ids: Iterable[str]
) -> list[dict[str, Any]]:
    """Tickets of the given orders (unknown ids are skipped), in two round trips."""
    ids = list(dict.fromkeys(order_ids))
    async with r.pipeline(transaction=False) as pipe:
        for oid in ids:
            pipe.hgetall(keys.order(oid))
        orders = [o for o in await pipe.execute() if o and 'id' in o]
    wanted = [
        jid for o in orders for _, jid in job_ids(o['id'], json.loads(o.get('lines') or '[]'))
    ]
    async with r.pipeline(transaction=False) as pipe:
        for jid in wanted:
            pipe.hgetall(keys.job(jid))
        jobs = dict(zip(wanted, await pipe.execute(), strict=True))
    return [build_ticket(cfg, o, jobs) for o in orders]


async def todays_order_ids(r: Redis, cfg: RestaurantConfig) -> list[str]:
    """Ids of every table's orders of the last service window, oldest first."""
    since = now_ms() - WINDOW_MS
    async with r.pipeline(transaction=False) as pipe:
        for t in cfg.tables:
            pipe.zrangebyscore(keys.table_orders(t.id), since, '+inf', withscores=True)
        per_table = await pipe.execute()
    scored = sorted((score, oid) for rows in per_table for oid, score in rows)
    return [oid for _, oid in scored]


async def board(r: Redis, cfg: RestaurantConfig) -> dict[str, list[dict[str, Any]]]:
    """Open tickets, and the most recently finished ones for recall."""
    tickets = await load_tickets(r, cfg, await todays_order_ids(r, cfg))
    finished = sorted(
        (t for t in tickets if t['status'] in FINAL), key=lambda t: t['updated_at'], reverse=True
    )
    return {
        'open': [t for t in tickets if t['status'] not in FINAL],
        'finished': finished[:RECALL],
    }
