"""Order intake: one atomic Redis step (a Lua script) per accepted order.

The one writer that creates orders and cook jobs (whose records `store.orders` and `store.jobs` own
from then on) and the owner of the idempotency records `rd:idem:{t}:{key}`. The script
(orchestrator/store/lua/intake.lua, made whole by `intake_script.source`) checks the idempotency
key first, then that no dish was 86'd and no price changed since the order was priced, then writes
the order hash, the table's index, the idempotency record (the body's hash and the order's id: a
replay is answered from the order hash), one job hash and one `rd:cook:{station}` entry per dish
unit and the `order.accepted` event. The same script attaches the order to the table's dining
session (`store/sessions.py`: opening one at a free table) and enforces the per-table limits
(orders per minute, dishes per session) on that one hash. Redis runs it as one step and, with
`appendfsync always`, replies only once it is on disk: a 201 is only sent for an order that
survives a crash, and a client that saw an error can retry with the same key and get the order
exactly once.

Price overrides are cached here and verified by the script, so an order costs one round trip;
a changed price makes the script refuse (`stale`), and the order is priced again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from orchestrator import ids, recipes
from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.pricing import MAX_CACHED_LINES, OrderIn, PricedOrder, Pricing
from orchestrator.store import feed, intake_script, jobs, orders, replication, stock
from orchestrator.store.jobs import CookEntry
from orchestrator.store.records import changes
from orchestrator.store.replication import Replicas

log = logging.getLogger(__name__)

# A price that keeps changing under an order refuses it rather than looping.
PRICE_ATTEMPTS = 3


@dataclass(frozen=True)
class Outcome:
    kind: Literal[
        'created', 'replay', 'conflict', 'soldout', 'stale', 'ended', 'rate', 'dishes', 'nostock'
    ]
    # The refused dish id (soldout / stale / nostock: stock cannot make it) or the dishes the
    # session may still order (dishes).
    value: str = ''
    # The first response's JSON (created / replay).
    response: bytes = b''


class NotReplicated(Exception):
    """The orders of a pipeline were written on the primary but fewer replicas than asked
    confirmed them in time: not acknowledged (the client retries with its Idempotency-Key and
    gets the stored order back once a replica has it, or it is taken again after a failover
    that lost it)."""


@dataclass(frozen=True)
class _LineJobs:
    """What every dish unit of one kind of priced line (a dish with its options) writes."""

    dish: str
    # The station's cook stream.
    stream: str
    # Its jobs' `jobs.entry_fields`, but the ids and the line number (filled in per unit).
    entry: dict[str, str]
    # What one unit took from stock, as its job hash holds it (given back if cancelled).
    job_uses: str
    # What one unit takes from stock ([]: no recipe).
    uses: list[stock.UnitUse]


class FunctionBatcher:
    """Calls one Redis function for many concurrent callers, a pipeline per event-loop turn.

    The calls made during one turn of the event loop go to Redis together in one pipeline:
    each FCALL stays its own atomic step, but the client pays for one round trip instead of
    one per order, which is most of an order's cost in redis-py. A pipeline does not wait for
    the one before it: with `appendfsync always` a round trip lasts an fsync, and orders kept
    back until the previous pipeline returned would wait for two. Pipelines sent side by side
    (each on its own connection) are read, run and fsynced by Redis in one go. The library is
    loaded again if Redis does not have it (a new Redis, or one restarted without its AOF).

    With `replicas`, the pipeline ends with WAIT: it covers every call before it on that
    connection, so one WAIT per pipeline confirms the whole batch, or NotReplicated fails it.
    """

    def __init__(
        self, r: Redis, library: intake_script.Library, replicas: Replicas | None = None
    ) -> None:
        self._r = r
        self._replicas = replicas
        self._library = library
        self._pending: list[tuple[list[str], list[Any], asyncio.Future[Any]]] = []
        self._in_flight: set[asyncio.Task[None]] = set()

    async def __call__(self, keys: list[str], args: list[Any]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((keys, args, future))
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.create_task(self._send(batch))
        self._in_flight.add(task)  # a reference, so the task is not collected mid-flight
        task.add_done_callback(self._in_flight.discard)

    async def _send(self, batch: list[tuple[list[str], list[Any], asyncio.Future[Any]]]) -> None:
        try:
            results = await self._run(batch)
        except Exception as e:  # Redis unreachable: every caller of the batch hears it
            results = [e] * len(batch)
        for (_, _, future), result in zip(batch, results, strict=True):
            if future.done():  # the caller went away
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _run(
        self, batch: list[tuple[list[str], list[Any], asyncio.Future[Any]]]
    ) -> list[Any]:
        def calls(pipe: Pipeline) -> None:
            for names, args, _ in batch:
                pipe.fcall(self._library.name, len(names), *names, *args)

        results, replicated = await replication.written(
            self._r, self._replicas, calls, raise_on_error=False
        )
        if not replicated:
            raise NotReplicated(f'fewer replicas than asked confirmed it ({self._replicas})')
        retry = [i for i, x in enumerate(results) if _not_loaded(x)]
        if retry:
            await self._r.function_load(self._library.source, replace=True)
            again = await self._run([batch[i] for i in retry])
            for i, x in zip(retry, again, strict=True):
                results[i] = x
        return results


def _not_loaded(result: Any) -> bool:
    return isinstance(result, ResponseError) and str(result).startswith('Function not found')


class Intake:
    def __init__(self, r: Redis, cfg: RestaurantConfig, replicas: Replicas | None = None) -> None:
        self._r = r
        self._cfg = cfg
        self._script = FunctionBatcher(r, intake_script.library(cfg), replicas)
        self._pricing = Pricing(cfg)
        # dish id -> the price override last seen ('' for none); the script checks it.
        self._prices: dict[str, str] = {}
        self.groups_ready = False
        # Most of what an order writes is the same for every order: worked out once, here and
        # per kind of line (`_line_jobs`), and only the order's own values filled in.
        self._line_kinds: dict[tuple[str, tuple[tuple[str, str], ...]], _LineJobs] = {}

    async def ensure_groups(self) -> None:
        """Create every station's cook stream with its consumer group, and put the config's
        recipes and opening stock into Redis (both idempotent)."""
        await stock.sync(self._r, self._cfg)
        for station in self._cfg.stations:
            try:
                await self._r.xgroup_create(
                    jobs.stream(station.id), jobs.GROUP, id='0', mkstream=True
                )
            except ResponseError as e:
                if 'BUSYGROUP' not in str(e):
                    raise
        self.groups_ready = True

    async def _price_overrides(self, dish_ids: Iterable[str]) -> dict[str, int]:
        ids = list(dish_ids)
        missing = [d for d in ids if d not in self._prices]
        if missing:
            values = await self._r.mget([keys.price(d) for d in missing])
            self._prices.update(zip(missing, (v or '' for v in values), strict=True))
        return {d: int(self._prices[d]) for d in ids if self._prices[d]}

    async def take(
        self, table_id: str, idem_key: str, order: OrderIn, visit: int | None = None
    ) -> Outcome:
        """Price the order (raises OrderRejected) and store it; see Outcome for the results.
        `visit` is the visit code's session number (None for the printed table code)."""
        dish_ids = [i.dish_id for i in order.items if i.dish_id in self._cfg.dish_by_id]
        for _ in range(PRICE_ATTEMPTS):
            priced = self._pricing.price(order, await self._price_overrides(dish_ids))
            outcome = await self.submit(table_id, idem_key, order, priced, visit)
            if outcome.kind != 'stale':
                return outcome
            self._prices.pop(outcome.value, None)
        return outcome

    async def submit(
        self,
        table_id: str,
        idem_key: str,
        order: OrderIn,
        priced: PricedOrder,
        visit: int | None = None,
    ) -> Outcome:
        if not self.groups_ready:
            await self.ensure_groups()
        order_id = ids.new_order_id()
        at = feed.now_ms()
        # intake.lua's arguments: the order's own values, in its order (see its header and
        # intake_script.py for the blanks' order); the jobs go last.
        job_args: list[Any] = []
        job_keys: list[str] = []
        takes: list[stock.Take] = []
        for li, line in enumerate(priced.lines):
            kind = self._line_jobs(line)
            takes.append((kind.dish, line['quantity'], kind.uses))
            job_ids = [ids.job_id(order_id, li, unit) for unit in range(line['quantity'])]
            entry = {**kind.entry, 'order_id': order_id, 'table_id': table_id, 'line': str(li)}
            packed = (jobs.pack({**entry, 'job_id': job_id}) for job_id in job_ids)
            job_args += [len(job_ids), kind.job_uses, *packed]
            for job_id in job_ids:
                job_keys += [keys.job(job_id), kind.stream]
        units = len(job_keys) // 2
        lines = orjson.dumps(priced.lines)
        # orjson writes these str and int values as feed.event's json.dumps does, faster.
        data = orjson.dumps({'table_id': table_id, 'total': priced.total, 'jobs': units})
        args: list[Any] = [
            order.body_hash(),
            order_id,
            lines,
            at,
            *(order_id, table_id, priced.total, units, at, at),  # ORDER_BLANKS
            *(order_id, at, data),  # EVENT_BLANKS
            len(priced.dish_ids),
            *priced.dish_ids,
            *(priced.overrides.get(d, '') for d in priced.dish_ids),
            *(-1 if visit is None else visit, ids.new_session_id(), table_id, at // 60_000),
            *(units, at),  # the session's dishes, the blank of its table.seated event
            *stock.intake_args(takes),
            *(order_id, table_id),  # SALE_BLANKS
            *job_args,
        ]
        script_keys = [
            keys.idempotency(table_id, idem_key),
            keys.order(order_id),
            keys.table_orders(table_id),
            keys.order_events(order_id),
            feed.STREAM,
            keys.SOLDOUT,
            *(keys.price(d) for d in priced.dish_ids),
            *job_keys,
            *stock.INTAKE_KEYS,
            keys.table_visit(table_id),
        ]
        result = await self._script(keys=script_keys, args=args)
        if result[0] == 'replay':
            return Outcome('replay', response=await self._replayed(table_id, result[1]))
        if result[0] == 'nostock':
            return Outcome('nostock', stock.first_short(takes, result[1:]))
        outcome = Outcome(result[0], result[1] if len(result) > 1 else '')
        if outcome.kind == 'created':
            currency = self._cfg.restaurant.currency
            response = first_response(order_id, table_id, lines, priced.total, currency, at)
            outcome = Outcome('created', response=response)
            log.info(
                'order accepted',
                extra={
                    'order_id': order_id,
                    'table_id': table_id,
                    'total': priced.total,
                    'jobs': units,
                },
            )
        return outcome

    async def _replayed(self, table_id: str, order_id: str) -> bytes:
        """The first response to the order `order_id`, again, from its hash (whose fields it
        was made of and which outlives the idempotency record: retention keeps orders for
        days); only the id and status if an operator shortened retention below a day."""
        lines, total, currency, created_at = await self._r.hmget(
            keys.order(order_id), 'lines', 'total', 'currency', 'created_at'
        )
        if lines is None:
            return orjson.dumps({'id': order_id, 'table_id': table_id, 'status': orders.RECEIVED})
        return first_response(
            order_id, table_id, lines.encode(), int(total), currency, int(created_at)
        )

    def _line_jobs(self, line: dict[str, Any]) -> _LineJobs:
        """The jobs of one kind of priced line, from its first unit's as `cook_entries` makes
        it; the ids and the line number are blanks filled in per unit."""
        key = (line['dish_id'], tuple(line['options'].items()))
        known = self._line_kinds.get(key)
        if known is not None:
            return known
        entry = cook_entries(self._cfg, '', '', [{**line, 'quantity': 1}])[0]
        uses = stock.job_uses(self._cfg, entry.dish_id, recipes.parse_options(entry.options))
        kind = _LineJobs(
            dish=entry.dish_id,
            stream=jobs.stream(entry.station),
            entry=jobs.entry_fields(entry),
            job_uses=changes(jobs.JobRecord, uses=uses)['uses'],
            uses=stock.intake_uses(self._cfg, line),
        )
        if len(self._line_kinds) < MAX_CACHED_LINES:
            self._line_kinds[key] = kind
        return kind


def first_response(
    order_id: str, table_id: str, lines: bytes, total: int, currency: str, at: int
) -> bytes:
    """The 201 body of a new order (`lines`: its lines' JSON as the order hash holds it)."""
    return orjson.dumps(
        {
            'id': order_id,
            'table_id': table_id,
            'status': orders.RECEIVED,
            'lines': orjson.Fragment(lines),
            'total': total,
            'currency': currency,
            'created_at': at,
        }
    )


def cook_entries(
    cfg: RestaurantConfig, order_id: str, table_id: str, lines: list[dict[str, Any]]
) -> list[CookEntry]:
    """The order's cook jobs, one per dish unit (a line of three dumplings is three jobs that
    three robots may cook at once)."""
    out = []
    for li, line in enumerate(lines):
        dish = cfg.dish_by_id[line['dish_id']]
        options = [f'{k}={v}' for k, v in line['options'].items()]
        for unit in range(line['quantity']):
            out.append(
                CookEntry(
                    job_id=ids.job_id(order_id, li, unit),
                    order_id=order_id,
                    table_id=table_id,
                    dish_id=dish.id,
                    station=dish.station,
                    options=options,
                    cook_time_s=float(dish.cook_time_s),
                    line=li,
                )
            )
    return out
