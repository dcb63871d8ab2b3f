"""The restaurant's configuration (tables, menu, robots, floor graph), validated at load.

One YAML file describes one restaurant; `seeds/restaurant.yaml` is the demo. Every consumer —
the API, the dispatcher, the robot nodes, the Gazebo world writer and the rush simulator —
reads it through `load_restaurant`, so a typo is caught once, with the file and field named.
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
from array import array
from collections.abc import Callable, Container, Iterable, Sequence
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

Ident = Annotated[str, Field(pattern=r'^[a-z0-9][a-z0-9_-]{0,39}$')]
LANGS = ('ko', 'en', 'zh')
# The scheduling policies of orchestrator/dispatch/scheduling.py (a test keeps them equal).
PolicyName = Literal['legacy', 'fifo', 'srpt', 'srpt-fire']


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the field."""


class Strict(BaseModel):
    model_config = ConfigDict(extra='forbid', frozen=True)


class Names(Strict):
    """A name in each language the diner page offers."""

    ko: str = Field(min_length=1)
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


class Restaurant(Strict):
    id: Ident
    name: Names
    currency: Annotated[str, Field(pattern=r'^[A-Z]{3}$')] = 'KRW'
    # Minor units per major unit (KRW has none, USD has 100); prices are integers in minor units.
    currency_decimals: Annotated[int, Field(ge=0, le=3)] = 0


# A table's seats at most (a diner's party size is bounded by its table's).
MAX_SEATS = 20


class Table(Strict):
    id: Ident
    # In each language (`{ko, en, zh}`), or one name for all of them.
    name: Names

    @field_validator('name', mode='before')
    @classmethod
    def _one_name_for_all(cls, v: Any) -> Any:
        return dict.fromkeys(LANGS, v) if isinstance(v, str) else v

    seats: Annotated[int, Field(ge=1, le=MAX_SEATS)]
    x: float
    y: float
    # The floor-graph waypoint where a serving robot stops for this table.
    waypoint: Ident


class Station(Strict):
    id: Ident
    name: Names


class Category(Strict):
    id: Ident
    name: Names


class Choice(Strict):
    id: Ident
    name: Names
    price_delta: int = 0


class Option(Strict):
    id: Ident
    name: Names
    choices: Annotated[list[Choice], Field(min_length=1)]
    default: Ident

    @model_validator(mode='after')
    def _default_is_a_choice(self) -> Option:
        if self.default not in {c.id for c in self.choices}:
            raise ValueError(f'default {self.default!r} is not one of its choices')
        return self


Allergen = Literal[
    'gluten',
    'crustacean',
    'egg',
    'fish',
    'peanut',
    'soy',
    'milk',
    'nuts',
    'celery',
    'mustard',
    'sesame',
    'sulphite',
    'lupin',
    'mollusc',
    'pork',
    'beef',
    'chicken',
    'shellfish',
]


class Dish(Strict):
    id: Ident
    name: Names
    category: Ident
    station: Ident
    price: Annotated[int, Field(ge=0)]
    cook_time_s: Annotated[float, Field(gt=0, le=3600)]
    allergens: list[Allergen] = []
    options: list[Option] = []
    available: bool = True

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


class CookingRobot(Strict):
    id: Ident
    stations: Annotated[list[Ident], Field(min_length=1)]
    # How many dishes it cooks at once.
    capacity: Annotated[int, Field(ge=1, le=16)]
    # Where it stands (metres), for the floor map.
    x: float = 0.0
    y: float = 0.0


class ServingRobot(Strict):
    id: Ident
    trays: Annotated[int, Field(ge=1, le=8)] = 4
    speed_mps: Annotated[float, Field(gt=0, le=2.0)] = 1.0
    max_accel_mps2: Annotated[float, Field(gt=0, le=3.0)] = 0.5
    # Footprint radius, metres (BellaBot is ~0.27 m).
    radius_m: Annotated[float, Field(gt=0, le=1.0)] = 0.27
    dock: Ident
    # Where it charges (a waypoint of kind charger); default: the charger nearest its dock,
    # or the dock itself when the floor has none.
    charger: Ident | None = None
    # Charge when the robot starts (simulated battery; a real robot reports its own).
    battery_start: Annotated[float, Field(ge=0, le=1)] = 1.0


