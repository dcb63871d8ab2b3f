"""The archive's tables (SQLAlchemy Core). Times are ms since the epoch; `day` (YYYY-MM-DD) and
`hour` (0-23) are the restaurant's local time when it happened, so reports group without date
functions that differ between SQLite and PostgreSQL. `demo` marks generated demo history.

A change here needs a migration in `migrations/versions/` (`tests/test_archive.py` checks that
the migrated schema matches these tables)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()


def _when() -> list[Column[object]]:
    return [
        Column('day', String(10), nullable=False, index=True),
        Column('hour', Integer, nullable=False),
        Column('demo', Boolean, nullable=False, default=False),
    ]


orders = Table(
    'orders',
    metadata,
    Column('id', String(64), primary_key=True),
    Column('table_id', String(40), nullable=False),
    Column('session_id', String(64), nullable=False, default=''),
    Column('status', String(16), nullable=False),
    Column('total', BigInteger, nullable=False),
    Column('currency', String(3), nullable=False),
    Column('dishes', Integer, nullable=False),
    Column('created_at', BigInteger, nullable=False),
    # When the last dish was cooked, when a robot took it from the pass, when it was served.
    Column('ready_at', BigInteger, nullable=False, default=0),
    Column('left_at', BigInteger, nullable=False, default=0),
    Column('served_at', BigInteger, nullable=False, default=0),
    Column('finished_at', BigInteger, nullable=False),
    *_when(),
)

dishes = Table(
    'dishes',
    metadata,
    Column('job_id', String(80), primary_key=True),
    Column('order_id', String(64), nullable=False, index=True),
    Column('dish_id', String(40), nullable=False),
    Column('station', String(40), nullable=False),
    Column('options', Text, nullable=False, default=''),
    Column('status', String(16), nullable=False),
    Column('robot', String(40), nullable=False, default=''),
    Column('ordered_at', BigInteger, nullable=False),
    Column('started_at', BigInteger, nullable=False, default=0),
    Column('cooked_at', BigInteger, nullable=False, default=0),
    Column('cook_time_s', Integer, nullable=False, default=0),
    *_when(),
)

trips = Table(
    'trips',
    metadata,
    Column('trip_id', String(64), primary_key=True),
    Column('robot_id', String(40), nullable=False),
    Column('status', String(16), nullable=False),
    Column('outcome', String(40), nullable=False, default=''),
    Column('orders', Integer, nullable=False),
    Column('stops', Integer, nullable=False),
    Column('created_at', BigInteger, nullable=False),
    Column('finished_at', BigInteger, nullable=False, default=0),
    *_when(),
)

payments = Table(
    'payments',
    metadata,
    Column('id', String(64), primary_key=True),
    Column('session_id', String(64), nullable=False),
    Column('table_id', String(40), nullable=False),
    Column('amount', BigInteger, nullable=False),
    Column('currency', String(3), nullable=False),
    Column('status', String(16), nullable=False),
    Column('provider', String(40), nullable=False, default=''),
    Column('created_at', BigInteger, nullable=False),
    Column('paid_at', BigInteger, nullable=False, default=0),
    Column('refunded_at', BigInteger, nullable=False, default=0),
    *_when(),
)

sessions = Table(
    'sessions',
    metadata,
    Column('id', String(64), primary_key=True),
    Column('table_id', String(40), nullable=False),
    Column('party_size', Integer, nullable=False, default=0),
    Column('opened_at', BigInteger, nullable=False),
    Column('closed_at', BigInteger, nullable=False, default=0),
    Column('orders', Integer, nullable=False, default=0),
    Column('total', BigInteger, nullable=False, default=0),
    Column('paid_total', BigInteger, nullable=False, default=0),
    *_when(),
)

# One row per ingredient of a movement (out/back rows: the dish and the ingredient that ran
# out, amount 0).
stock_moves = Table(
    'stock_moves',
    metadata,
    Column('entry_id', String(40), nullable=False),
    Column('ingredient', String(40), nullable=False),
    Column('kind', String(16), nullable=False),
    Column('amount', BigInteger, nullable=False),
    Column('at', BigInteger, nullable=False),
    Column('by', String(64), nullable=False, default=''),
    Column('why', Text, nullable=False, default=''),
    Column('order_id', String(64), nullable=False, default=''),
    Column('job_id', String(80), nullable=False, default=''),
    Column('dish_id', String(40), nullable=False, default=''),
    *_when(),
    PrimaryKeyConstraint('entry_id', 'ingredient'),
)

# A dish 86'd or back: by the stock (source 'stock') or an operator ('operator').
menu_events = Table(
    'menu_events',
    metadata,
    Column('id', String(48), primary_key=True),
    Column('at', BigInteger, nullable=False),
    Column('dish_id', String(40), nullable=False),
    Column('soldout', Boolean, nullable=False),
    Column('source', String(16), nullable=False),
    Column('by', String(64), nullable=False, default=''),
    Column('why', Text, nullable=False, default=''),
    *_when(),
)

audit = Table(
    'audit',
    metadata,
    Column('id', String(40), primary_key=True),
    Column('at', BigInteger, nullable=False),
    Column('who', String(64), nullable=False),
    Column('action', String(64), nullable=False),
    Column('target', Text, nullable=False),
    Column('result', Text, nullable=False),
    Column('detail', Text, nullable=False, default=''),
)

# The archiver's cursors (stream entry ids) and marks, committed with the rows they cover.
state = Table(
    'archive_state',
    metadata,
    Column('name', String(40), primary_key=True),
    Column('value', String(64), nullable=False),
)
