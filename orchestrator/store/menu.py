"""What changes on the menu during service: `rd:soldout` (86'd dishes) and `rd:price:{dish}`
(managers' price overrides). Each change is also a `menu.changed` feed event, which open diner
menus and consoles follow."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from orchestrator import redis_keys as keys
from orchestrator.store import feed


@dataclass(frozen=True)
class MenuState:
    soldout: Set[str]
    prices: Mapping[str, int]

    def view(self) -> dict[str, Any]:
        return {'soldout': sorted(self.soldout), 'prices': dict(self.prices)}


async def read_prices(r: Redis, dish_ids: Iterable[str]) -> dict[str, int]:
    """Price overrides of the given dishes (dishes without one are left out)."""
    ids = list(dish_ids)
    if not ids:
        return {}
    prices = await r.mget([keys.price(d) for d in ids])
    return {d: int(p) for d, p in zip(ids, prices, strict=True) if p is not None}


async def read_state(r: Redis, dish_ids: Iterable[str]) -> MenuState:
    return MenuState(
        soldout=frozenset(await r.smembers(keys.SOLDOUT)), prices=await read_prices(r, dish_ids)
    )


async def is_soldout(r: Redis, dish_id: str) -> bool:
    return bool(await r.sismember(keys.SOLDOUT, dish_id))


async def set_soldout(r: Redis, dish_id: str, soldout: bool, by: str) -> bool:
    """86 the dish (or bring it back); False, and nothing written, if it already was so and
    the operators' (two taps at once change it once). The stock's own 86 is taken over."""

    async def txn(pipe: Pipeline) -> bool:
        now = bool(await pipe.sismember(keys.SOLDOUT, dish_id))
        if now == soldout and not await pipe.sismember(keys.STOCK_OUT, dish_id):
            return False
        pipe.multi()
        (pipe.sadd if soldout else pipe.srem)(keys.SOLDOUT, dish_id)
        # An operator's 86 stays theirs: a restock no longer brings the dish back by itself.
        pipe.srem(keys.STOCK_OUT, dish_id)
        feed.add_event(pipe, 'menu.changed', {'dish_id': dish_id, 'by': by, 'soldout': soldout})
        return True

    return bool(await r.transaction(txn, keys.SOLDOUT, keys.STOCK_OUT, value_from_callable=True))


async def set_price(r: Redis, dish_id: str, price: int | None, shown: int, by: str) -> None:
    """Override the dish's price, or drop the override (None); `shown` is the price diners see
    from now on."""
    async with r.pipeline(transaction=True) as pipe:
        if price is None:
            pipe.delete(keys.price(dish_id))
        else:
            pipe.set(keys.price(dish_id), price)
        feed.add_event(pipe, 'menu.changed', {'dish_id': dish_id, 'by': by, 'price': shown})
        await pipe.execute()
