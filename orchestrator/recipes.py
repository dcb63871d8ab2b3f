"""What a dish takes from stock: recipes resolved to exact integer amounts per unit.

Amounts are in each ingredient's unit (g, ml, pc), already checked by the config
(`orchestrator/config.py`, `_check_kitchen_stock`). A dish's options may add to the recipe's
amounts or replace them (`RecipeChange`); options left out take their default choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from orchestrator.config import Ingredient, Recipe, RestaurantConfig, parse_amount

Uses = dict[str, int]


@dataclass(frozen=True)
class Kitchen:
    """The recipes and ingredients of one config, in exact amounts."""

    ingredients: dict[str, Ingredient]
    recipes: dict[str, Recipe]
    # dish -> options' default choices
    defaults: dict[str, dict[str, str]]

    def unit(self, ingredient: str) -> str:
        return self.ingredients[ingredient].unit

    def amount(self, ingredient: str, which: str) -> int:
        """The ingredient's `low_stock` or `par`, in its unit."""
        ing = self.ingredients[ingredient]
        return parse_amount(getattr(ing, which), ing.unit)

    def uses(self, dish_id: str, options: Mapping[str, str] | None = None) -> Uses:
        """One unit of the dish with these options (others at their default): ingredient ->
        amount, by ingredient id, without zero amounts; {} for a dish that has no recipe."""
        recipe = self.recipes.get(dish_id)
        if recipe is None:
            return {}
        chosen = {**self.defaults[dish_id], **(options or {})}
        out = {i: parse_amount(v, self.unit(i)) for i, v in recipe.uses.items()}
        for change in recipe.options:
            if chosen.get(change.option) != change.choice:
                continue
            for i, v in change.add.items():
                out[i] = out.get(i, 0) + parse_amount(v, self.unit(i))
            for i, v in change.set.items():
                out[i] = parse_amount(v, self.unit(i))
        return {i: a for i, a in sorted(out.items()) if a > 0}

    def unit_uses(self) -> dict[str, Uses]:
        """Every counted dish with its default options: what one more unit needs."""
        return {d: self.uses(d) for d in self.recipes}

    def users(self) -> dict[str, list[str]]:
        """ingredient -> the dishes whose default unit needs it."""
        out: dict[str, list[str]] = {i: [] for i in self.ingredients}
        for dish, uses in self.unit_uses().items():
            for i in uses:
                out[i].append(dish)
        return out


# id(config) -> (config, its kitchen): configs are frozen but not hashable (they hold lists).
_KITCHENS: dict[int, tuple[RestaurantConfig, Kitchen]] = {}


def kitchen(cfg: RestaurantConfig) -> Kitchen:
    known = _KITCHENS.get(id(cfg))
    if known is not None and known[0] is cfg:
        return known[1]
    k = Kitchen(
        ingredients={i.id: i for i in cfg.ingredients},
        recipes={r.dish: r for r in cfg.recipes},
        defaults={d.id: {o.id: o.default for o in d.options} for d in cfg.dishes},
    )
    _KITCHENS[id(cfg)] = (cfg, k)
    return k


def parse_options(pairs: list[str]) -> dict[str, str]:
    """A cook entry's 'option=choice' pairs as a mapping."""
    return dict(p.split('=', 1) for p in pairs if '=' in p)


def total(uses: list[Uses]) -> Uses:
    out: Uses = {}
    for u in uses:
        for i, a in u.items():
            out[i] = out.get(i, 0) + a
    return out
