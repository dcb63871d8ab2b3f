"""Orders as the diner sends them: the request schema, validation against the menu, pricing.

Pure functions over RestaurantConfig (no I/O), so the API router stays thin and every rule is
unit-tested. Prices are integers in the currency's minor units; a manager's price override
(`rd:price:{dish}`) replaces the dish's base price, option deltas add to it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict

from orchestrator.config import Dish, RestaurantConfig

MAX_LINES = 30
MAX_QUANTITY = 20
MAX_NOTE = 200
MAX_BODY_BYTES = 64 * 1024
IDEMPOTENCY_KEY = re.compile(r'^[A-Za-z0-9_-]{8,64}$')


# Control characters (a tab or a newline aside), C1 ones (U+0085, the 8-bit CSI U+009B) included:
# a note is shown on the kitchen's tickets.
CONTROL = re.compile(r'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]')
# Bidirectional overrides, embeddings and isolates: they make a note read otherwise than it is
# written ('no peanuts' shown as 'extra peanuts' backwards).
BIDI = re.compile('[\u202a-\u202e\u2066-\u2069]')


def _printable(note: str) -> str:
    if CONTROL.search(note):
        raise ValueError('control characters are not allowed in a note')
    if BIDI.search(note):
        raise ValueError('text-direction control characters are not allowed in a note')
    return note


class LineIn(BaseModel):
    """One line of an order: a dish, how many, the chosen options and a note for the kitchen."""

    model_config = ConfigDict(
        extra='forbid',
        json_schema_extra={
            'examples': [
                {
                    'dish_id': 'kungpao',
                    'quantity': 2,
                    'options': {'spice': 'hot', 'size': 'large'},
                    'note': 'no peanuts',
                }
            ]
        },
    )

    dish_id: Annotated[str, Field(min_length=1, max_length=40)]
    quantity: Annotated[int, Strict(), Field(ge=1, le=MAX_QUANTITY)]
    # option id -> choice id; options left out get the dish's default choice.
    options: Annotated[dict[str, str], Field(max_length=20)] = {}
    note: Annotated[str, Field(max_length=MAX_NOTE), AfterValidator(_printable)] = ''


class OrderIn(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
        json_schema_extra={
            'examples': [
                {
                    'items': [
                        {
                            'dish_id': 'kungpao',
                            'quantity': 2,
                            'options': {'spice': 'hot'},
                            'note': '',
                        },
                        {'dish_id': 'iced-tea', 'quantity': 1, 'options': {'ice': 'less'}},
                    ]
                }
            ]
        },
    )

    items: Annotated[list[LineIn], Field(min_length=1, max_length=MAX_LINES)]

    def body_hash(self) -> str:
        """Hash of the order's meaning (not its bytes): same order, same hash."""
        canonical = orjson.dumps(self.model_dump(), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(canonical).hexdigest()


class OrderRejected(Exception):
    """An order that cannot be taken; `field` names the offending part of the request."""

    def __init__(self, field: str, message: str, reason: str, status: int = 422) -> None:
        super().__init__(f'{field}: {message}')
        self.field = field
        self.message = message
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class PricedOrder:
    lines: list[dict[str, Any]]
    total: int
    dish_ids: list[str]
    # The manager's price overrides used (dish id -> price), for the intake script to verify.
    overrides: dict[str, int]


def sold_out(field: str, dish_id: str) -> OrderRejected:
    return OrderRejected(field, f'{dish_id!r} is sold out', 'sold_out')


# At most this many (dish, options) lines are kept priced; options are the diner's, so the
# combinations they can send are bounded by the menu but may be many.
MAX_CACHED_LINES = 4096


# A priced line before quantities and overrides: the dish, its names, the options with their
# defaults filled in and the sum of their price deltas.
_Line = tuple[Dish, dict[str, str], dict[str, str], int]


class Pricing:
    """Prices orders against one config, working out each (dish, chosen options) once.

    What a line costs before overrides and quantities (the options with their defaults filled
    in and the sum of their price deltas) only depends on the config, so it is cached.
    """

    def __init__(self, cfg: RestaurantConfig) -> None:
        self._cfg = cfg
        # (dish id, the options as sent) -> the line
        self._lines: dict[tuple[str, tuple[tuple[str, str], ...]], _Line] = {}

    def price(self, order: OrderIn, prices: Mapping[str, int] | None = None) -> PricedOrder:
        """Validate every line against the menu and price it; raises OrderRejected.

        Dishes 86'd during service (`rd:soldout`) are refused by the intake script, atomically
        with the write, so that a replayed request still gets its first response.
        """
        prices = prices or {}
        lines: list[dict[str, Any]] = []
        total = 0
        for i, item in enumerate(order.items):
            dish, name, options, delta = self._line(i, item)
            unit = prices.get(dish.id, dish.price) + delta
            total += unit * item.quantity
            lines.append(
                {
                    'dish_id': dish.id,
                    'name': dict(name),
                    'station': dish.station,
                    'quantity': item.quantity,
                    'options': dict(options),
                    'note': item.note,
                    'unit_price': unit,
                    'line_total': unit * item.quantity,
                }
            )
        dish_ids = list(dict.fromkeys(line['dish_id'] for line in lines))
        return PricedOrder(
            lines=lines,
            total=total,
            dish_ids=dish_ids,
            overrides={d: prices[d] for d in dish_ids if d in prices},
        )

    def _line(self, i: int, item: LineIn) -> _Line:
        key = (item.dish_id, tuple(item.options.items()))
        line = self._lines.get(key)
        if line is not None:
            return line
        field = f'items[{i}]'
        dish = self._cfg.dish_by_id.get(item.dish_id)
        if dish is None:
            raise OrderRejected(
                f'{field}.dish_id', f'unknown dish {item.dish_id!r}', 'unknown_dish'
            )
        if not dish.available:
            raise sold_out(f'{field}.dish_id', dish.id)
        options, delta = _choose(dish, item.options, f'{field}.options')
        line = (dish, dish.name.model_dump(), options, delta)
        if len(self._lines) < MAX_CACHED_LINES:
            self._lines[key] = line
        return line


def price_order(
    cfg: RestaurantConfig, order: OrderIn, prices: Mapping[str, int] | None = None
) -> PricedOrder:
    """`Pricing(cfg).price(order, prices)`, for a single order."""
    return Pricing(cfg).price(order, prices)


def _choose(dish: Dish, chosen: Mapping[str, str], field: str) -> tuple[dict[str, str], int]:
    for option_id in chosen:
        if dish.option(option_id) is None:
            raise OrderRejected(
                f'{field}.{option_id}',
                f'dish {dish.id!r} has no option {option_id!r}',
                'unknown_option',
            )
    options, delta = {}, 0
    for opt in dish.options:
        choice_id = chosen.get(opt.id, opt.default)
        choice = next((c for c in opt.choices if c.id == choice_id), None)
        if choice is None:
            raise OrderRejected(
                f'{field}.{opt.id}',
                f'option {opt.id!r} has no choice {choice_id!r}',
                'unknown_choice',
            )
        options[opt.id] = choice.id
        delta += choice.price_delta
    return options, delta


def valid_idempotency_key(key: str | None) -> bool:
    return key is not None and IDEMPOTENCY_KEY.fullmatch(key) is not None
