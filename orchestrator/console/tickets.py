"""Kitchen tickets: orders with their lines and the state of every dish unit (cook job).

The console groups them on the client (a column per station, the pass, recall); here they are
read from Redis in a few pipelined round trips, for the snapshot and for each feed event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis

from orchestrator.config import RestaurantConfig
from orchestrator.store import jobs, orders
from orchestrator.store.feed import now_ms
from orchestrator.store.jobs import JobRecord
from orchestrator.store.orders import FINAL, OrderRecord

# Orders older than this are not on the board (a service day, with margin).
WINDOW_MS = 18 * 3600 * 1000
# Finished tickets kept for recall.
RECALL = 40


def option_pairs(options: Any) -> list[tuple[str, str]]:
    """(option, choice) ids of a line's options: {option: choice} (or a list of `a=b`)."""
    if isinstance(options, dict):
        return [(str(k), str(v)) for k, v in options.items()]
    return [(a, b) for a, _, b in (str(o).partition('=') for o in options or [])]


def option_labels(cfg: RestaurantConfig, dish_id: str, options: Any) -> list[str]:
    """`Spice level: Hot` labels (English; the console names them in the operator's language
    from the ids)."""
    dish = cfg.dish_by_id.get(dish_id)
    out = []
    for opt_id, choice_id in option_pairs(options):
        opt = dish.option(opt_id) if dish else None
        choice = next((c for c in opt.choices if c.id == choice_id), None) if opt else None
        out.append(
            f'{opt.name.en}: {choice.name.en}' if opt and choice else f'{opt_id}: {choice_id}'
        )
    return out


def build_ticket(
    cfg: RestaurantConfig, order: OrderRecord, by_id: dict[str, JobRecord]
) -> dict[str, Any]:
    units: dict[int, list[dict[str, str]]] = {}
    for li in range(len(order.lines)):
        for job_id in order.job_ids(li):
            job = by_id.get(job_id)
            # A dish cooked by hand (bumped) names no robot: the one that had it last threw
            # its copy away, or failed it.
            by_hand = job is not None and job.status == jobs.COOKED and job.cooked_by != job.robot
            units.setdefault(li, []).append(
                {
                    'job_id': job_id,
                    'status': job.status if job else 'queued',
                    'robot_id': job.robot if job and not by_hand else '',
                }
            )
    table = cfg.table_by_id.get(order.table_id)
    out_lines = []
    for li, line in enumerate(order.lines):
        dish = cfg.dish_by_id.get(line['dish_id'])
        out_lines.append(
            {
                'line': li,
                'dish_id': line['dish_id'],
                'name': dish.name.en if dish else line['dish_id'],
                'station': line.get('station') or (dish.station if dish else ''),
                'quantity': int(line.get('quantity', 1)),
                'options': option_labels(cfg, line['dish_id'], line.get('options')),
                'option_ids': option_pairs(line.get('options')),
                'note': line.get('note', ''),
                'allergens': list(dish.allergens) if dish else [],
                'units': units.get(li, []),
            }
        )
    return {
        'id': order.id,
        'table_id': order.table_id,
        'table': table.name.model_dump() if table else order.table_id,
        'status': order.status,
        'created_at': order.created_at,
        'updated_at': order.updated_at,
        'total': order.total,
        'currency': order.currency or cfg.restaurant.currency,
        'robot_id': order.robot_id,
        'trip_id': order.trip_id,
        # Came back to the pass (pickup timed out): waits for an operator to send it again.
        'returned': order.returned,
        'eta_at': order.estimate_at or None,
        'lines': out_lines,
    }


async def load_tickets(
    r: Redis, cfg: RestaurantConfig, order_ids: Iterable[str]
) -> list[dict[str, Any]]:
    """Tickets of the given orders (unknown ids are skipped), in two round trips."""
    found = await orders.get_many(r, dict.fromkeys(order_ids))
    by_id = await jobs.get_many(r, (jid for o in found for jid in o.job_ids()))
    return [build_ticket(cfg, o, by_id) for o in found]


async def todays_order_ids(r: Redis, cfg: RestaurantConfig) -> list[str]:
    """Ids of every table's orders of the last service window, oldest first."""
    return await orders.ids_since(r, (t.id for t in cfg.tables), now_ms() - WINDOW_MS)


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
