"""Ingredient stock: `rd:stock:levels`, `rd:stock:recipes`, `rd:stock:out`, `rd:stock:moves`.

Levels are exact integers in each ingredient's unit (g, ml, pc). They change only in Lua
scripts that also record the movement on `rd:stock:moves` and keep the automatic 86 in step
(`lua/stock_lib.lua`): the intake script takes an order's ingredients in the step that stores it
(or refuses the order, naming the dish), `settle` runs restocks, counts, cancelled dishes given
back and waste. A dish whose stock can no longer make one unit (default options) goes into
`rd:soldout` — the set the manual 86 uses, so diners' menus follow it the same way — and into
`rd:stock:out`, which marks it as the stock's doing: it comes back by itself when restocked,
while a dish an operator 86'd stays 86'd.

Movements: sale (an order, items negative), return (a cancelled dish not started, positive),
waste (a cancelled dish that was cooking: recorded, the stock was already taken), restock
(positive), count (a correction: the difference to the level counted), out / back (a dish 86'd
or back, with the ingredient that ran out). The archive copies them and trims the stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.recipes import Uses, kitchen
from orchestrator.store import feed
from orchestrator.store.feed import now_ms
from orchestrator.store.records import from_fields, to_fields
from orchestrator.texts import Refused


def _lua(name: str) -> str:
    return resources.files('orchestrator').joinpath(f'store/lua/{name}').read_text('utf-8')


# Loaded in front of intake.lua and stock_settle.lua.
LIB = _lua('stock_lib.lua')
SETTLE = LIB + _lua('stock_settle.lua')
KEYS = [
    keys.STOCK_LEVELS,
    keys.STOCK_RECIPES,
    keys.STOCK_OUT,
    keys.SOLDOUT,
    keys.FEED,
    keys.STOCK_MOVES,
]
STREAM = keys.STOCK_MOVES
# The keys intake.lua takes for stock (just before the session key; see its "Stock" block).
INTAKE_KEYS = [keys.STOCK_LEVELS, keys.STOCK_RECIPES, keys.STOCK_OUT, keys.STOCK_MOVES]
SALE, RETURN, WASTE, RESTOCK, COUNT, OUT, BACK = (
    'sale',
    'return',
    'waste',
    'restock',
    'count',
    'out',
    'back',
)
MoveKind = Literal['sale', 'return', 'waste', 'restock', 'count', 'out', 'back']


@dataclass(frozen=True)
class StockMove:
    """One entry of `rd:stock:moves`."""

    kind: str
    at: int
    # ingredient -> signed change of the level (waste: the amounts thrown away).
    items: dict[str, int] = field(default_factory=dict)
    by: str = ''
    why: str = ''
    order_id: str = ''
    job_id: str = ''
    dish_id: str = ''


def _flat(mapping: Mapping[str, str]) -> list[str]:
    return [x for pair in mapping.items() for x in pair]


def _move(**values: Any) -> dict[str, str]:
    fields = to_fields(StockMove(at=0, **values))
    del fields['at'], fields['items']
    return fields


def move_fields(**values: Any) -> list[str]:
    """A movement's name/value pairs but `at` and `items` (the scripts add those)."""
    return _flat(_move(**values))


def sale_fields(order_id: str, by: str) -> list[str]:
    """The name/value pairs of the sale every order records (intake.lua) but `at` and `items`:
    the fields a sale leaves at their defaults are left out (each costs the script an
    argument; `parse_move` defaults them)."""
    return ['kind', SALE, 'order_id', order_id, 'by', by]


# A menu.changed feed entry's fields but `data`, `at` filled in per call.
_MENU = feed.template('menu.changed')


def menu_fields(at: int) -> list[str]:
    """The name/value pairs of a menu.changed feed entry the stock makes, but its data."""
    return _flat({**_MENU, 'at': str(at)})


def event_args(at: int | None = None) -> dict[str, Any]:
    """The scripts' `ev` argument (see stock_lib.lua)."""
    at = at or now_ms()
    return {'at': str(at), 'maxlen': str(feed.FEED_MAXLEN), 'menu': menu_fields(at)}


