"""Copy finished records from Redis into the archive: idempotent and crash-safe.

Each batch is one SQL transaction holding its rows and the cursor that says how far the copy
got, so a process killed mid-batch leaves the previous batch's state: the next run copies that
batch again. Every row has the record's own id as its primary key and is inserted with "on
conflict do nothing" (payments and trips, which can still change, "do update"), so a record
copied twice is stored once. Nothing is lost, nothing is stored twice.

- orders (with their dish jobs and ready / left-the-pass / served times): scanned from the
  `orders_upto` mark on (creation time); final orders are copied; the mark moves to the oldest
  order still open, never closer than `MARGIN_MS` to now (an order being placed this moment);
- trips done (or abandoned: their lease long gone), settled payments, closed dining sessions:
  everything still in Redis, upserted;
- stock movements and the audit trail: by stream entry id (`stock_moves`, `audit` cursors);
  86 events (by the stock, or an operator's `dish.soldout` / `dish.available`) go to
  `menu_events` too. Archived stock movements older than the retention period leave Redis.

After a pass, `rd:archive:upto` (store/history.py) tells retention how far it may trim.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from redis.asyncio import Redis
from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from orchestrator.archive import schema
from orchestrator.archive.db import get_state, insert_rows, set_state, when
from orchestrator.config import RestaurantConfig
from orchestrator.store import history, stock
from orchestrator.store.audit import AuditEntry
from orchestrator.store.feed import now_ms
from orchestrator.store.history import FinishedOrder
from orchestrator.store.orders import OrderRecord
from orchestrator.store.stock import StockMove
from orchestrator.store.trips import DONE

log = logging.getLogger(__name__)

T = TypeVar('T')
# An order placed this long ago is surely in its table's index: the mark never comes closer.
MARGIN_MS = 60_000
DAY_MS = 24 * 3600 * 1000
Rows = dict[Any, list[dict[str, Any]]]


@dataclass
class Copied:
    """How many records a pass copied (including ones already there: the copy is idempotent)."""

    orders: int = 0
    dishes: int = 0
    trips: int = 0
    payments: int = 0
    sessions: int = 0
    stock_moves: int = 0
    audit: int = 0
    upto: int = 0

    def summary(self) -> str:
        counts = ', '.join(f'{getattr(self, f.name)} {f.name}' for f in fields(self)[:-1])
        return f'archived {counts}; up to {self.upto}'


def _stream_id_ms(entry_id: str) -> int:
    return int(entry_id.split('-', 1)[0])


def order_rows(done: Iterable[FinishedOrder], demo: bool = False) -> Rows:
    orders, dishes = [], []
    for f in done:
        o = f.order
        orders.append(
            {
                'id': o.id,
                'table_id': o.table_id,
                'session_id': o.session_id,
                'status': o.status,
                'total': o.total,
                'currency': o.currency,
                'dishes': o.jobs_total,
                'created_at': o.created_at,
                'finished_at': o.updated_at,
                **f.stamps,
                **when(o.created_at, demo),
            }
        )
        for j in f.jobs:
            dishes.append(
                {
                    'job_id': j.job_id,
                    'order_id': o.id,
                    'dish_id': j.dish_id,
                    'station': j.station,
                    'options': ','.join(j.options),
                    'status': j.status,
                    'robot': j.robot,
                    'ordered_at': o.created_at,
                    'started_at': j.claimed_at,
                    'cooked_at': j.cooked_at,
                    'cook_time_s': round(j.cook_time_s),
                    **when(o.created_at, demo),
                }
            )
    return {schema.orders: orders, schema.dishes: dishes}


def move_rows(moves: Iterable[tuple[str, StockMove]], demo: bool = False) -> Rows:
    rows, events = [], []
    for entry_id, m in moves:
        common = {
            'entry_id': entry_id,
            'kind': m.kind,
            'at': m.at,
            'by': m.by,
            'why': m.why,
            'order_id': m.order_id,
            'job_id': m.job_id,
            'dish_id': m.dish_id,
            **when(m.at, demo),
        }
        if m.kind in (stock.OUT, stock.BACK):
            rows.append({**common, 'ingredient': m.why, 'amount': 0})
            events.append(
                {
                    'id': f's:{entry_id}',
                    'at': m.at,
                    'dish_id': m.dish_id,
                    'soldout': m.kind == stock.OUT,
                    'source': 'stock',
                    'by': m.by,
                    'why': f'{m.why} ran out' if m.kind == stock.OUT else 'restocked',
                    **when(m.at, demo),
                }
            )
            continue
        rows.extend({**common, 'ingredient': i, 'amount': a} for i, a in m.items.items())
    return {schema.stock_moves: rows, schema.menu_events: events}


def audit_rows(entries: Iterable[tuple[str, AuditEntry]]) -> Rows:
    rows, events = [], []
    for entry_id, a in entries:
        rows.append(
            {
                'id': entry_id,
                'at': a.at,
                'who': a.who,
                'action': a.action,
                'target': a.target,
                'result': a.result,
                'detail': a.detail,
            }
        )
        if a.action in ('dish.soldout', 'dish.available') and a.result == 'ok':
            events.append(
                {
                    'id': f'a:{entry_id}',
                    'at': a.at,
                    'dish_id': a.target,
                    'soldout': a.action == 'dish.soldout',
                    'source': 'operator',
                    'by': a.who,
                    'why': a.detail,
                    **when(a.at),
                }
            )
    return {schema.audit: rows, schema.menu_events: events}


class Archiver:
    def __init__(
        self,
        r: Redis,
        engine: Engine,
        cfg: RestaurantConfig,
        batch: int = 200,
        keep_moves_days: float = 7.0,
        margin_ms: int = MARGIN_MS,
    ) -> None:
        self._r = r
        self._engine = engine
        self._tables = [t.id for t in cfg.tables]
        self._batch = batch
        self._keep_moves_ms = int(keep_moves_days * DAY_MS)
        self._margin_ms = margin_ms

    async def _sql(self, fn: Callable[..., T], *args: Any) -> T:
        # SQL runs in a worker thread: the API's event loop is never blocked by the archive.
        return await asyncio.to_thread(fn, *args)

    def _write(self, rows: Rows, marks: dict[str, str], update: Sequence[Any] = ()) -> None:
        """One transaction: the rows and the cursors that cover them."""
        with self._engine.begin() as conn:
            for table, values in rows.items():
                insert_rows(conn, table, values, update=table in update)
            for name, value in marks.items():
                set_state(conn, name, value)

    def _state(self, name: str, default: str) -> str:
        with self._engine.connect() as conn:
            return get_state(conn, name, default)

    def _present(self, column: Any, values: list[str]) -> set[str]:
        with self._engine.connect() as conn:
            return set(_present(conn, column, values))

    async def run_once(self) -> Copied:
        out = Copied()
        out.upto = await self._orders(out)
        await self._trips(out)
        await self._payments(out)
        await self._sessions(out)
        await self._stock(out)
        await self._audit(out)
        await history.set_archived_up_to(self._r, out.upto)
        return out

    async def _orders(self, out: Copied) -> int:
        mark = int(await self._sql(self._state, 'orders_upto', '0'))
        horizon = now_ms() - self._margin_ms
        order_ids = await history.orders_since(self._r, self._tables, mark)
        first_open: int | None = None
        for start in range(0, len(order_ids), self._batch):
            chunk = order_ids[start : start + self._batch]
            records = [o for o in await history.finished_orders(self._r, chunk) if o]
            opened = [o.created_at for o in records if not o.final]
            if opened and first_open is None:
                first_open = min(opened)
            done = await self._new_final(records)
            details = await history.with_details(self._r, done)
            reached = (
                first_open
                if first_open is not None
                else records[-1].created_at
                if records
                else mark
            )
            mark = max(mark, min(reached, horizon))
            rows = order_rows(details)
            await self._sql(self._write, rows, {'orders_upto': str(mark)})
            out.orders += len(rows[schema.orders])
            out.dishes += len(rows[schema.dishes])
        if first_open is None:
            mark = max(mark, horizon)
            await self._sql(self._write, {}, {'orders_upto': str(mark)})
        return mark

    async def _new_final(self, records: list[OrderRecord]) -> list[OrderRecord]:
        final = [o for o in records if o.final]
        there = await self._sql(self._present, schema.orders.c.id, [o.id for o in final])
        return [o for o in final if o.id not in there]

    async def _trips(self, out: Copied) -> None:
        now = now_ms()
        rows = []
        for t in await history.trip_records(self._r):
            abandoned = t.status != DONE and t.lease_until < now - self._margin_ms
            if t.status != DONE and not abandoned:
                continue
            rows.append(
                {
                    'trip_id': t.trip_id,
                    'robot_id': t.robot_id,
                    'status': t.status,
                    'outcome': t.outcome or ('abandoned' if abandoned else ''),
                    'orders': len(t.orders),
                    'stops': len(t.stops),
                    'created_at': t.created_at,
                    'finished_at': t.finished_at,
                    **when(t.created_at),
                }
            )
        await self._sql(self._write, {schema.trips: rows}, {}, [schema.trips])
        out.trips = len(rows)

    async def _payments(self, out: Copied) -> None:
        rows = [
            {
                'id': p.id,
                'session_id': p.session_id,
                'table_id': p.table_id,
                'amount': p.amount,
                'currency': p.currency,
                'status': p.status,
                'provider': p.provider,
                'created_at': p.created_at,
                'paid_at': p.paid_at,
                'refunded_at': p.refunded_at,
                **when(p.paid_at or p.created_at),
            }
            for p in await history.payment_records(self._r)
        ]
        await self._sql(self._write, {schema.payments: rows}, {}, [schema.payments])
        out.payments = len(rows)

    async def _sessions(self, out: Copied) -> None:
        rows = [
            {
                'id': s.id,
                'table_id': s.table_id,
                'party_size': s.party_size,
                'opened_at': s.opened_at,
                'closed_at': s.closed_at,
                'orders': s.orders,
                'total': s.total,
                'paid_total': s.paid_total,
                **when(s.opened_at),
            }
            for s in await history.closed_sessions(self._r)
        ]
        await self._sql(self._write, {schema.sessions: rows}, {})
        out.sessions = len(rows)

    async def _stock(self, out: Copied) -> None:
        cursor = await self._sql(self._state, 'stock_moves', '0-0')
        while batch := await stock.read_after(self._r, cursor, self._batch):
            cursor = batch[-1][0]
            await self._sql(self._write, move_rows(batch), {'stock_moves': cursor})
            out.stock_moves += len(batch)
        if cursor != '0-0':
            keep_from = now_ms() - self._keep_moves_ms
            oldest_kept = min(_stream_id_ms(cursor), keep_from)
            await stock.trim_before(self._r, f'{oldest_kept}-0')

    async def _audit(self, out: Copied) -> None:
        cursor = await self._sql(self._state, 'audit', '0-0')
        while batch := await history.audit_after(self._r, cursor, self._batch):
            cursor = batch[-1][0]
            await self._sql(self._write, audit_rows(batch), {'audit': cursor})
            out.audit += len(batch)


def _present(conn: Connection, column: Any, values: list[str]) -> list[str]:
    if not values:
        return []
    return [str(v) for v in conn.execute(select(column).where(column.in_(values))).scalars()]
