"""The menu the diner sees: the config's dishes with today's sold-out marks and price overrides."""

from __future__ import annotations

from typing import Any

from orchestrator.config import RestaurantConfig
from orchestrator.store.menu import MenuState


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