def recipe_fields(cfg: RestaurantConfig) -> dict[str, str]:
    """`rd:stock:recipes`: 'u:{dish}' -> one unit's needs, 'd:{ingredient}' -> its dishes with
    what one unit of each needs of it."""
    k = kitchen(cfg)
    out = {
        f'u:{d}': ','.join(f'{i}={a}' for i, a in sorted(u.items()))
        for d, u in k.unit_uses().items()
    }
    units = k.unit_uses()
    out.update(
        {f'd:{i}': ','.join(f'{d}={units[d][i]}' for d in ds) for i, ds in k.users().items() if ds}
    )
    return out


async def _settle(
    r: Redis | Pipeline,
    mode: Literal['delta', 'count', 'record'],
    items: Mapping[str, int],
    fields: list[str],
    reconcile: Iterable[str] = (),
) -> Any:
    payload = {
        'mode': mode,
        'items': dict(items),
        'fields': fields,
        'ev': event_args(),
        'reconcile': sorted(reconcile),
    }
    # cjson turns an empty object into an empty table either way; the script reads it so.
    return await r.eval(SETTLE, len(KEYS), *KEYS, json.dumps(payload))


async def sync(r: Redis, cfg: RestaurantConfig) -> None:
    """At start-up: the config's recipes into Redis, opening levels (`par`) for ingredients
    Redis has never seen, and every counted dish 86'd or back as its stock says."""
    k = kitchen(cfg)
    recipes = recipe_fields(cfg)
    async with r.pipeline(transaction=True) as pipe:
        pipe.delete(keys.STOCK_RECIPES)
        if recipes:
            pipe.hset(keys.STOCK_RECIPES, mapping=recipes)
        for ing in k.ingredients:
            pipe.hsetnx(keys.STOCK_LEVELS, ing, k.amount(ing, 'par'))
        await pipe.execute()
    if k.ingredients:
        await _settle(r, 'delta', {}, move_fields(kind=COUNT), k.ingredients)


def floors(cfg: RestaurantConfig) -> dict[str, int]:
    """ingredient -> the most one unit of any dish (default options) needs of it: while its
    level stays at or above that, the automatic 86 has nothing to do for it."""
    k = kitchen(cfg)
    units = k.unit_uses()
    return {i: max((units[d][i] for d in ds), default=0) for i, ds in k.users().items()}


# An ingredient one unit of a dish needs: its id, the amount and its floor (`floors`).
UnitUse = tuple[str, int, int]


def intake_uses(cfg: RestaurantConfig, line: dict[str, Any]) -> list[UnitUse]:
    """What one unit of a priced line (a dish with its options) needs ([]: no recipe)."""
    uses = kitchen(cfg).uses(line['dish_id'], line.get('options') or {})
    below = floors(cfg) if uses else {}
    return [(i, amount, below[i]) for i, amount in sorted(uses.items())]


# A line as the stock sees it: its dish, quantity and `intake_uses`.
Take = tuple[str, int, list[UnitUse]]


def intake_args(lines: Iterable[Take]) -> list[Any]:
    """intake.lua's stock arguments for an order's lines: the count of ingredients it takes,
    then in name order each one's id, amount and floor, then the sale's items (JSON)."""
    need: dict[str, list[int]] = {}  # ingredient -> [amount, floor]
    for _, quantity, uses in lines:
        for ing, amount, floor in uses:
            if ing in need:
                need[ing][0] += quantity * amount
            else:
                need[ing] = [quantity * amount, floor]
    args: list[Any] = [len(need)]
    items = {}
    for ing in sorted(need):
        amount, floor = need[ing]
        args += (ing, amount, floor)
        items[ing] = -amount
    args.append(orjson.dumps(items))
    return args


def first_short(lines: Iterable[Take], levels: Iterable[str | None]) -> str:
    """The first dish, in line order, that stock cannot make: `levels` are those intake.lua
    refused the order with (of the ingredients `intake_args` listed, in name order)."""
    lines = list(lines)
    names = sorted({ing for _, _, uses in lines for ing, _, _ in uses})
    left = {i: int(v or 0) for i, v in zip(names, levels, strict=True)}
    for dish, quantity, uses in lines:
        for ing, amount, _ in uses:
            left[ing] -= quantity * amount
            if left[ing] < 0:
                return dish
    raise ValueError('stock refused an order it can make')


def job_uses(cfg: RestaurantConfig, dish_id: str, options: Mapping[str, str]) -> Uses:
    """What one cook job (a dish unit) took: given back if it is withdrawn, waste if it is
    cancelled while cooking."""
    return kitchen(cfg).uses(dish_id, options)