WaypointKind = Literal['pass', 'dock', 'charger', 'table', 'junction']


class Waypoint(Strict):
    id: Ident
    x: float
    y: float
    kind: WaypointKind = 'junction'


class Aisle(Strict):
    """An undirected edge of the floor graph that robots may drive along."""

    a: Ident
    b: Ident
    width_m: Annotated[float, Field(gt=0, le=10)]


class Wall(Strict):
    """A wall segment, for collision checks and the Gazebo world."""

    x1: float
    y1: float
    x2: float
    y2: float


MAX_WAYPOINTS = 1000


class Floor(Strict):
    width_m: Annotated[float, Field(gt=0)]
    depth_m: Annotated[float, Field(gt=0)]
    # Square table top edge, metres (for the map, collisions and Gazebo).
    table_size_m: Annotated[float, Field(gt=0)] = 0.8
    # At most MAX_WAYPOINTS: every shortest path between them is kept (10 bytes a pair).
    waypoints: Annotated[list[Waypoint], Field(min_length=2, max_length=MAX_WAYPOINTS)]
    aisles: Annotated[list[Aisle], Field(min_length=1)]
    walls: list[Wall] = []
    # Narrowest aisle a serving robot may take (BellaBot needs 0.7 m).
    min_aisle_m: Annotated[float, Field(gt=0)] = 0.7

    @cached_property
    def points(self) -> dict[str, Waypoint]:
        return {w.id: w for w in self.waypoints}

    @cached_property
    def pass_point(self) -> Waypoint:
        return next(w for w in self.waypoints if w.kind == 'pass')

    def nearest(self, x: float, y: float) -> str:
        """The waypoint nearest to (x, y)."""
        return min(self.waypoints, key=lambda w: math.hypot(w.x - x, w.y - y)).id

    @cached_property
    def _adjacent(self) -> dict[str, list[tuple[str, float]]]:
        """Each waypoint's drivable neighbours with their distances (the floor is fixed)."""
        out: dict[str, list[tuple[str, float]]] = {w.id: [] for w in self.waypoints}
        for aisle in self.aisles:
            if aisle.width_m >= self.min_aisle_m:
                d = self.distance(aisle.a, aisle.b)
                out[aisle.a].append((aisle.b, d))
                out[aisle.b].append((aisle.a, d))
        return out

    @cached_property
    def _widths(self) -> dict[frozenset[str], float]:
        out: dict[frozenset[str], float] = {}
        for aisle in self.aisles:
            ends = frozenset((aisle.a, aisle.b))
            out[ends] = max(aisle.width_m, out.get(ends, 0.0))
        return out

    @cached_property
    def _ids(self) -> list[str]:
        return [w.id for w in self.waypoints]

    @cached_property
    def _index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self._ids)}

    @cached_property
    def _adjacent_index(self) -> list[list[tuple[int, float]]]:
        return [[(self._index[b], d) for b, d in self._adjacent[a]] for a in self._ids]

    @cached_property
    def _shortest(self) -> tuple[array[int], array[float]]:
        """Every shortest drivable path, found at the first `path` or `length` (the floor is
        fixed, and the dispatcher asks for the same few thousand on every plan; a process that
        never plans never pays): a row per start of each
        waypoint's predecessor on the way there (by index; -1: unreached) and of the way's
        length. Packed, the flagship's 252 waypoints take 0.6 MB. One dict of ids per start,
        filled as starts came up, took 1.65 MB once all had, in every process that plans
        (each serving robot's too), and its growth looked like a leak in a long run."""
        prev, length = array('h'), array('d')
        for start in range(len(self._ids)):
            row_prev, row_length = self._dijkstra(start)
            prev.extend(row_prev)
            length.extend(row_length)
        return prev, length

    def width(self, a: str, b: str) -> float:
        """The widest aisle between waypoints `a` and `b` (m); 0 if none joins them."""
        return self._widths.get(frozenset((a, b)), 0.0)

    def neighbours(self, node: str) -> list[tuple[str, float]]:
        return list(self._adjacent.get(node, ()))

    def distance(self, a: str, b: str) -> float:
        pa, pb = self.points[a], self.points[b]
        return math.hypot(pa.x - pb.x, pa.y - pb.y)

    def path(self, start: str, goal: str) -> list[str]:
        """Shortest drivable path (Dijkstra over aisles wide enough); raises if none."""
        first = self._index.get(start, -1)
        prev, _ = self._shortest
        return self._walk(prev, first * len(self._ids), start, goal)

    def length(self, start: str, goal: str) -> float:
        """Length (m) of the shortest drivable path; raises if none."""
        first, last = self._index.get(start, -1), self._index.get(goal, -1)
        found = self._shortest[1][first * len(self._ids) + last] if first >= 0 <= last else None
        if found is None or found == math.inf:
            raise ValueError(f'no drivable path from {start!r} to {goal!r}')
        return found

    def check_reachable(self, start: str, goals: Iterable[str]) -> None:
        """Raises for the first of `goals` with no drivable path from `start`: one search, so
        that loading a config (every process does) does not find every path of the floor."""
        prev = self._dijkstra(self._index[start])[0]
        for goal in goals:
            self._walk(prev, 0, start, goal)

    def path_over(self, start: str, goal: str, usable: Callable[[str, str], bool]) -> list[str]:
        """Shortest drivable path over only the aisles a→b that `usable` accepts (traffic
        control asks it around what other robots hold); raises if none."""
        first = self._index.get(start, -1)
        prev = self._dijkstra(first, self._index.get(goal, -1), usable)[0] if first >= 0 else []
        return self._walk(prev, 0, start, goal)

    def _dijkstra(
        self, first: int, last: int = -1, usable: Callable[[str, str], bool] | None = None
    ) -> tuple[array[int], list[float]]:
        """From the waypoint of index `first`: each waypoint's predecessor (by index; -1: not
        reached) on a shortest path, and that path's length, until the waypoint of index
        `last` is settled (-1: every waypoint). A settled waypoint's chain is the same whenever
        the search stops."""
        ids = self._ids
        prev = array('h', [-1]) * len(ids)
        dist = [math.inf] * len(ids)
        dist[first] = 0.0
        heap = [(0.0, first)]
        while heap:
            d, node = heapq.heappop(heap)
            if node == last:
                break
            if d > dist[node]:
                continue
            for nxt, w in self._adjacent_index[node]:
                if d + w < dist[nxt] and (usable is None or usable(ids[node], ids[nxt])):
                    dist[nxt] = d + w
                    prev[nxt] = node
                    heapq.heappush(heap, (d + w, nxt))
        return prev, dist

    def _walk(self, prev: Sequence[int], row: int, start: str, goal: str) -> list[str]:
        """The path from `start` to `goal` back along the predecessors `prev[row:]`."""
        ids, path = self._ids, [goal]
        at, first = self._index.get(goal, -1), self._index.get(start, -1)
        if goal != start and (at < 0 or first < 0):
            raise ValueError(f'no drivable path from {start!r} to {goal!r}')
        while at != first:
            at = prev[row + at]
            if at < 0:
                raise ValueError(f'no drivable path from {start!r} to {goal!r}')
            path.append(ids[at])
        return path[::-1]

    def path_length(self, path: list[str]) -> float:
        return sum(self.distance(a, b) for a, b in itertools.pairwise(path))


