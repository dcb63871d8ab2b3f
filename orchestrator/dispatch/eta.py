"""Every diner's ETA: when the food should reach the table, from the kitchen's schedule.

An order still cooking is ready when the schedule played forward says so
(`Cooking.ready_times`); a ready order is ready now. Then a serving robot fetches it (the drive
from the nearest dock to the pass) and drives it to the table.
A new estimate is published (`store.orders.set_etas`, every order's in one round trip) only
when it moved by more than CHANGE_S simulated seconds, so a diner's page does not flicker, and
an overdue order's is not pushed later just because the clock went past it. The first one waits
until every dish of the order has been here (a drink may be cooked before the fries are read)
or is here or cooked: the stations' streams are read one at a time, and an estimate from the
drinks alone would be minutes early and would be the one the diner remembers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from orchestrator.config import RestaurantConfig
from orchestrator.dispatch.context import DispatchContext
from orchestrator.dispatch.scheduling import drive_s, pass_to_table_s
from orchestrator.store import orders

# Simulated seconds an estimate must move by before the diner hears of it.
CHANGE_S = 30.0
# Wall seconds the first estimate waits for the rest of its order's dishes at most (another
# dispatcher may hold some of them: then it is from this dispatcher's part).
FIRST_WAIT_S = 2.0
# A serving robot sets off for the pass this much earlier than its drive there takes
# (dispatch/serving.py stages it there for food about to be ready): predictions err, and only
# one robot waits there at a time. In the twin (20 seeds), Saturday's pass wait is 12 s at
# 1.5, 9 s at 3 and 7 s at 5, the mean ticket a few seconds shorter.
STAGE_MARGIN = 5.0


def fetch_s(cfg: RestaurantConfig) -> float:
    """From food ready to a robot leaving the pass with it: the drive from the nearest dock
    (a trip waits for a neighbour only when one is due, see delivery.due)."""
    floor = cfg.floor
    drive = min(
        drive_s(
            floor.length(r.dock, floor.pass_point.id),
            r.speed_mps,
            r.max_accel_mps2,
        )
        for r in cfg.serving_robots
    )
    return drive


class Etas:
    def __init__(self, ctx: DispatchContext) -> None:
        self.ctx = ctx
        self._fetch_s = fetch_s(ctx.cfg)
        self._travel_s = pass_to_table_s(ctx.cfg)
        # order id -> the estimate last published (simulated seconds).
        self._published: dict[str, float] = {}
        # order id -> when it was first seen without all its dishes here (time.monotonic()),
        # and the ids of its jobs seen here since.
        self._incomplete: dict[str, tuple[float, set[str]]] = {}
        # Orders with no estimate yet because no robot could take some dish when last played
        # (one not heard yet, paused, or every one able to has failed it).
        self._uncookable: set[str] = set()

    def arrival_s(self, table_id: str, ready_s: float) -> float:
        return ready_s + self._fetch_s + self._travel_s.get(table_id, 0.0)

    async def publish(
        self, ready: Mapping[str, tuple[str, float]], here: Mapping[str, set[str]]
    ) -> None:
        """`ready`: order id -> (table id, when its food is ready, simulated seconds); `here`:
        order id -> the ids of its jobs the dispatcher has (waiting, starting, cooking)."""
        scale = self.ctx.time_scale
        unheard = [o for o, (_, t) in ready.items() if t != math.inf and o not in self._published]
        partial = await self._partial(unheard, here)
        now_s = time.time() * scale
        moved: dict[str, int] = {}
        self._uncookable = {
            o for o, (_, t) in ready.items() if t == math.inf and o not in self._published
        }
        for order_id, (table_id, ready_s) in ready.items():
            if ready_s == math.inf or order_id in partial:
                continue
            at = self.arrival_s(table_id, max(ready_s, now_s))
            last = self._published.get(order_id)
            if last is not None and (abs(at - last) < CHANGE_S or (ready_s < now_s and at > last)):
                # An overdue order's estimate would only follow the clock: the diner's page
                # already says "any moment" once it has passed.
                continue
            self._published[order_id] = at
            moved[order_id] = int(at / scale * 1000)
        await orders.set_etas(self.ctx.r, moved)
        # Orders on their way (or gone) get their ETA from the robot now.
        for order_id in set(self._published) - set(ready):
            del self._published[order_id]
        for order_id in set(self._incomplete) - set(ready):
            del self._incomplete[order_id]

    def awaits_first(self, order_id: str) -> bool:
        """Whether the order's first estimate waits for the rest of its dishes or for a robot
        able to cook them."""
        return order_id in self._incomplete or order_id in self._uncookable

    async def _partial(self, order_ids: list[str], here: Mapping[str, set[str]]) -> set[str]:
        """Those of `order_ids` (one Redis round trip for all) with a job not yet seen here
        and not cooked, unless they waited FIRST_WAIT_S for it."""
        if not order_ids:
            return set()
        now, out = time.monotonic(), set()
        for record in await orders.get_many(self.ctx.r, order_ids):
            jobs = here.get(record.id, set())
            since, seen = self._incomplete.setdefault(record.id, (now, set()))
            seen |= jobs
            if whole(len(seen), len(jobs), record.jobs_cooked, record.jobs_total) or (
                now - since >= FIRST_WAIT_S
            ):
                del self._incomplete[record.id]
            else:
                out.add(record.id)
        return out


def whole(seen: int, here: int, cooked: int, total: int) -> bool:
    """Whether an order's first estimate can count all its `total` jobs: each was `seen` here
    (with one dispatcher, one may be cooked before the last is read; its completion may not be
    recorded yet), or each is here now or `cooked` (others cooked some)."""
    return seen >= total or here + cooked >= total
