"""A rush scenario: who comes when, what they order, how long they take — and the load it puts
on the kitchen.

Scenario YAML (see `seeds/scenarios/`): parties arrive as a Poisson process whose rate changes
by time of day (`arrivals`), sit at the smallest free table that seats them (or queue at the
door, leaving after `max_queue_wait_min`), order `dishes_per_guest` dishes each chosen by the
`popularity` weights, take the food off the robot `pickup_after_s` after it arrives, and
`dine_min` after their food is served ask for the bill, split it (`split_share` of the parties),
pay (`decline_share` of the payments declined once and retried) and leave; the next party sits
once the table is free again. All times are simulated (restaurant) time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from orchestrator.config import (
    ConfigError,
    RestaurantConfig,
    Table,
    format_validation_error,
    read_yaml_mapping,
)


class ScenarioError(ConfigError):
    """A scenario file that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra='forbid', frozen=True)


class Span(_Strict):
    """A uniformly distributed quantity between `min` and `max`."""

    min: Annotated[float, Field(ge=0)]
    max: Annotated[float, Field(ge=0)]

    @model_validator(mode='before')
    @classmethod
    def _a_mapping(cls, data: Any) -> Any:
        # Pydantic's own words name the class ('a valid dictionary or instance of Span').
        if not isinstance(data, dict | Span):
            raise ValueError(
                f'should be {{min, max}}, e.g. {{min: 2, max: 4}} (for a fixed value, the same '
                f'number twice), got {data!r}'
            )
        return data

    @model_validator(mode='after')
    def _ordered(self) -> Span:
        if self.max < self.min:
            raise ValueError(f'max {self.max:g} is below min {self.min:g}')
        return self

    @property
    def mean(self) -> float:
        return (self.min + self.max) / 2


class Window(_Strict):
    """From `from_min` minutes after opening, parties arrive at this mean rate."""

    from_min: Annotated[float, Field(ge=0)]
    parties_per_hour: Annotated[float, Field(ge=0, le=1000)]


class Scenario(_Strict):
    name: Annotated[str, Field(min_length=1)]
    description: str = ''
    # Arrivals stop after this many simulated minutes; seated parties still finish.
    duration_min: Annotated[float, Field(gt=0, le=24 * 60)]
    seed: int = 1
    arrivals: Annotated[list[Window], Field(min_length=1)]
    party_size: Span
    dishes_per_guest: Annotated[float, Field(gt=0, le=10)]
    # Relative weights; dishes not named are never ordered.
    popularity: Annotated[dict[str, Annotated[float, Field(ge=0)]], Field(min_length=1)]
    order_after_s: Span
    pickup_after_s: Span
    dine_min: Span
    max_queue_wait_min: Annotated[float, Field(ge=0)] = 15.0
    # After eating, each party asks for the bill and pays. This share of the parties of two or
    # more split it evenly (one share per guest); this share of the payments is declined once
    # by the simulated provider and paid again `retry_after_s` later.
    split_share: Annotated[float, Field(ge=0, le=1)] = 0.3
    decline_share: Annotated[float, Field(ge=0, le=1)] = 0.1
    retry_after_s: Annotated[float, Field(ge=0, le=3600)] = 20.0
    # Parties are seated only at these tables (empty: every table), to load a part of the floor.
    tables: list[str] = []

    @model_validator(mode='after')
    def _windows(self) -> Scenario:
        starts = [w.from_min for w in self.arrivals]
        if starts[0] != 0:
            raise ValueError('arrivals: the first window must start at from_min 0')
        if starts != sorted(set(starts)):
            raise ValueError('arrivals: from_min must increase from one window to the next')
        if self.party_size.min < 1:
            raise ValueError('party_size.min: a party has at least 1 guest')
        if sum(self.popularity.values()) <= 0:
            raise ValueError('popularity: at least one dish needs a weight above 0')
        return self

    def check_against(self, cfg: RestaurantConfig) -> None:
        """Raise ValueError naming the field if the scenario does not fit the restaurant."""
        for dish_id in self.popularity:
            dish = cfg.dish_by_id.get(dish_id)
            if dish is None:
                raise ValueError(f'popularity.{dish_id}: no such dish on the menu')
            if not dish.available:
                raise ValueError(f'popularity.{dish_id}: the dish is not available')
        for table_id in self.tables:
            if table_id not in cfg.table_by_id:
                raise ValueError(f'tables: no table {table_id!r} in the restaurant')
        biggest = max(t.seats for t in self.seating(cfg))
        if self.party_size.max > biggest:
            raise ValueError(
                f'party_size.max: {self.party_size.max:g} guests, but the largest table '
                f'seats {biggest}'
            )

    def seating(self, cfg: RestaurantConfig) -> list[Table]:
        """The tables parties are seated at."""
        return [t for t in cfg.tables if not self.tables or t.id in self.tables]


def load_scenario(path: str | Path, cfg: RestaurantConfig) -> Scenario:
    """Parse and validate a scenario against the restaurant; ScenarioError names file+field."""
    path = Path(path)
    raw = read_yaml_mapping(path, ScenarioError)
    try:
        scenario = Scenario.model_validate(raw)
        scenario.check_against(cfg)
    except ValidationError as e:
        raise ScenarioError(f'{path}: ' + format_validation_error(e)) from e
    except ValueError as e:
        raise ScenarioError(f'{path}: {e}') from e
    return scenario


@dataclass(frozen=True)
class GroupLoad:
    """Offered load on a set of stations that share cooking robots."""

    stations: tuple[str, ...]
    robots: tuple[str, ...]
    # Cooking slots (sum of robot capacities) and the busy slot-seconds per hour offered.
    slots: int
    work_s_per_h: float

    @property
    def utilization(self) -> float:
        return self.work_s_per_h / (self.slots * 3600)


def station_work(
    cfg: RestaurantConfig, scenario: Scenario, parties_per_hour: float
) -> dict[str, float]:
    """Busy slot-seconds per hour offered to each station at an arrival rate: dishes/h ×
    popularity share × cook time."""
    total = sum(scenario.popularity.values())
    dishes_per_h = parties_per_hour * scenario.party_size.mean * scenario.dishes_per_guest
    work: dict[str, float] = {}
    for dish_id, weight in scenario.popularity.items():
        dish = cfg.dish_by_id[dish_id]
        work[dish.station] = (
            work.get(dish.station, 0.0) + dishes_per_h * weight / total * dish.cook_time_s
        )
    return work


def offered_load(
    cfg: RestaurantConfig, scenario: Scenario, parties_per_hour: float
) -> list[GroupLoad]:
    """Kitchen load at an arrival rate: dishes/h × popularity share × cook time per station,
    against the cooking slots of the robots that can cook it.

    Robots that serve several stations pool them (wok2 cooks wok and fryer dishes), so load is
    summed over each connected group of stations and robots.
    """
    work = station_work(cfg, scenario, parties_per_hour)
    groups: list[tuple[set[str], set[str]]] = []
    for robot in cfg.cooking_robots:
        stations, robots = set(robot.stations), {robot.id}
        for g in [g for g in groups if g[0] & stations]:
            groups.remove(g)
            stations |= g[0]
            robots |= g[1]
        groups.append((stations, robots))
    capacity = {r.id: r.capacity for r in cfg.cooking_robots}
    return [
        GroupLoad(
            tuple(sorted(stations)),
            tuple(sorted(robots)),
            sum(capacity[r] for r in robots),
            sum(work.get(s, 0.0) for s in stations),
        )
        for stations, robots in sorted(groups, key=lambda g: sorted(g[0]))
    ]