class ServicePolicy(Strict):
    """Knobs of service that an owner tunes."""

    # Ticket age colours on the console, seconds since the order was accepted.
    age_warn_s: Annotated[float, Field(gt=0)] = 480
    age_late_s: Annotated[float, Field(gt=0)] = 900
    # How long a serving robot waits at a table for pickup before bringing the food back.
    pickup_timeout_s: Annotated[float, Field(gt=0)] = 120
    # A robot not heard for this long (real seconds) is *unreachable*: it gets no new work
    # but keeps what it has (a network cut: it goes on cooking and carrying).
    robot_unreachable_after_s: Annotated[float, Field(gt=0)] = 3
    # Not heard for this long, it is *lost*: its trips fail (lost in transit) and, once the
    # lease it was last given runs out, its dishes go to other robots.
    robot_lost_after_s: Annotated[float, Field(gt=0)] = 5
    # Attempts before a cook job goes to the dead-letter stream.
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    # Tables within this distance (metres) of each other may share a serving trip.
    batch_radius_m: Annotated[float, Field(gt=0)] = 4.0
    # Longest a ready order is held (simulated seconds, from when it was ready) for an order
    # of a table within the radius that is still cooking and due to be ready by then; 0 = never.
    batch_window_s: Annotated[float, Field(ge=0)] = 60
    # Which dish starts on which cooking robot (orchestrator/dispatch/scheduling.py).
    policy: PolicyName = 'srpt'
    # Serving robots ask the traffic controller before a narrow aisle or a junction
    # (orchestrator/traffic.py); a robot waiting longer than `traffic_stuck_s` (simulated) for
    # its grant counts as a deadlock in the traffic figures; one held up that long by another
    # robot (a traffic wait or its obstacle stop) gets a `robot_stuck` console alert.
    traffic_control: bool = False
    traffic_stuck_s: Annotated[float, Field(gt=0)] = 300
    # A robot refused for this long (simulated s) because another holds what it needs takes a
    # detour around what others hold, if one is at most `traffic_detour_max_m` longer.
    traffic_replan_after_s: Annotated[float, Field(gt=0)] = 10
    traffic_detour_max_m: Annotated[float, Field(ge=0)] = 10
    # A table paid in full is closed (free again) this long after its last payment (simulated
    # seconds) unless an operator closes it first.
    close_after_paid_s: Annotated[float, Field(ge=0)] = 120
    # A visit code keeps working this long after its session closed (real seconds, read-only:
    # the receipt), and never once the table's next session has opened.
    visit_grace_s: Annotated[float, Field(ge=0, le=24 * 3600)] = 600
    # Per table: orders in one clock minute (429 beyond) and dish units in one session (422
    # beyond); 0 = no limit.
    orders_per_minute: Annotated[int, Field(ge=0, le=1000)] = 10
    dishes_per_session: Annotated[int, Field(ge=0, le=10_000)] = 100
    # A table may call staff once per this many real seconds (429 before).
    staff_call_interval_s: Annotated[float, Field(ge=0, le=3600)] = 30

    @model_validator(mode='after')
    def _silences(self) -> ServicePolicy:
        if self.robot_unreachable_after_s > self.robot_lost_after_s:
            raise ValueError(
                'service.robot_unreachable_after_s: must not exceed service.robot_lost_after_s'
            )
        return self


