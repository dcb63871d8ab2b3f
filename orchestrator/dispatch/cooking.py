"""Cook jobs: queued stream entries -> claimed jobs -> Cook goals -> results.

Entries wait here (per station, in stream order) until a robot has a free slot; the claim
raises the job's epoch in Redis (`store.jobs`), the goal carries it, and the result is written
under it, so a late answer from a superseded goal changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from orchestrator import ids
from orchestrator.dispatch.context import DispatchContext
from orchestrator.dispatch.delivery import Coming
from orchestrator.dispatch.fleet import Goal
from orchestrator.dispatch.policy import JobView, pick_cook
from orchestrator.store import jobs
from orchestrator.store.jobs import CookEntry

log = logging.getLogger(__name__)

# Real seconds before a goal nobody answered is sent again.
RESEND_AFTER_S = 1.0


@dataclass
class Pending:
    entry_id: str
    job: CookEntry
    failed_on: frozenset[str] = frozenset()
    # The robot that had the job when it was recovered: it gets it back if it is still there,
    # so a dish is not started twice.
    prefer: str = ''

    @property
    def job_id(self) -> str:
        return self.job.job_id


@dataclass
class Flight:
    pending: Pending
    robot_id: str
    epoch: int
    stage: str = ''
    # time.monotonic() when the goal went out: the robot starts at once (it had a free slot).
    sent_at: float = field(default_factory=time.monotonic)
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def job_id(self) -> str:
        return self.pending.job_id


class Cooking:
    def __init__(self, ctx: DispatchContext) -> None:
        self.ctx = ctx
        self.queue: dict[str, list[Pending]] = {s.id: [] for s in ctx.cfg.stations}
        self.flights: dict[str, Flight] = {}
        # Jobs whose claim is in flight.
        self.claiming: set[str] = set()

    def _known(self, job_id: str) -> bool:
        return (
            job_id in self.flights
            or job_id in self.claiming
            or any(p.job_id == job_id for q in self.queue.values() for p in q)
        )

    def coming(self) -> tuple[Coming, ...]:
        """Orders whose every uncooked dish is on a robot here, with when the last one should
        be done; an order with a dish still waiting for a robot has no estimate."""
        waiting = {p.job.order_id for q in self.queue.values() for p in q}
        waiting |= {ids.order_of_job(j) for j in self.claiming}
        etas: dict[str, Coming] = {}
        for f in self.flights.values():
            order_id, table_id = f.pending.job.order_id, f.pending.job.table_id
            if order_id in waiting or table_id not in self.ctx.cfg.table_by_id:
                continue
            eta = f.sent_at + f.pending.job.cook_time_s / self.ctx.time_scale
            known = etas.get(order_id)
            if known is None or eta > known.eta:
                etas[order_id] = Coming(order_id, table_id, eta)
        return tuple(etas.values())

    async def add_entries(self, entries: list[tuple[str, CookEntry]], fresh: bool) -> None:
        """Stream entries to queue. `fresh` ones were never delivered before, so their jobs
        are queued (the claim checks anyway); recovered ones are looked up first."""
        new = [(i, e) for i, e in entries if not self._known(e.job_id)]
        if not new:
            return
        known = {} if fresh else await jobs.get_many(self.ctx.r, (e.job_id for _, e in new))
        for entry_id, e in new:
            job = known.get(e.job_id)
            if not fresh and (job is None or job.status in jobs.SETTLED):
                await jobs.ack_entry(self.ctx.r, e.station, entry_id)
                continue
            if e.station not in self.queue:
                log.error('job %s names unknown station %r', e.job_id, e.station)
                continue
            in_flight = job is not None and job.status in jobs.IN_FLIGHT
            self.queue[e.station].append(
                Pending(
                    entry_id,
                    e,
                    frozenset(job.failed_on if job else ()),
                    job.robot if job is not None and in_flight else '',
                )
            )

    def _choose(self, p: Pending) -> str | None:
        robots = self.ctx.robots
        if p.prefer in robots and robots[p.prefer].mode != 'lost':
            # Not yet heard (we just started) or not yet reachable: wait for it.
            return p.prefer if robots[p.prefer].reachable else None
        return pick_cook(JobView(p.job_id, p.job.station, p.failed_on), robots)

    def schedule(self) -> None:
        """Hand every queued job a robot can take now to a claim task. The robot's slot is
        held while the claim is in flight, so claims run side by side (each is a Redis round
        trip with an fsync) without overbooking a robot."""
        for queue in self.queue.values():
            for p in list(queue):
                robot_id = self._choose(p)
                if robot_id is None:
                    continue
                queue.remove(p)
                self.claiming.add(p.job_id)
                self.ctx.robots[robot_id].assigned.add(p.job_id)
                self.ctx.spawn(self._claim(p, robot_id), f'claim {p.job_id}')

    async def _claim(self, p: Pending, robot_id: str) -> None:
        try:
            claim = await self.ctx.retrying(
                lambda: jobs.claim(
                    self.ctx.r, p.job_id, self.ctx.name, robot_id, self.ctx.lease_s, p.entry_id
                )
            )
        finally:
            self.claiming.discard(p.job_id)
            self.ctx.robots[robot_id].assigned.discard(p.job_id)
        if isinstance(claim, jobs.Claim):
            self._launch(p, robot_id, claim.epoch)
            return
        if claim in jobs.SETTLED or claim == 'missing':
            await jobs.ack_entry(self.ctx.r, p.job.station, p.entry_id)
        # Otherwise another dispatcher holds it; its entry comes back to us by XAUTOCLAIM
        # if that one dies.
        self.ctx.wake()

    def _launch(self, p: Pending, robot_id: str, epoch: int) -> None:
        old = self.flights.get(p.job_id)
        if old is not None and old.task is not None:
            old.task.cancel()
        flight = Flight(p, robot_id, epoch)
        self.flights[p.job_id] = flight
        self.ctx.robots[robot_id].assigned.add(p.job_id)
        flight.task = self.ctx.spawn(self._run(flight), f'cook {p.job_id}/{epoch}')

    async def _run(self, flight: Flight) -> None:
        goal: Goal | None = await self.ctx.ros.cook(
            flight.robot_id,
            jobs.entry_fields(flight.pending.job),
            flight.epoch,
            lambda fb: self._feedback(flight, fb),
        )
        if goal is None:
            # No answer: the robot may be restarting. It may also have the job in its ledger
            # already, so the job stays with it: ask again under a new epoch.
            await asyncio.sleep(RESEND_AFTER_S)
            await self._resend(flight)
            return
        if goal.result is None:
            await self._finish(flight, False, 'rejected', 'the robot refused the goal')
            return
        if not await self.ctx.retrying(
            lambda: jobs.mark_started(self.ctx.r, flight.job_id, flight.epoch, flight.robot_id)
        ):
            self._drop(flight)
            return
        result = await goal.result
        await self._finish(flight, result.succeeded, result.outcome, result.reason)

    async def _resend(self, flight: Flight) -> None:
        """The same job to the same robot under a new epoch (if the flight is still ours)."""
        if self.flights.get(flight.job_id) is not flight:
            return
        await self.ctx.until_reachable(flight.robot_id)
        if self.flights.get(flight.job_id) is not flight:
            return  # meanwhile handed elsewhere (its robot was lost again)
        claim = await self.ctx.retrying(
            lambda: jobs.claim(
                self.ctx.r,
                flight.job_id,
                self.ctx.name,
                flight.robot_id,
                self.ctx.lease_s,
                expect_epoch=flight.epoch,
            )
        )
        if isinstance(claim, jobs.Claim):
            log.info(
                're-sending %s to %s under epoch %d', flight.job_id, flight.robot_id, claim.epoch
            )
            self._launch(flight.pending, flight.robot_id, claim.epoch)
        else:
            log.warning(
                '%s/%d was taken over by another dispatcher (%s)',
                flight.job_id,
                flight.epoch,
                claim,
            )
            self._drop(flight)

    def _feedback(self, flight: Flight, fb: Any) -> None:
        if fb.stage == flight.stage or self.flights.get(flight.job_id) is not flight:
            return
        flight.stage = fb.stage

        async def record() -> None:
            if not await jobs.record_stage(
                self.ctx.r, flight.job_id, flight.epoch, fb.stage, fb.progress
            ):
                log.warning(
                    '%s/%d stage %s: fenced, taken over by another dispatcher',
                    flight.job_id,
                    flight.epoch,
                    fb.stage,
                )
                self._drop(flight)

        self.ctx.spawn(record(), f'stage {flight.job_id}')

    def _drop(self, flight: Flight) -> None:
        """Forget a flight that is no longer ours (fenced) or superseded."""
        if self.flights.get(flight.job_id) is flight:
            del self.flights[flight.job_id]
            self.ctx.robots[flight.robot_id].assigned.discard(flight.job_id)
            self.ctx.wake()

    async def _finish(self, flight: Flight, cooked: bool, outcome: str, reason: str) -> None:
        """The goal's terminal state: SUCCEEDED is a cooked dish, anything else a failure."""
        if self.flights.get(flight.job_id) is not flight:
            return  # superseded by a re-sent goal: its own flight reports
        r, job_id = self.ctx.r, flight.job_id
        if cooked:
            out = await self.ctx.retrying(
                lambda: jobs.complete(r, job_id, flight.epoch, flight.robot_id)
            )
            log.log(
                logging.WARNING if out == 'fenced' else logging.INFO,
                '%s cooked by %s under epoch %d: %s',
                job_id,
                flight.robot_id,
                flight.epoch,
                out,
            )
        else:
            out = await self.ctx.retrying(
                lambda: jobs.fail(
                    r,
                    job_id,
                    flight.epoch,
                    flight.robot_id,
                    f'{outcome}: {reason}'.strip(': '),
                    self.ctx.cfg.service.max_attempts,
                )
            )
            log.warning('%s %s on %s: %s -> %s', job_id, outcome, flight.robot_id, reason, out)
            if out == 'retry':
                p = flight.pending
                self.queue[p.job.station].append(
                    Pending(p.entry_id, p.job, p.failed_on | {flight.robot_id})
                )
        self._drop(flight)

    async def renew(self) -> None:
        """Keep the leases of flights on robots that are still there."""
        live = [f for f in self.flights.values() if self.ctx.robots[f.robot_id].mode != 'lost']
        for f in live:
            ok = await jobs.renew_lease(
                self.ctx.r, f.job_id, f.epoch, self.ctx.name, self.ctx.lease_s
            )
            if not ok and self.flights.get(f.job_id) is f:
                log.warning('%s/%d was taken over by another dispatcher', f.job_id, f.epoch)
                if f.task is not None:
                    f.task.cancel()
                self._drop(f)

    async def robot_back(self, robot_id: str) -> None:
        """The robot was silent or restarted: re-send its goals under a new epoch; it answers
        from its ledger what it already did and carries on with what it had started."""
        for f in [f for f in self.flights.values() if f.robot_id == robot_id]:
            await self._resend(f)

    def robot_gone(self, robot_id: str) -> None:
        """The robot is lost past the lease (which we stopped renewing): its jobs go back to
        the queue; the claim raises the epoch, so if it ever answers, it is refused."""
        for f in [f for f in self.flights.values() if f.robot_id == robot_id]:
            if f.task is not None:
                f.task.cancel()
            self._drop(f)
            p = f.pending
            self.queue[p.job.station].insert(
                0, Pending(p.entry_id, p.job, p.failed_on | {robot_id})
            )
