"""How many serving robots a service needs: the owner's "can three robots carry Saturday
lunch?", answered with the offline twin (`robodine rush --model --serving-robots 1-4`).

The restaurant is played with each fleet size on the same seeds and the same policy: the
config's first n serving robots, or more robots like its last one on the floor's spare docks.
A fleet carries the service when every order is served and its mean ticket is within a margin
of the best fleet size's (more robots would hardly bring the food sooner). The twin drains and
charges the batteries as the robots do, so a long service's charging shows in the tickets of a
small fleet. The largest fleet the floor has docks for is always played too, as the yardstick.

`without` answers the other question (`--without wok2`): what a service loses when robots are
down, cooking or serving, played against the whole restaurant on the same seeds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from orchestrator.config import ConfigError, RestaurantConfig
from orchestrator.dispatch.scheduling import get_policy
from orchestrator.rush.report import stats
from orchestrator.rush.scenario import Scenario
from orchestrator.rush.twin import DRAIN_S, LATENCIES, play

# A fleet whose mean ticket is within this share of the best size's carries the service.
WITHIN = 0.02
# At most this many fleet sizes in one sweep (each is a twin run per seed).
MAX_SIZES = 20


def parse_sizes(text: str) -> list[int]:
    """'3', '1,2,4' or '1-4' → the fleet sizes, ascending; ValueError says what is wrong."""
    sizes: set[int] = set()
    for part in text.split(','):
        m = re.fullmatch(r'\s*(\d+)\s*(?:-\s*(\d+)\s*)?', part)
        if m is None:
            raise ValueError(f'{part.strip()!r} is not a number or a range like 1-4')
        low, high = int(m[1]), int(m[2] or m[1])
        if low < 1 or high < low:
            raise ValueError(f'{part.strip()!r}: sizes start at 1 and a range goes upwards')
        sizes.update(range(low, min(high, low + MAX_SIZES) + 1))
    if len(sizes) > MAX_SIZES:
        raise ValueError(f'at most {MAX_SIZES} fleet sizes at once, got {len(sizes)}')
    return sorted(sizes)


def with_serving_robots(
    cfg: RestaurantConfig, n: int, source: str = 'the config'
) -> RestaurantConfig:
    """The restaurant with `n` serving robots: its first n, or its robots and more like its
    last one (new ids, each on a spare dock of the floor, charging at the nearest charger no
    other robot charges at, if there is one)."""
    robots = [r.model_dump() for r in cfg.serving_robots[:n]]
    if n > len(robots):
        used = {r.dock for r in cfg.serving_robots}
        spare = [w.id for w in cfg.floor.waypoints if w.kind == 'dock' and w.id not in used]
        if n - len(robots) > len(spare):
            docks = [w.id for w in cfg.floor.waypoints if w.kind == 'dock']
            raise ConfigError(
                f'{source}: {n} serving robots need {n} docks, and floor.waypoints has '
                f'{len(docks)} ({", ".join(docks)}): add a waypoint of kind dock, with an '
                'aisle to it, for each robot more'
            )
        last = cfg.serving_robots[-1]
        stem = last.id.rstrip('0123456789') or last.id
        taken = {r.id for r in cfg.serving_robots} | {r.id for r in cfg.cooking_robots}
        charged = {cfg.charger_of(r) for r in cfg.serving_robots}
        free = [w.id for w in cfg.floor.waypoints if w.kind == 'charger' and w.id not in charged]
        k = len(robots)
        for dock in spare[: n - len(robots)]:
            while f'{stem}{k}' in taken:
                k += 1
            taken.add(f'{stem}{k}')
            charger = min(free, key=lambda c: cfg.floor.distance(c, dock), default=None)
            if charger is not None:
                free.remove(charger)
            robots.append(
                last.model_dump() | {'id': f'{stem}{k}', 'dock': dock, 'charger': charger}
            )
    return RestaurantConfig.model_validate(cfg.model_dump() | {'serving_robots': robots})


def without(
    cfg: RestaurantConfig, robot_ids: Sequence[str], source: str = 'the config'
) -> RestaurantConfig:
    """The restaurant without the named robots, cooking or serving (one broken down, say)."""
    known = list(cfg.robot_kinds)
    if unknown := [r for r in robot_ids if r not in known]:
        raise ConfigError(
            f'{source}: no robot {", ".join(map(repr, unknown))} (its robots: {", ".join(known)})'
        )
    data = cfg.model_dump()
    for kind in ('cooking_robots', 'serving_robots'):
        data[kind] = [r for r in data[kind] if r['id'] not in robot_ids]
    try:
        return RestaurantConfig.model_validate(data)
    except ValidationError as e:
        why = '; '.join(map(_said, e.errors()))
        raise ConfigError(f'{source} without {", ".join(robot_ids)}: {why}') from None


def _said(error: ErrorDetails) -> str:
    """A validation error as the config check words it: 'field: what'."""
    what = error['msg'].removeprefix('Value error, ')
    return f'{".".join(map(str, error["loc"]))}: {what}' if error['loc'] else what


def parse_ids(text: str) -> list[str]:
    """'wok2, serve3' → the robot ids, in order, once each; ValueError when there is none."""
    ids = list(dict.fromkeys(part.strip() for part in text.split(',') if part.strip()))
    if not ids:
        raise ValueError('name at least one robot, e.g. wok2 or wok2,serve3')
    return ids


def write_config(cfg: RestaurantConfig, path: Path) -> Path:
    """`cfg` as a restaurant YAML at `path` (what a real rush's processes read); returns it."""
    data = cfg.model_dump(mode='json', exclude_unset=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding='utf-8')
    return path


@dataclass(frozen=True)
class SizeRow:
    """One fleet size over the seeds, every order of every seed pooled."""

    robots: int
    seeds: int
    placed: int
    served: int
    ticket_mean_s: float
    ticket_p95_s: float
    pass_wait_mean_s: float
    pass_wait_p95_s: float
    # Orders whose ticket was longer than `service.age_late_s` (the console's late alert).
    late_share: float
    # Mean share of the service the serving robots were on a trip.
    utilization: float
    # Times a robot went to its charger, per service (mean over the seeds).
    charges: float
    # Orders the kitchen had not cooked when the service ended (DRAIN_S after the last
    # arrival): no serving robot could have served them.
    uncooked: int = 0


def measure(
    cfg: RestaurantConfig, scenario: Scenario, seeds: Sequence[int], policy: str
) -> SizeRow:
    """The scenario played with this restaurant's robots on the seeds, every order pooled."""
    tickets: list[float] = []
    waits: list[float] = []
    busy: list[float] = []
    placed = served = charges = uncooked = 0
    for seed in seeds:
        twin = play(cfg, scenario, get_policy(policy), seed, LATENCIES['rush'])
        placed += len(twin.orders)
        uncooked += sum(o.ready_s is None for o in twin.orders)
        for o in twin.orders:
            if o.served_s is not None:
                served += 1
                tickets.append(o.served_s - o.placed_s)
            if o.ready_s is not None and o.left_pass_s is not None:
                waits.append(o.left_pass_s - o.ready_s)
        for r in twin.serving_figures(twin.span_s()).values():
            busy.append(r['utilization'])
            charges += r['charges']
    late = sum(t > cfg.service.age_late_s for t in tickets)
    ticket, wait = stats(tickets), stats(waits)
    return SizeRow(
        len(cfg.serving_robots),
        len(seeds),
        placed,
        served,
        ticket['mean'] or 0.0,
        ticket['p95'] or 0.0,
        wait['mean'] or 0.0,
        wait['p95'] or 0.0,
        late / len(tickets) if tickets else 0.0,
        sum(busy) / len(busy),
        charges / len(seeds),
        uncooked,
    )


def sweep(
    cfg: RestaurantConfig,
    scenario: Scenario,
    sizes: Sequence[int],
    seeds: Sequence[int],
    policy: str,
    source: str = 'the config',
) -> list[SizeRow]:
    """The scenario played with each fleet size on the same seeds."""
    return [measure(with_serving_robots(cfg, n, source), scenario, seeds, policy) for n in sizes]


def largest(cfg: RestaurantConfig) -> int:
    """The most serving robots the floor has docks for (the yardstick of a sweep)."""
    docks = sum(w.kind == 'dock' for w in cfg.floor.waypoints)
    return max(len(cfg.serving_robots), docks)


def carrying(rows: Sequence[SizeRow], within: float = WITHIN) -> list[int]:
    """The fleet sizes that carry the service: every order served and a mean ticket within
    `within` of the best such size's."""
    sound = [r for r in rows if r.served == r.placed]
    if not sound:
        return []
    best = min(r.ticket_mean_s for r in sound)
    return [r.robots for r in sound if r.ticket_mean_s <= best * (1 + within)]


def verdict(rows: Sequence[SizeRow], name: str, within: float = WITHIN) -> str:
    """One sentence: the fewest robots that carry the service, or that none of them does."""
    if not (enough := carrying(rows, within)):
        big = rows[-1]
        kitchen = (
            f', {"all" if big.uncooked == big.placed - big.served else big.uncooked} of them '
            f'still not cooked {DRAIN_S // 60:.0f} min after the last arrival: the kitchen is '
            'short, not the serving robots'
            if big.uncooked
            else ''
        )
        return (
            f'no fleet size tried carries "{name}" in the model: even {big.robots} leave '
            f'{big.placed - big.served} of {big.placed} orders unserved{kitchen}.'
        )
    r = next(r for r in rows if r.robots == enough[0])
    best = min(x.ticket_mean_s for x in rows if x.robots in enough)
    charging = f'; they charge {r.charges:.1f} times a service' if r.charges else ''
    return (
        f'{r.robots} serving {"robots carry" if r.robots > 1 else "robot carries"} "{name}" in '
        f'the model: mean ticket {r.ticket_mean_s:.0f} s, {r.ticket_mean_s - best:.0f} s more '
        f'than the best fleet size tried (margin {within:.0%}); food waits '
        f'{r.pass_wait_mean_s:.1f} s at the pass on average; {r.late_share:.0%} of orders '
        f'late{charging}.'
    )


def what_if(full: SizeRow, less: SizeRow, gone: Sequence[str], name: str) -> str:
    """One sentence: what the service loses without the robots `gone`."""
    change = less.ticket_mean_s / full.ticket_mean_s - 1 if full.ticket_mean_s else 0.0
    fewer = (
        f' ({full.placed - less.placed} fewer placed: parties gave up waiting for a table)'
        if less.placed < full.placed
        else ''
    )
    return (
        f'Without {", ".join(gone)}, "{name}" in the model: mean ticket '
        f'{full.ticket_mean_s:.0f} → {less.ticket_mean_s:.0f} s ({change:+.0%}), p95 '
        f'{full.ticket_p95_s:.0f} → {less.ticket_p95_s:.0f} s, orders late '
        f'{full.late_share:.0%} → {less.late_share:.0%}; orders {_served(full)} → '
        f'{_served(less)}{fewer}.'
    )


def _served(row: SizeRow) -> str:
    return (
        f'{row.served} served'
        if row.served == row.placed
        else f'{row.served} of {row.placed} served'
        + (f', {row.uncooked} never cooked' if row.uncooked else '')
    )


def table(rows: Sequence[SizeRow], labels: Sequence[str] = ()) -> str:
    """Rows as a Markdown table, each named by its label, else by its serving robots."""
    lines = [
        f'| {"fleet" if labels else "serving robots"} | seeds | served | mean ticket | p95 ticket '
        '| pass wait (mean, p95) | late | robots busy | charges |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ]
    for r, label in zip(rows, labels or [str(r.robots) for r in rows], strict=True):
        lines.append(
            f'| {label} | {r.seeds} | {r.served} / {r.placed} | {r.ticket_mean_s:.0f} s '
            f'| {r.ticket_p95_s:.0f} s | {r.pass_wait_mean_s:.1f} s, {r.pass_wait_p95_s:.0f} s '
            f'| {r.late_share:.0%} | {r.utilization:.0%} | {r.charges:.1f} |'
        )
    return '\n'.join(lines)