class Battery(Strict):
    """Serving robots' batteries, in fractions of a full charge over simulated time (BellaBot:
    about 10 hours of service on a charge, 4 hours to charge)."""

    # Used per kilometre driven, and per hour switched on (electronics, trays, lights).
    drain_per_km: Annotated[float, Field(ge=0, le=100)] = 0.02
    drain_per_h: Annotated[float, Field(ge=0, le=1000)] = 0.08
    # Gained per hour on the charger.
    charge_per_h: Annotated[float, Field(gt=0, le=1000)] = 0.25
    # Below this between trips the robot goes to its charger; it serves again at `charged`.
    low: Annotated[float, Field(ge=0, lt=1)] = 0.2
    charged: Annotated[float, Field(gt=0, le=1)] = 0.9
    # A trip is planned only if this much is left after it and the drive to the charger.
    reserve: Annotated[float, Field(ge=0, lt=1)] = 0.05

    @model_validator(mode='after')
    def _levels(self) -> Battery:
        if self.charged <= self.low:
            raise ValueError('battery.charged: must be above battery.low')
        return self

    def used(self, distance_m: float, seconds: float) -> float:
        """Charge used to drive `distance_m` over `seconds` (simulated)."""
        return distance_m / 1000 * self.drain_per_km + seconds / 3600 * self.drain_per_h


