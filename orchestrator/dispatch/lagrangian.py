"""A lower bound of Σ ready time over orders cooked on robots with slots: a Lagrangian
relaxation of two time-indexed models of the kitchen (for `scheduling.capacity_bound`).

The models. Time is cut into cells of Δ = `step_s`. A dish of cook time p that a real schedule
starts at s (no sooner than its order's placing time r) on robot R gets the cell a = ⌊s/Δ⌋ ≥
⌊r/Δ⌋ and is counted as cooking on R in cells a .. a + ⌊p/Δ⌋ − 1. Each such cell t has
s < (t+1)Δ ≤ s + p, so every dish counted in t cooks on its robot just before (t+1)Δ. Hence
in every cell
- limits: for each set S of stations, no more dishes of S are counted than the slots of the
  robots that cook any of S;
- robots: no more dishes are counted on a robot than it has slots; a dish is counted on one
  robot that cooks its station, the same in all its cells.
The dish is done no sooner than max(aΔ, r) + p (s ≥ aΔ and s ≥ r). So any real schedule maps
to one of either model, ready no later: each model's least Σ ready is a lower bound of any
real schedule's. The limits are Hall's conditions of each cell alone: they let a dish change
robots from cell to cell, which the robots model does not.

The relaxation. A price λ ≥ 0 on each (limit or robot, cell) replaces that limit. For a
schedule of the model, Σ ready ≥ Σ ready + Σ λ·(dishes counted − slots), and the right side
splits into one problem per order: choose its ready time C, then each dish its cheapest start
done by C (in the robots model its cheapest start and robot: the price of its cells on each
robot of its station, the least). So

    L(λ) = Σ_orders min_C (C + Σ_dishes cheapest start done by C) − Σ λ·slots

is a lower bound for every λ ≥ 0. Cells past a horizon keep λ = 0 (itself a valid price), so
the horizon only limits how tight L gets. Projected subgradient steps (Polyak's, against a
list schedule's Σ ready) raise L, first on the limits, then on the robots from the limits'
best prices carried over (which start no lower, see `ready_bound`); the best L seen is the
bound.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt

# An order: placed at (s), its dishes as (station, cook time s).
Order = tuple[float, Sequence[tuple[str, float]]]
# Stations and slots: of a robot, or of a limit (at most that many dishes of those at once).
Slots = tuple[Collection[str], int]

_Ints = npt.NDArray[np.int64]
_EPS = 1e-9
_Floats = npt.NDArray[np.float64]


def list_schedule(orders: Sequence[Order], robots: Sequence[Slots]) -> list[float]:
    """Each order's ready time when dishes, in order of placing, each take the slot that frees
    first on a robot that cooks its station: a feasible schedule."""
    free = [[0.0] * cap for _, cap in robots]
    ready = [r + max((p for _, p in ds), default=0.0) for r, ds in orders]
    for r, j, neg_p, station in sorted(
        (r, j, -p, s) for j, (r, ds) in enumerate(orders) for s, p in ds
    ):
        slots = [(min(f), i) for i, f in enumerate(free) if f and station in robots[i][0]]
        if slots:
            at, i = min(slots)
            free[i][free[i].index(at)] = max(r, at) - neg_p
            ready[j] = max(ready[j], max(r, at) - neg_p)
    return ready


def _options(
    names: Sequence[str], limits: Sequence[Slots], all_of: bool
) -> tuple[_Floats, _Ints, _Floats]:
    """A dish's options, each a set of limits it counts in: all of its station's (`all_of`), or
    any one of them. Returns the option × limit matrix (1: counted in it), each station's
    options (padded with its first: the least price over them is the same) and the slots."""
    choices = {}
    for s in names:
        mine = [k for k, (ss, _) in enumerate(limits) if s in ss]
        # (A station no limit has counts nowhere: its dishes cost nothing, which only relaxes.)
        choices[s] = [frozenset(mine)] if all_of or not mine else [frozenset([k]) for k in mine]
    kinds = list(dict.fromkeys(o for c in choices.values() for o in c))
    counted = np.zeros((len(kinds), len(limits)))
    for i, o in enumerate(kinds):
        counted[i, sorted(o)] = 1.0
    width = max(len(c) for c in choices.values())
    options = np.array(
        [[kinds.index(o) for o in choices[s] * width][:width] for s in names], dtype=np.int64
    )
    return counted, options, np.array([float(n) for _, n in limits])[:, None]


def ready_bound(
    orders: Sequence[Order],
    limits: Sequence[Slots],
    robots: Sequence[Slots],
    step_s: float = 10.0,
    iterations: int = 150,
    robot_iterations: int = 150,
) -> tuple[float, tuple[str, ...]]:
    """A lower bound of Σ ready time of `orders`, the higher of `iterations` steps priced on
    `limits` (sets of stations and their slots) and `robot_iterations` more priced on `robots`
    from there; and the stations of the limit whose prices weigh most in the first (of the
    robot, in the second, when the first prices nothing)."""
    if not orders:
        return 0.0, ()
    # Cells count from 0: shift times that start earlier (the bound shifts with them).
    origin = min(0.0, min(r for r, _ in orders))
    if origin < 0:
        shifted = [(r - origin, ds) for r, ds in orders]
        total, limit = ready_bound(shifted, limits, robots, step_s, iterations, robot_iterations)
        return total + origin * len(orders), limit
    dt = step_s
    names = sorted(
        {s for _, ds in orders for s, _ in ds} | {s for ss, _ in [*limits, *robots] for s in ss}
    )
    col = {s: i for i, s in enumerate(names)}
    upper_each = list_schedule(orders, robots)
    upper = sum(upper_each)
    horizon = math.ceil(max(upper_each) / dt) + 1  # cells 0 .. horizon − 1 carry a price

    # Dishes of an order alike in station and cook time are one group of `mult` dishes.
    group = sorted(
        (j, col[s], p, n) for j, (_, ds) in enumerate(orders) for (s, p), n in Counter(ds).items()
    )
    g_j: _Ints = np.array([g[0] for g in group], dtype=np.int64)
    g_st: _Ints = np.array([g[1] for g in group], dtype=np.int64)
    g_p: _Floats = np.array([g[2] for g in group], dtype=np.float64)
    g_m: _Floats = np.array([g[3] for g in group], dtype=np.float64)
    g_q = np.floor(g_p / dt).astype(np.int64)
    # (Float `//` is the exact floor; other roundings go the relaxing way: a last start later.)
    g_a0 = np.array([r // dt for r, _ in orders], dtype=np.int64)[g_j]
    rest = g_p - dt * g_q
    # A dish's starts count from its order's first cell, a0 + k. Its price on an option is the
    # difference of the prefix sums of the option's prices (pw cells a row, flat; constant from
    # the horizon), the least over its options.
    pw = horizon + int(g_q.max()) + 1
    k_all = horizon + int(g_q.max()) + 5  # starts past the horizon cost nothing

    # Ready time candidates: Σ cheapest start only drops at C = Δa + p, so an order's best C is
    # its earliest (r + longest cook) or one of Δc + ρ after it, ρ among its dishes' p − Δq.
    # Each (order, ρ) is a pair, a row per group of the order; `offs` is the offset k of the
    # group's last start for the pair's first c, a column u adds u to it and Δu to C.
    earliest = np.array([r + max(p for _, p in ds) for r, ds in orders])
    last0 = np.maximum(np.floor((earliest[g_j] - g_p) / dt + _EPS).astype(np.int64) - g_a0, 0)
    rows: list[int] = []
    offs: list[int] = []
    pair_j: list[int] = []
    pair_c: list[float] = []
    seg: list[int] = []
    for j in range(len(orders)):
        mine = np.flatnonzero(g_j == j)
        for rho in np.unique(rest[mine]):
            c0 = math.floor((earliest[j] - rho) / dt - _EPS) + 1
            seg.append(len(rows))
            pair_j.append(j)
            pair_c.append(dt * c0 + rho)
            rows += mine.tolist()
            offs += (c0 - g_q[mine] - (rho < rest[mine]) - g_a0[mine]).tolist()
    r_g, r_off, r_m = np.array(rows), np.maximum(np.array(offs), 0), g_m[rows][:, None]
    pj, pc = np.array(pair_j), np.array(pair_c)
    every = np.arange(len(group))

    def ascend(
        model: tuple[_Floats, _Ints, _Floats], lam: _Floats, iterations: int
    ) -> tuple[float, _Floats]:
        """The best bound and its prices in `iterations` subgradient steps from `lam`."""
        counted, options, slots = model
        g_row = options[g_st] * pw  # each (group, option)'s row in `flat`
        # Groups with another option than their first, per option (padding costs nothing).
        more = [np.flatnonzero(g_row[:, n] != g_row[:, 0]) for n in range(1, g_row.shape[1])]

        def prices(flat: _Floats, width: int) -> tuple[_Floats, _Floats]:
            """Each group's price of starting at a0 + k, k < width, and its running minimum."""

            def on(i: _Ints, row: _Ints) -> _Floats:
                """Groups `i`'s prices on the option whose row starts at `row`."""
                end = row[:, None] + horizon
                lo = np.minimum(row[:, None] + g_a0[i, None] + np.arange(width), end)
                out: _Floats = flat[lo + g_q[i, None]] - flat[lo]
                return out

            price = on(every, g_row[:, 0])
            for n, i in enumerate(more, 1):
                price[i] = np.minimum(price[i], on(i, g_row[i, n]))
            return price, np.minimum.accumulate(price, axis=1)

        best, best_lam = float(earliest.sum()), lam
        theta, stale = 1.0, 0
        for _ in range(iterations):
            prefix = np.zeros((len(counted), pw))
            np.cumsum(counted @ lam, axis=1, out=prefix[:, 1 : horizon + 1])
            prefix[:, horizon + 1 :] = prefix[:, horizon : horizon + 1]
            flat = prefix.ravel()

            # Ready later than earliest + the price at earliest gains nothing (prices are ≥ 0), so
            # u stops there, or where every row's starts reach the horizon (offsets ≤ max q + 3).
            _, least = prices(flat, int(last0.max()) + 1)
            at_earliest = np.bincount(g_j, g_m * least[every, last0], len(orders)) + earliest
            cols = min(int((at_earliest - earliest).max() / dt) + 2, k_all - int(r_off.max()))
            price, least = prices(flat, max(int(r_off.max()) + cols, int(last0.max()) + 1))
            u = np.arange(cols)
            value = np.add.reduceat(least[r_g[:, None], r_off[:, None] + u] * r_m, seg, axis=0)
            value += pc[:, None] + dt * u
            k = np.argmin(value, axis=1)
            pair_best = value[np.arange(len(pj)), k]
            order_best = at_earliest.copy()
            np.minimum.at(order_best, pj, pair_best)
            ready = earliest.copy()
            won = (pair_best <= order_best[pj]) & (pair_best < at_earliest[pj])
            ready[pj[won]] = (pc + dt * k)[won]
            bound = float(order_best.sum() - (lam * slots).sum())
            if bound > best:
                best, best_lam, stale = bound, lam, 0
            else:
                stale += 1
                if stale >= 8:  # halve the step and go back to the best prices
                    theta, stale, lam = theta / 2, 0, best_lam
            if theta < 0.01:
                break
            # Subgradient: each group's cheapest start done by its order's C; dishes counted less
            # the slots, per limit and cell (not below 0 where the price is 0 already).
            late = np.floor((ready[g_j] - g_p) / dt) - g_a0
            price[np.arange(price.shape[1]) > late[:, None]] = np.inf
            start = np.minimum(g_a0 + np.argmin(price, axis=1), horizon)
            lo = g_row + start[:, None]  # (the option it takes: the cheapest at its start)
            taken = options[g_st, np.argmin(flat[lo + g_q[:, None]] - flat[lo], axis=1)]
            load = np.zeros((len(counted), horizon + 1))
            np.add.at(load, (taken, start), g_m)
            np.add.at(load, (taken, np.minimum(start + g_q, horizon)), -g_m)
            grad = counted.T @ np.cumsum(load, axis=1)[:, :horizon] - slots
            grad[(lam <= 0) & (grad < 0)] = 0.0
            norm = float((grad * grad).sum())
            if norm == 0:
                break
            lam = np.maximum(0.0, lam + theta * max(upper - bound, 1.0) / norm * grad)
        return best, best_lam

    by_limit = _options(names, limits, True)
    by_robot = _options(names, robots, False)
    found, lam = ascend(by_limit, np.zeros((len(limits), horizon)), iterations)
    # A robot's price is the sum of the prices of the limits with a station of it. A dish's
    # price on any robot of its station is then no less than its price on the limits (each
    # limit of its station has a station of that robot), and Σ price × slots is the same
    # when a limit's slots are those of its robots': the second part starts no lower.
    touch = np.zeros((len(robots), len(limits)))
    for i, (rs, _) in enumerate(robots):
        touch[i] = [bool(set(rs) & set(ls)) for ls, _ in limits]
    robot_found, robot_lam = ascend(by_robot, touch @ lam, robot_iterations)
    for (_, _, slots), best_lam, named in ((by_limit, lam, limits), (by_robot, robot_lam, robots)):
        weight = (best_lam * slots).sum(axis=1)
        if weight.size and weight.max() > 0:
            return max(found, robot_found), tuple(sorted(named[int(np.argmax(weight))][0]))
    return max(found, robot_found), ()
