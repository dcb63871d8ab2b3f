"""intake.lua as one restaurant's Intake runs it: a Redis function library with what is the same
for every order written in.

Each argument of a script costs Redis about as much as a small write (it is parsed, copied
into Lua and collected again), so the record layouts of what an order writes (their field
names and constant values) and the restaurant's limits go into the source as Lua constants,
and only an order's own values (the templates' blanks) travel as arguments. A function library
(FUNCTION LOAD) rather than a script: its top level, the stock functions and those constants,
runs once when it is loaded, where a script would build them again on every call. The library
is named after its contents, which differ between configs, so processes with different configs
(a rolling change) do not replace each other's; Redis keeps it in its AOF and replicas.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from itertools import chain

from orchestrator.config import RestaurantConfig
from orchestrator.store import feed, jobs, orders, stock
from orchestrator.store.feed import FeedEvent
from orchestrator.store.jobs import CookEntry, JobRecord
from orchestrator.store.orders import OrderRecord
from orchestrator.store.records import Fields, changes

SCRIPT = resources.files('orchestrator').joinpath('store/lua/intake.lua').read_text('utf-8')
# How long a replayed request gets the first response back.
IDEMPOTENCY_TTL_S = 24 * 3600
# A job hash starts with its stream entry's one field (`jobs.new_job`): the script adds the
# entry from the first ENTRY_LEN names and values of the hash.
ENTRY_LEN = 2

# The blanks of each template, in the order the script takes their values.
ORDER_BLANKS = ('id', 'table_id', 'total', 'jobs_total', 'created_at', 'updated_at')
EVENT_BLANKS = ('order_id', 'at', 'data')
AT_BLANK = ('at',)
SALE_BLANKS = ('order_id', 'by')
# A job's: its packed entry first (one per dish unit), then what it takes from stock (one per
# line).
JOB_BLANKS = (jobs.ENTRY, 'uses')


@dataclass(frozen=True)
class Template:
    """Name/value pairs as the script holds them: constant values written in, the `blanks`
    (named) filled from its arguments in that order."""

    pairs: Fields
    blanks: tuple[str, ...]

    def lua(self) -> str:
        names = list(self.pairs)
        # Lua's index of each blank's value in the flat name/value list.
        at = ', '.join(str(2 * names.index(b) + 2) for b in self.blanks)
        flat = ', '.join(map(lua_string, chain.from_iterable(self.pairs.items())))
        return f'{{pairs = {{{flat}}}, blanks = {{{at}}}}}'


def lua_string(s: str) -> str:
    """A Lua string literal of `s`: anything but printable ASCII, quotes and backslashes as
    decimal escapes (`\\ddd`, a byte each, always three digits: a digit after a shorter one
    would be read as part of it), which Lua 5.1 reads whatever the byte."""
    plain = (chr(b) if 32 <= b < 127 and b not in b'"\'\\' else f'\\{b:03d}' for b in s.encode())
    return "'" + ''.join(plain) + "'"


def templates(cfg: RestaurantConfig) -> dict[str, Template]:
    """The templates of what every order of `cfg` writes, by the name the script knows."""
    order = changes(
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
    blank = CookEntry(job_id='', order_id='', table_id='', dish_id='', station='')
    job = {**jobs.new_job(blank), **changes(JobRecord, uses={})}
    assert list(job)[: ENTRY_LEN // 2] == [jobs.ENTRY]
    return {
        'order': Template(order, ORDER_BLANKS),
        'event': Template(
            feed.entry_fields(FeedEvent('', 'order.accepted', 0, '', orders.RECEIVED)),
            EVENT_BLANKS,
        ),
        'seated': Template(feed.template('table.seated'), AT_BLANK),
        'sale': Template(_pairs(stock.sale_fields('', '')), SALE_BLANKS),
        'menu': Template(_pairs(stock.menu_fields(0)), AT_BLANK),
        'job': Template(job, JOB_BLANKS),
    }


@dataclass(frozen=True)
class Library:
    """A function library for FUNCTION LOAD whose one function is called `name` too."""

    name: str
    source: str


def library(cfg: RestaurantConfig) -> Library:
    """The intake library for `cfg`: stock functions and constants at its top level, intake.lua
    the body of its function (which Redis calls with KEYS and ARGV)."""
    top = stock.LIB + _constants(cfg)
    name = 'robodine_intake_' + hashlib.sha1((top + SCRIPT).encode()).hexdigest()[:16]
    source = (
        f'#!lua name={name}\n{top}'
        f"redis.register_function('{name}', function(KEYS, ARGV)\n{SCRIPT}\nend)\n"
    )
    return Library(name, source)


def _constants(cfg: RestaurantConfig) -> str:
    service = cfg.service
    table = ', '.join(f'{name} = {t.lua()}' for name, t in templates(cfg).items())
    return (
        f'local T = {{{table}}}\n'
        f'local TTL, FEED_MAXLEN, ENTRY_LEN = {IDEMPOTENCY_TTL_S}, {feed.FEED_MAXLEN}, '
        f'{ENTRY_LEN}\n'
        f'local PER_MINUTE, MAX_DISHES = {int(service.orders_per_minute)}, '
        f'{int(service.dishes_per_session)}\n'
    )


def _pairs(flat: list[str]) -> Fields:
    return dict(zip(flat[0::2], flat[1::2], strict=True))