class Rate(Strict):
    """A service charge or a tax: a percentage with at most two decimals (7.25 = 7.25 %).

    `inclusive`: the menu prices already contain it (Korean VAT); otherwise it is added on top.
    """

    name: Annotated[str, Field(min_length=1, max_length=40)]
    percent: Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)] = Decimal(0)
    inclusive: bool = False

    @property
    def basis_points(self) -> int:
        return int(self.percent * 100)


class Billing(Strict):
    """How the bill is worked out from the lines (see orchestrator/billing.py): the service
    charge on the subtotal, the tax on the subtotal plus an added service charge, each rounded
    once to the currency's minor unit with `rounding`."""

    service_charge: Rate = Rate(name='Service charge')
    tax: Rate = Rate(name='Tax')
    rounding: Literal['half_up', 'half_even', 'down', 'up'] = 'half_up'


# -- Recipes and stock (issue 13) ---------------------------------------------------------

# The units stock is counted in; amounts may also be written in kg (-> g) or l (-> ml).
StockUnit = Literal['g', 'ml', 'pc']
UNIT_FACTORS: dict[str, tuple[str, int]] = {
    'g': ('g', 1),
    'kg': ('g', 1000),
    'ml': ('ml', 1),
    'l': ('ml', 1000),
    'pc': ('pc', 1),
}
# An amount: an integer in the ingredient's unit, or a string with a unit ('150 g', '1.5 l').
Amount = int | str


def parse_amount(value: Amount, unit: str) -> int:
    """The amount in `unit` (an ingredient's unit), as an exact integer; ValueError says why."""
    if isinstance(value, int):
        number, base, factor = Decimal(value), unit, 1
    else:
        text = value.strip()
        m = re.fullmatch(r'(-?[0-9]+(?:\.[0-9]+)?)\s*([a-z]+)', text)
        if m is None:
            raise ValueError(f'{value!r} is not an amount like 150 g, 0.5 l or 2 pc')
        if m.group(2) not in UNIT_FACTORS:
            raise ValueError(f'{value!r}: unknown unit {m.group(2)!r} (g, kg, ml, l, pc)')
        base, factor = UNIT_FACTORS[m.group(2)]
        number = Decimal(m.group(1))
    if base != unit:
        raise ValueError(f'{value!r} is in {base} but the ingredient is counted in {unit}')
    amount = number * factor
    if amount != amount.to_integral_value():
        raise ValueError(f'{value!r} is not a whole number of {unit}')
    return int(amount)


class Ingredient(Strict):
    """Something the kitchen keeps in stock, counted exactly in whole `unit`s."""

    id: Ident
    unit: StockUnit
    name: Names
    # At or below this the console's Stock view flags it (an amount in `unit`).
    low_stock: Amount = 0
    # The opening level: what a Redis that never saw this ingredient starts with.
    par: Amount = 0


class RecipeChange(Strict):
    """What choosing `option` = `choice` does to a dish's ingredients: `add` amounts to (or,
    negative, take them from) the recipe's, `set` replaces them."""

    option: Ident
    choice: Ident
    add: dict[Ident, Amount] = {}
    set: dict[Ident, Amount] = {}


