"""Order intake: one atomic Redis step (a Lua script) per accepted order.

The one writer that creates orders and cook jobs (whose records `store.orders` and `store.jobs` own
from then on) and the owner of the idempotency records `rd:idem:{t}:{key}`. The script
(orchestrator/store/lua/intake.lua) checks the idempotency key first, then that no dish was 86'd
and no price changed since the order was priced, then writes the order hash, the table's index, the
idempotency record, one job hash and one `rd:cook:{station}` entry per dish unit and the
`order.accepted` event. The same script attaches the order to the table's dining session
(`store/sessions.py`: opening one at a free table) and enforces the per-table limits (orders per
minute, dishes per session) on that one hash. Redis runs it as one step and, with `appendfsync
always`, replies only once it is on disk: a 201 is only sent for an order that survives a crash,
and a client that saw an error can retry with the same key and get the order exactly once.

Price overrides are cached here and verified by the script, so an order costs one round trip;
a changed price makes the script refuse (`stale`), and the order is priced again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, fields
from importlib import resources
from itertools import chain
from typing import Any, Literal

import orjson
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

from orchestrator import ids, recipes
from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.pricing import MAX_CACHED_LINES, OrderIn, PricedOrder, Pricing
from orchestrator.store import feed, jobs, orders, stock
from orchestrator.store.feed import FeedEvent
from orchestrator.store.jobs import CookEntry
from orchestrator.store.orders import OrderRecord
from orchestrator.store.records import changes

log = logging.getLogger(__name__)

# The stock functions (store/stock.py) go in front of the script that uses them.
LUA = stock.LIB + resources.files('orchestrator').joinpath('store/lua/intake.lua').read_text(
    encoding='utf-8'
)
# How long a replayed request gets the first response back.
IDEMPOTENCY_TTL_S = 24 * 3600
# A price that keeps changing under an order refuses it rather than looping.
PRICE_ATTEMPTS = 3
# A job hash starts with its stream entry's fields (`jobs.new_job`): the script adds the entry
# from the first ENTRY_LEN names and values of the hash.
ENTRY_LEN = 2 * len(fields(CookEntry))
# What differs between the jobs of one kind of line (`_LineJobs.job`).
_JOB_BLANKS = ('job_id', 'order_id', 'table_id', 'line')


@dataclass(frozen=True)
class Outcome:
    kind: Literal[
        'created', 'replay', 'conflict', 'soldout', 'stale', 'ended', 'rate', 'dishes', 'nostock'
    ]
    # The first response's JSON (created / replay), the refused dish id (soldout / stale /
    # nostock: stock cannot make it) or
    # the dishes the session may still order (dishes).
    value: str = ''


class NotReplicated(Exception):
    """The orders of a pipeline were written on the primary but fewer replicas than asked
    confirmed them in time: not acknowledged (the client retries with its Idempotency-Key and
    gets the stored order back once a replica has it, or it is taken again after a failover
    that lost it)."""


@dataclass(frozen=True)
class Replicas:
    """WAIT for `count` replicas (at most `timeout_ms`) after every pipeline of the script."""

    count: int
    timeout_ms: int


def _flat(mapping: dict[str, str]) -> list[str]:
    return list(chain.from_iterable(mapping.items()))


@dataclass(frozen=True)
class _LineJobs:
    """What every dish unit of one kind of priced line (a dish with its options) writes."""

    dish: str
    # The station's cook stream.
    stream: str
    # A job hash's name/value pairs; the values of _JOB_BLANKS are filled in per unit.
    job: list[str]
    # Where those values are in `job`.
    slots: tuple[int, int, int, int]
    # What one unit takes from stock, flat ingredient/amount pairs ([]: no recipe).
    uses: list[Any]


class ScriptBatcher:
    """Runs one Lua script for many concurrent callers, a pipeline per event-loop turn.

    The calls made during one turn of the event loop go to Redis together in one pipeline:
    each EVALSHA stays its own atomic step, but the client pays for one round trip instead of
    one per order, which is most of an order's cost in redis-py. A pipeline does not wait for
    the one before it: with `appendfsync always` a round trip lasts an fsync, and orders kept
    back until the previous pipeline returned would wait for two. Pipelines sent side by side
    (each on its own connection) are read, run and fsynced by Redis in one go. The script is
    sent by SHA and loaded again if Redis lost it (a restart).

    With `replicas`, the pipeline ends with WAIT: it covers every script before it on that
    connection, so one WAIT per pipeline confirms the whole batch, or NotReplicated fails it.
    """

    def __init__(self, r: Redis, source: str, replicas: Replicas | None = None) -> None:
        self._r = r
        self._replicas = replicas
        self._source = source
        self._sha = hashlib.sha1(source.encode()).hexdigest()
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
        async with self._r.pipeline(transaction=False) as pipe:
            for keys, args, _ in batch:
                pipe.evalsha(self._sha, len(keys), *keys, *args)
            if self._replicas:
                pipe.wait(self._replicas.count, self._replicas.timeout_ms)
            results: list[Any] = await pipe.execute(raise_on_error=False)
        if self._replicas:
            acked = results.pop()
            if isinstance(acked, Exception):
                raise acked
            if acked < self._replicas.count:
                raise NotReplicated(f'{acked} of {self._replicas.count} replicas confirmed')
        if any(isinstance(x, NoScriptError) for x in results):
            await self._r.script_load(self._source)
            retry = [i for i, x in enumerate(results) if isinstance(x, NoScriptError)]
            again = await self._run([batch[i] for i in retry])
            for i, x in zip(retry, again, strict=True):
                results[i] = x
        return results


class Intake:
    def __init__(self, r: Redis, cfg: RestaurantConfig, replicas: Replicas | None = None) -> None:
        self._r = r
        self._cfg = cfg
        self._script = ScriptBatcher(r, LUA, replicas)
        self._pricing = Pricing(cfg)
        # dish id -> the price override last seen ('' for none); the script checks it.
        self._prices: dict[str, str] = {}
        self.groups_ready = False
        # Most of what an order writes is the same for every order: worked out once, here and
        # per kind of line (`_line_jobs`), and only the order's own values filled in.
        self._line_kinds: dict[tuple[str, tuple[tuple[str, str], ...]], _LineJobs] = {}
        self._order_hash = changes(
            OrderRecord,
            id='',
            table_id='',
            status=orders.RECEIVED,
            total=0,
            currency=cfg.restaurant.currency,
            jobs_total=0,
            jobs_cooked=0,
            created_at=0,
            updated_at=0,
        )
        self._accepted = feed.entry_fields(FeedEvent('', 'order.accepted', 0, '', orders.RECEIVED))
        self._seated = feed.template('table.seated')

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
        job_pairs: list[list[str]] = []
        job_keys: list[str] = []
        stock_lines: list[dict[str, Any]] = []
        for li, line in enumerate(priced.lines):
            kind = self._line_jobs(line)
            if kind.uses:
                stock_lines.append({'dish': kind.dish, 'qty': line['quantity'], 'uses': kind.uses})
            job_slot, order_slot, table_slot, line_slot = kind.slots
            for unit in range(line['quantity']):
                job_id = ids.job_id(order_id, li, unit)
                pairs = kind.job.copy()
                pairs[job_slot], pairs[order_slot] = job_id, order_id
                pairs[table_slot], pairs[line_slot] = table_id, str(li)
                job_pairs.append(pairs)
                job_keys += [keys.job(job_id), kind.stream]
        # orjson writes these str and int values as feed.event's json.dumps does, faster.
        data = {'table_id': table_id, 'total': priced.total, 'jobs': len(job_pairs)}
        event = {
            **self._accepted,
            'order_id': order_id,
            'at': str(at),
            'data': orjson.dumps(data).decode(),
        }
        lines = orjson.dumps(priced.lines)
        response = orjson.dumps(
            {
                'id': order_id,
                'table_id': table_id,
                'status': orders.RECEIVED,
                'lines': orjson.Fragment(lines),
                'total': priced.total,
                'currency': self._cfg.restaurant.currency,
                'created_at': at,
            }
        )
        # `lines` goes as an argument of its own (below).
        order_hash = {
            **self._order_hash,
            'id': order_id,
            'table_id': table_id,
            'total': str(priced.total),
            'jobs_total': str(len(job_pairs)),
            'created_at': str(at),
            'updated_at': str(at),
        }
        # The big strings (lines, response) go as arguments of their own, so that neither is
        # escaped into the payload and decoded again by the script.
        payload = {
            'order': _flat(order_hash),
            'score': str(at),
            'order_id': order_id,
            'event': _flat(event),
            'dishes': priced.dish_ids,
            'prices': [str(priced.overrides.get(d, '')) for d in priced.dish_ids],
            'ttl': IDEMPOTENCY_TTL_S,
            'feed_maxlen': str(feed.FEED_MAXLEN),
            'session': self._session_args(table_id, visit, at, len(job_pairs)),
            'jobs': job_pairs,
            'entry_len': ENTRY_LEN,
            'stock': {
                'lines': stock_lines,
                'move': stock.sale_fields(order_id, table_id),
                'ev': stock.event_args(at),
            },
        }
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
        result = await self._script(
            keys=script_keys, args=[order.body_hash(), response, lines, orjson.dumps(payload)]
        )
        outcome = Outcome(result[0], result[1] if len(result) > 1 else '')
        if outcome.kind == 'created':
            log.info(
                'order accepted',
                extra={
                    'order_id': order_id,
                    'table_id': table_id,
                    'total': priced.total,
                    'jobs': len(job_pairs),
                },
            )
        return outcome

    def _line_jobs(self, line: dict[str, Any]) -> _LineJobs:
        """The jobs of one kind of priced line, from its first unit's as `cook_entries` and
        `_job_hash` make it; the ids and the line number are blanks filled in per unit."""
        key = (line['dish_id'], tuple(line['options'].items()))
        known = self._line_kinds.get(key)
        if known is not None:
            return known
        entry = cook_entries(self._cfg, '', '', [{**line, 'quantity': 1}])[0]
        job = self._job_hash(entry)
        names = list(job)
        job_slot, order_slot, table_slot, line_slot = (
            2 * names.index(name) + 1 for name in _JOB_BLANKS
        )
        uses = stock.intake_args(self._cfg, [line])
        kind = _LineJobs(
            dish=entry.dish_id,
            stream=jobs.stream(entry.station),
            job=_flat(job),
            slots=(job_slot, order_slot, table_slot, line_slot),
            uses=uses[0]['uses'] if uses else [],
        )
        if len(self._line_kinds) < MAX_CACHED_LINES:
            self._line_kinds[key] = kind
        return kind

    def _job_hash(self, e: CookEntry) -> dict[str, str]:
        """A new job's hash, with what the dish takes from stock (given back if cancelled)."""
        uses = stock.job_uses(self._cfg, e.dish_id, recipes.parse_options(e.options))
        return {**jobs.new_job(e), **changes(jobs.JobRecord, uses=uses)}

    def _session_args(
        self, table_id: str, visit: int | None, at: int, dishes: int
    ) -> dict[str, Any]:
        """The script's `session` argument (see intake.lua, "Dining session")."""
        service = self._cfg.service
        return {
            'visit': -1 if visit is None else visit,
            'id': ids.new_session_id(),
            'table_id': table_id,
            'at': str(at),
            'minute': at // 60_000,
            'per_minute': service.orders_per_minute,
            'max_dishes': service.dishes_per_session,
            'dishes': dishes,
            'seated_event': _flat({**self._seated, 'at': str(at)}),
        }


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