async def levels(r: Redis) -> dict[str, int]:
    return {i: int(v) for i, v in (await r.hgetall(keys.STOCK_LEVELS)).items()}


async def auto_out(r: Redis) -> set[str]:
    """Dishes 86'd by the stock (not by an operator)."""
    return set(await r.smembers(keys.STOCK_OUT))


class StockRefused(Refused):
    """A stock change refused (422), with the field to fix and the reason the console says in
    the operator's language."""

    def __init__(self, reason: str, field: str, ingredient: str = '') -> None:
        super().__init__(422, reason, field=field, ingredient=ingredient)


def _known(cfg: RestaurantConfig, ingredient: str) -> None:
    if ingredient not in kitchen(cfg).ingredients:
        raise StockRefused('no_ingredient', 'ingredient', ingredient=ingredient)


async def restock(
    r: Redis, cfg: RestaurantConfig, ingredient: str, amount: int, by: str, why: str
) -> int:
    """Add a delivery to the level; returns the new level."""
    _known(cfg, ingredient)
    if amount <= 0:
        raise StockRefused('not_positive', 'amount')
    out = await _settle(
        r, 'delta', {ingredient: amount}, move_fields(kind=RESTOCK, by=by, why=why)
    )
    return int(out[1])


async def count(
    r: Redis, cfg: RestaurantConfig, ingredient: str, level: int, by: str, why: str
) -> int:
    """Correct the level to what was counted; the movement records the difference."""
    _known(cfg, ingredient)
    if level < 0:
        raise StockRefused('negative_level', 'level')
    if not why.strip():
        raise StockRefused('say_why', 'why')
    out = await _settle(r, 'count', {ingredient: level}, move_fields(kind=COUNT, by=by, why=why))
    return int(out[1])


def on_cancel(
    pipe: Pipeline, uses: Mapping[str, int], wasted: bool, job: Mapping[str, str], by: str
) -> None:
    """Queue (in a cancel's MULTI) what a cancelled dish does to stock: not started -> its
    ingredients go back; cooking -> recorded as waste. `job`: order_id, job_id, dish_id."""
    if not uses:
        return
    fields = move_fields(kind=WASTE if wasted else RETURN, by=by, why='cancelled', **job)
    payload = {
        'mode': 'record' if wasted else 'delta',
        'items': dict(uses),
        'fields': fields,
        'ev': event_args(),
        'reconcile': [],
    }
    pipe.eval(SETTLE, len(KEYS), *KEYS, json.dumps(payload))


def parse_move(entry_id: str, fields: Mapping[str, str]) -> tuple[str, StockMove]:
    return entry_id, from_fields(StockMove, {'kind': '', 'at': '0', **fields})


async def moves(
    r: Redis, count: int = 100, kinds: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """The latest movements still in Redis, newest first (of `kinds` only, if given)."""
    wanted = set(kinds) if kinds is not None else None
    out: list[dict[str, Any]] = []
    last = '+'
    while len(out) < count:
        batch = await r.xrevrange(STREAM, last, '-', count=200)
        if last != '+':
            batch = batch[1:]
        if not batch:
            break
        for entry_id, fields in batch:
            _, m = parse_move(entry_id, fields)
            if wanted is None or m.kind in wanted:
                out.append({'id': entry_id, **to_view(m)})
        last = batch[-1][0]
    return out[:count]


def to_view(m: StockMove) -> dict[str, Any]:
    return {
        'kind': m.kind,
        'at': m.at,
        'items': m.items,
        'by': m.by,
        'why': m.why,
        'order_id': m.order_id,
        'job_id': m.job_id,
        'dish_id': m.dish_id,
    }


async def read_after(r: Redis, after: str, count: int) -> list[tuple[str, StockMove]]:
    """Movements after the entry id `after`, oldest first (the archive's cursor)."""
    got = await r.xrange(STREAM, f'({after}' if after != '0-0' else '-', '+', count=count)
    return [parse_move(i, f) for i, f in got]


async def trim_before(r: Redis, entry_id: str) -> int:
    """Drop movements older than `entry_id` (the archive holds them)."""
    return int(await r.xtrim(STREAM, minid=entry_id, approximate=False))