class Recipe(Strict):
    """The ingredients of one unit of `dish` with its default options."""

    dish: Ident
    uses: Annotated[dict[Ident, Amount], Field(min_length=1)]
    options: list[RecipeChange] = []


def _check_kitchen_stock(cfg: RestaurantConfig) -> None:
    """References (dishes, options, choices, ingredients) and units of the recipes."""
    _unique('ingredients', cfg.ingredients)
    units = {i.id: i.unit for i in cfg.ingredients}
    for i, item in enumerate(cfg.ingredients):
        for name in ('low_stock', 'par'):
            _amount(f'ingredients[{i}].{name}', getattr(item, name), item.unit, minimum=0)
    seen: set[str] = set()
    for i, rec in enumerate(cfg.recipes):
        _ref(f'recipes[{i}].dish', rec.dish, cfg.dish_by_id)
        if rec.dish in seen:
            raise ValueError(f'recipes[{i}].dish: a second recipe for {rec.dish!r}')
        seen.add(rec.dish)
        for ing, value in rec.uses.items():
            _ref(f'recipes[{i}].uses', ing, units)
            _amount(f'recipes[{i}].uses.{ing}', value, units[ing], minimum=1)
        dish = cfg.dish_by_id[rec.dish]
        for j, change in enumerate(rec.options):
            where = f'recipes[{i}].options[{j}]'
            option = dish.option(change.option)
            if option is None:
                raise ValueError(f'{where}.option: {rec.dish!r} has no option {change.option!r}')
            _ref(f'{where}.choice', change.choice, {c.id for c in option.choices})
            for kind in ('add', 'set'):
                for ing, value in getattr(change, kind).items():
                    _ref(f'{where}.{kind}', ing, units)
                    low = None if kind == 'add' else 0
                    _amount(f'{where}.{kind}.{ing}', value, units[ing], minimum=low)


def _amount(field: str, value: Amount, unit: str, minimum: int | None) -> int:
    try:
        amount = parse_amount(value, unit)
    except ValueError as e:
        raise ValueError(f'{field}: {e}') from None
    if minimum is not None and amount < minimum:
        raise ValueError(f'{field}: must be at least {minimum} {unit}')
    return amount


