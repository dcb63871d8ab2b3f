"""Simulated diners: parties that arrive, sit, order through the real HTTP API, take their food
off the robot, ask for the bill, split and pay it through the simulated payment provider and
leave — all on one accelerated clock.

Simulated time runs `speed` times faster than the wall clock from the moment the rush starts;
it is derived from the wall clock (epoch seconds) so the orders' timeline timestamps convert to
the same scale. Every diner action has a scheduled simulated time; how late it really happened
(event-loop and HTTP latency, scaled) is kept as the wall clock's scheduling jitter.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import secrets
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from orchestrator.config import RestaurantConfig, Table
from orchestrator.rush.scenario import Scenario
from orchestrator.store.orders import ARRIVED, FINAL, SERVED

# Wall seconds between two progress-bar redraws.
PROGRESS_EVERY_S = 0.5
# Characters of the bar; a multiple of 10 (a non-terminal gets a line per tenth).
BAR_WIDTH = 30
# Most shares one party splits its bill into.
MAX_WAYS = 8
# Wall seconds between two looks at a bill being paid or a table being closed.
POLL_S = 0.1


@dataclass
class SimClock:
    speed: float
    start: float = field(default_factory=time.time)

    def now(self) -> float:
        """Simulated seconds since the rush started."""
        return (time.time() - self.start) * self.speed

    def at_ms(self, epoch_ms: int | float) -> float:
        """A wall timestamp (ms since the epoch, as in the timeline) in simulated seconds."""
        return (epoch_ms / 1000 - self.start) * self.speed

    async def sleep_until(self, sim_s: float) -> float:
        """Wait for simulated time `sim_s`; returns how late we woke (simulated seconds)."""
        delay = sim_s / self.speed - (time.time() - self.start)
        if delay > 0:
            await asyncio.sleep(delay)
        return max(0.0, self.now() - sim_s)


@dataclass
class Party:
    party_id: int
    size: int
    arrive_s: float
    dishes: list[str]
    order_after_s: float
    pickup_after_s: float
    dine_s: float
    # What happened, in simulated seconds since the start.
    table_id: str | None = None
    seated_s: float | None = None
    order_id: str | None = None
    served_s: float | None = None
    turned_away: bool = False
    final_status: str | None = None
    error: str | None = None
    pickups: int = 0
    pickups_refused: int = 0
    # How the party pays: shares (1 = one bill) and how many payments are declined once.
    ways: int = 1
    declines_planned: int = 0
    bill_s: float | None = None
    paid_s: float | None = None
    declined: int = 0
    # The party has left (and its table is free again, if it paid).
    left: bool = False

    @property
    def settled(self) -> bool:
        """Nothing more will happen to this party."""
        return self.turned_away or self.left or self.error is not None


def plan_parties(scenario: Scenario, cfg: RestaurantConfig) -> list[Party]:
    """Every party of the service, drawn from the scenario with its seed (reproducible)."""
    rng = random.Random(scenario.seed)
    # Payments draw from their own stream, so that arrivals and orders stay those of the seed.
    pay_rng = random.Random(scenario.seed + 1)
    dish_ids = list(scenario.popularity)
    weights = [scenario.popularity[d] for d in dish_ids]
    end_s = scenario.duration_min * 60
    parties: list[Party] = []
    bounds = [w.from_min * 60 for w in scenario.arrivals[1:]] + [end_s]
    for window, until_s in zip(scenario.arrivals, bounds, strict=True):
        t = window.from_min * 60
        # Poisson arrivals are memoryless, so each window starts its own clock.
        while window.parties_per_hour > 0:
            t += rng.expovariate(window.parties_per_hour / 3600)
            if t >= min(until_s, end_s):
                break
            size = rng.randint(int(scenario.party_size.min), int(scenario.party_size.max))
            want = size * scenario.dishes_per_guest
            count = max(1, math.floor(want) + (rng.random() < want - math.floor(want)))
            ways = (
                min(size, MAX_WAYS) if size > 1 and pay_rng.random() < scenario.split_share else 1
            )
            declines = sum(pay_rng.random() < scenario.decline_share for _ in range(ways))
            parties.append(
                Party(
                    party_id=len(parties) + 1,
                    size=size,
                    arrive_s=t,
                    dishes=rng.choices(dish_ids, weights, k=count),
                    order_after_s=_draw(rng, scenario.order_after_s),
                    pickup_after_s=_draw(rng, scenario.pickup_after_s),
                    dine_s=_draw(rng, scenario.dine_min) * 60,
                    ways=ways,
                    declines_planned=declines,
                )
            )
    return parties


def _draw(rng: random.Random, span: Any) -> float:
    return rng.uniform(span.min, span.max)


class Host:
    """Seats parties at the smallest free table that fits; the others wait at the door."""

    def __init__(self, tables: list[Table]) -> None:
        self.free = sorted(tables, key=lambda t: (t.seats, t.id))
        self._changed = asyncio.Condition()

    async def seat(self, size: int, timeout_wall_s: float) -> Table | None:
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self._fitting(size) is not None),
                    timeout_wall_s,
                )
            except TimeoutError:
                return None
            table = self._fitting(size)
            assert table is not None
            self.free.remove(table)
            return table

    def _fitting(self, size: int) -> Table | None:
        return next((t for t in self.free if t.seats >= size), None)

    async def release(self, table: Table) -> None:
        async with self._changed:
            self.free.append(table)
            self.free.sort(key=lambda t: (t.seats, t.id))
            self._changed.notify_all()


@dataclass
class Diners:
    """Runs the parties against the API at `base_url`; `tokens` maps table id to QR token."""

    cfg: RestaurantConfig
    scenario: Scenario
    clock: SimClock
    client: httpx.AsyncClient
    tokens: dict[str, str]
    parties: list[Party]
    # Simulated seconds each diner action happened after its scheduled time, by action.
    lags: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.host = Host(self.scenario.seating(self.cfg))
        self._logged_tenths = 0

    def _lag(self, action: str, late_s: float) -> None:
        self.lags.setdefault(action, []).append(late_s)

    async def run(self, drain_s: float) -> None:
        """Play the service; then give seated parties up to `drain_s` more simulated seconds
        to be served (how long they linger afterwards no longer matters to anyone)."""
        tasks = [asyncio.create_task(self._party(p)) for p in self.parties]
        progress = asyncio.create_task(self._progress())
        deadline_s = self.scenario.duration_min * 60 + drain_s
        try:
            while not all(p.settled for p in self.parties) and self.clock.now() < deadline_s:
                for task in tasks:
                    if task.done():
                        task.result()  # a diner's bug ends the rush with its traceback
                await asyncio.sleep(0.1)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            progress.cancel()
            await asyncio.gather(progress, return_exceptions=True)
            self._draw_progress(final=True)

    async def _party(self, p: Party) -> None:
        self._lag('arrive', await self.clock.sleep_until(p.arrive_s))
        wait_wall_s = self.scenario.max_queue_wait_min * 60 / self.clock.speed
        table = await self.host.seat(p.size, wait_wall_s)
        if table is None:
            p.turned_away = True
            return
        p.table_id, p.seated_s = table.id, self.clock.now()
        try:
            self._lag('order', await self.clock.sleep_until(p.seated_s + p.order_after_s))
            await self._order(p)
            if p.order_id is not None:
                await self._follow(p)
            if p.served_s is not None:
                self._lag('leave', await self.clock.sleep_until(p.served_s + p.dine_s))
                if await self._pay(p):
                    await self._table_free(p)
        except httpx.HTTPError as e:
            p.error = f'{type(e).__name__}: {e}'
        finally:
            p.left = True
            await self.host.release(table)

    async def _order(self, p: Party) -> None:
        assert p.table_id is not None
        items = [{'dish_id': d, 'quantity': n} for d, n in Counter(p.dishes).items()]
        resp = await self.client.post(
            f'/api/tables/{self.tokens[p.table_id]}/orders',
            json={'items': items},
            headers={'Idempotency-Key': f'rush-{p.party_id}-{secrets.token_hex(6)}'},
        )
        if resp.status_code != 201:
            p.error = f'order refused: HTTP {resp.status_code} {resp.text[:200]}'
            return
        p.order_id = resp.json()['id']

    async def _follow(self, p: Party) -> None:
        """Follow the order's live status (SSE) until it is final; take the food off the robot
        `pickup_after_s` after each arrival."""
        pickups: list[asyncio.Task[None]] = []
        try:
            async for event in self._events(p):
                if event['type'] == 'delivery.arrived' and event['status'] == ARRIVED:
                    due = self.clock.at_ms(event['at']) + p.pickup_after_s
                    pickups.append(asyncio.create_task(self._pickup(p, due)))
                if event['status'] in FINAL:
                    p.final_status = event['status']
                    if event['status'] == SERVED:
                        p.served_s = self.clock.at_ms(event['at'])
                    return
        finally:
            for task in pickups:
                task.cancel()
            await asyncio.gather(*pickups, return_exceptions=True)

    async def _events(self, p: Party) -> AsyncIterator[dict[str, Any]]:
        assert p.table_id is not None and p.order_id is not None
        url = f'/api/tables/{self.tokens[p.table_id]}/orders/{p.order_id}/events'
        last_id = ''
        while True:
            headers = {'Accept': 'text/event-stream'}
            if last_id:
                headers['Last-Event-ID'] = last_id
            try:
                async with self.client.stream('GET', url, headers=headers, timeout=None) as resp:
                    resp.raise_for_status()
                    async for line in resp.aiter_lines():
                        if line.startswith('id: '):
                            last_id = line[4:]
                        elif line.startswith('data: '):
                            yield json.loads(line[6:])
                return
            except httpx.TransportError:
                await asyncio.sleep(0.2)  # the stream dropped: resume from the last event

    async def _pickup(self, p: Party, due_s: float) -> None:
        assert p.table_id is not None
        self._lag('pickup', await self.clock.sleep_until(due_s))
        resp = await self.client.post(
            f'/api/tables/{self.tokens[p.table_id]}/orders/{p.order_id}/pickup'
        )
        p.pickups += 1
        if resp.status_code != 202:
            p.pickups_refused += 1

    def _table_url(self, p: Party, path: str) -> str:
        assert p.table_id is not None
        return f'/api/tables/{self.tokens[p.table_id]}{path}'

    async def _pay(self, p: Party) -> bool:
        """Ask for the bill, split it evenly if the party does, and pay every share through the
        simulated provider's page (declined once for the planned payments, then again
        `retry_after_s` later). True once paid in full."""
        res = await self.client.post(self._table_url(p, '/bill/request'))
        if res.status_code != 200:
            p.error = f'bill refused: HTTP {res.status_code} {res.text[:200]}'
            return False
        p.bill_s = self.clock.now()
        if not res.json()['total']:
            return False  # nothing to pay (everything cancelled): nobody closes the table
        if p.ways > 1:
            split = await self.client.post(
                self._table_url(p, '/bill/split'), json={'mode': 'even', 'ways': p.ways}
            )
            split.raise_for_status()
        bill = (await self.client.get(self._table_url(p, '/bill'))).json()
        declines = p.declines_planned
        for share in [s for s in bill['shares'] if s['status'] == 'open']:
            while True:
                decline = declines > 0
                if not await self._pay_share(p, share['id'], approve=not decline):
                    return False
                if not decline:
                    break
                declines -= 1
                p.declined += 1
                await self.clock.sleep_until(self.clock.now() + self.scenario.retry_after_s)
        p.paid_s = self.clock.now()
        return True

    async def _pay_share(self, p: Party, share_id: str, approve: bool) -> bool:
        """One payment of a share: the phone goes to the checkout page and decides."""
        res = await self.client.post(
            self._table_url(p, '/payments'),
            json={'share_id': share_id},
            headers={'Idempotency-Key': f'rush-pay-{secrets.token_hex(8)}'},
        )
        if res.status_code not in (200, 201):
            p.error = f'payment refused: HTTP {res.status_code} {res.text[:200]}'
            return False
        checkout = urlsplit(res.json()['checkout_url'])
        form = {k: v[0] for k, v in parse_qs(checkout.query).items()}
        form['decision'] = 'approve' if approve else 'decline'
        decided = await self.client.post(checkout.path, data=form)
        if decided.status_code != 303:
            p.error = f'checkout failed: HTTP {decided.status_code} {decided.text[:200]}'
            return False
        return True

    async def _table_free(self, p: Party) -> None:
        """The party leaves; the next one sits once the table is closed (paid in full, closed
        `service.close_after_paid_s` after the last payment)."""
        wait_s = (self.cfg.service.close_after_paid_s + 60) / self.clock.speed
        deadline = time.monotonic() + max(wait_s, 5.0)
        while time.monotonic() < deadline:
            visit = (await self.client.get(self._table_url(p, '/visit'))).json()
            if visit['session'] is None:
                return
            await asyncio.sleep(POLL_S)
        p.error = 'the table was not closed after paying in full'

    async def _progress(self) -> None:
        while True:
            self._draw_progress()
            await asyncio.sleep(PROGRESS_EVERY_S)

    def _draw_progress(self, final: bool = False) -> None:
        total_s = self.scenario.duration_min * 60
        now_s = self.clock.now()
        filled = min(BAR_WIDTH, int(BAR_WIDTH * now_s / total_s))
        arrived = sum(p.arrive_s <= now_s for p in self.parties)
        ordered = sum(p.order_id is not None for p in self.parties)
        served = sum(p.served_s is not None for p in self.parties)
        paid = sum(p.paid_s is not None for p in self.parties)
        line = (
            f'\r[{"#" * filled}{"." * (BAR_WIDTH - filled)}] {_hhmm(now_s)}/{_hhmm(total_s)} '
            f'simulated  parties {arrived}/{len(self.parties)}  orders {ordered}  '
            f'served {served}  paid {paid}'
        )
        if sys.stderr.isatty():
            print(line, end='\n' if final else '', file=sys.stderr, flush=True)
        elif final or filled // 3 > self._logged_tenths:
            # Not a terminal (CI log, pipe): a line per tenth of the service instead.
            self._logged_tenths = filled // 3
            print(line.lstrip('\r'), file=sys.stderr, flush=True)


def _hhmm(sim_s: float) -> str:
    minutes = int(sim_s // 60)
    return f'{minutes // 60}:{minutes % 60:02d}'
