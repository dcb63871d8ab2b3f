"""The menu the diner sees: the config's dishes with today's sold-out marks and price overrides."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig


@dataclass(frozen=True)
class MenuState:
    """What changes during service, read from Redis: 86'd dishes and manager prices."""

    soldout: Set[str]
    prices: Mapping[str, int]


async def read_prices(r: Redis, dish_ids: Iterable[str]) -> dict[str, int]:
    """Price overrides of the given dishes (dishes without one are left out)."""
    ids = list(dish_ids)
    if not ids:
        return {}
    prices = await r.mget([keys.price(d) for d in ids])
    return {d: int(p) for d, p in zip(ids, prices, strict=True) if p is not None}


async def read_state(r: Redis, dish_ids: Iterable[str]) -> MenuState:
    ids = list(dish_ids)
    return MenuState(
        soldout=frozenset(await r.smembers(keys.SOLDOUT)), prices=await read_prices(r, ids)
    )


def menu_payload(cfg: RestaurantConfig, state: MenuState) -> dict[str, Any]:
    """The menu by category, names in every language, with availability and current prices."""
    r = cfg.restaurant
    return {
        'restaurant': {
            'id': r.id,
            'name': r.name.model_dump(),
            'currency': r.currency,
            'currency_decimals': r.currency_decimals,
        },
        'categories': [
            {
                'id': c.id,
                'name': c.name.model_dump(),
                'dishes': [
                    {
                        'id': d.id,
                        'name': d.name.model_dump(),
                        'station': d.station,
                        'price': state.prices.get(d.id, d.price),
                        'allergens': list(d.allergens),
                        'available': d.available and d.id not in state.soldout,
                        'options': [o.model_dump() for o in d.options],
                    }
                    for d in cfg.dishes
                    if d.category == c.id
                ],
            }
            for c in cfg.categories
        ],
    }