class RestaurantConfig(Strict):
    model_config = ConfigDict(extra='forbid', frozen=True, ignored_types=(cached_property,))

    restaurant: Restaurant
    tables: Annotated[list[Table], Field(min_length=1)]
    stations: Annotated[list[Station], Field(min_length=1)]
    categories: Annotated[list[Category], Field(min_length=1)]
    dishes: Annotated[list[Dish], Field(min_length=1)]
    cooking_robots: Annotated[list[CookingRobot], Field(min_length=1)]
    serving_robots: Annotated[list[ServingRobot], Field(min_length=1)]
    floor: Floor
    service: ServicePolicy = ServicePolicy()
    battery: Battery = Battery()
    billing: Billing = Billing()
    # Recipes and stock (orchestrator/recipes.py, orchestrator/store/stock.py); a dish without
    # a recipe is not counted.
    ingredients: list[Ingredient] = []
    recipes: list[Recipe] = []

    @model_validator(mode='after')
    def _cross_references(self) -> RestaurantConfig:
        for field in (
            'tables',
            'stations',
            'categories',
            'dishes',
            'cooking_robots',
            'serving_robots',
        ):
            _unique(field, getattr(self, field))
        _unique('floor.waypoints', self.floor.waypoints)
        stations = {s.id for s in self.stations}
        categories = {c.id for c in self.categories}
        points = self.floor.points
        for i, d in enumerate(self.dishes):
            _ref(f'dishes[{i}].station', d.station, stations)
            _ref(f'dishes[{i}].category', d.category, categories)
            _unique(f'dishes[{i}].options', d.options)
        for i, r in enumerate(self.cooking_robots):
            for s in r.stations:
                _ref(f'cooking_robots[{i}].stations', s, stations)
        chargers = {w.id for w in self.floor.waypoints if w.kind == 'charger'}
        for i, sr in enumerate(self.serving_robots):
            _ref(f'serving_robots[{i}].dock', sr.dock, points)
            if sr.charger is not None:
                _ref(f'serving_robots[{i}].charger', sr.charger, chargers)
        for i, t in enumerate(self.tables):
            _ref(f'tables[{i}].waypoint', t.waypoint, points)
        for i, a in enumerate(self.floor.aisles):
            _ref(f'floor.aisles[{i}].a', a.a, points)
            _ref(f'floor.aisles[{i}].b', a.b, points)
        passes = [w.id for w in self.floor.waypoints if w.kind == 'pass']
        if len(passes) != 1:
            raise ValueError(
                f'floor.waypoints: need exactly one waypoint of kind pass, found {len(passes)}'
            )
        served = {s for r in self.cooking_robots for s in r.stations}
        for s in sorted(stations - served):
            raise ValueError(f'stations: no cooking robot serves station {s!r}')
        places = [t.waypoint for t in self.tables]
        places += [w for sr in self.serving_robots for w in (sr.dock, self.charger_of(sr))]
        self.floor.check_reachable(passes[0], places)
        _check_kitchen_stock(self)
        return self

    @cached_property
    def dish_by_id(self) -> dict[str, Dish]:
        return {d.id: d for d in self.dishes}

    @cached_property
    def table_by_id(self) -> dict[str, Table]:
        return {t.id: t for t in self.tables}

    @cached_property
    def serving_robot_by_id(self) -> dict[str, ServingRobot]:
        return {s.id: s for s in self.serving_robots}

    @property
    def robot_kinds(self) -> dict[str, str]:
        """Every robot's id -> 'cooking' or 'serving', cooking robots first (not cached: a
        model_copy that changes the robots would keep a cached one)."""
        return {
            **{c.id: 'cooking' for c in self.cooking_robots},
            **{s.id: 'serving' for s in self.serving_robots},
        }

    def charger_of(self, robot: ServingRobot) -> str:
        """The waypoint where the serving robot charges."""
        if robot.charger is not None:
            return robot.charger
        chargers = [w.id for w in self.floor.waypoints if w.kind == 'charger']
        return min(chargers, key=lambda c: self.floor.distance(c, robot.dock), default=robot.dock)


def _unique(field: str, items: Sequence[Any]) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ValueError(f'{field}: duplicate id {item.id!r}')
        seen.add(item.id)


def _ref(field: str, value: str, known: Container[str]) -> None:
    if value not in known:
        raise ValueError(f'{field}: unknown id {value!r}')


def read_yaml_mapping(path: Path, error: type[ValueError] = ConfigError) -> dict[str, Any]:
    """The top-level mapping of a YAML file; `error` names the file when it is not one."""
    try:
        raw = yaml.safe_load(path.read_text(encoding='utf-8'))
    except OSError as e:
        raise error(f'{path}: cannot read: {e.strerror}') from e
    except yaml.YAMLError as e:
        raise error(f'{path}: not valid YAML: {e}') from e
    if not isinstance(raw, dict):
        raise error(f'{path}: expected a mapping at the top level')
    return raw


def load_restaurant(path: str | Path) -> RestaurantConfig:
    """Parse and validate a restaurant YAML file; ConfigError names the file and field."""
    path = Path(path)
    raw = read_yaml_mapping(path)
    # Top-level `x-*` keys only hold YAML anchors (shared options) and are not config.
    raw = {k: v for k, v in raw.items() if not str(k).startswith('x-')}
    try:
        return RestaurantConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(f'{path}: ' + format_validation_error(e)) from e


def format_validation_error(e: ValidationError) -> str:
    lines = []
    for err in e.errors():
        loc = '.'.join(str(p) for p in err['loc'])
        msg = err['msg'].removeprefix('Value error, ')
        lines.append(f'{loc}: {msg}' if loc else msg)
    return '; '.join(lines)
