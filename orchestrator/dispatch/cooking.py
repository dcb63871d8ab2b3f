"""Cook jobs: queued stream entries -> claimed jobs -> Cook goals -> results.

Entries wait here (per station, in stream order) until a robot has a free slot; the claim
raises the job's epoch in Redis (`store.jobs`), the goal carries it, and the result is written
under it, so a late answer from a superseded goal changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from typing import Any

from orchestrator.dispatch.context import DispatchContext
from orchestrator.dispatch.delivery import Coming
from orchestrator.dispatch.ros_bridge import Goal
from orchestrator.dispatch.scheduling import CookerView, DishView, Policy, Snapshot, eta
from orchestrator.store import jobs, replication
from orchestrator.store.jobs import CookEntry

log = logging.getLogger(__name__)

# Real seconds before a goal nobody answered is sent again.
RESEND_AFTER_S = 1.0
# The stages Cook feedback names (Cook.action). Feedback is not signed (README "Security"):
# another stage, or a progress outside 0-1 (NaN too), is neither written nor shown.
COOK_STAGES = frozenset({'queued', 'prep', 'cook', 'plate'})


def plausible_stage(stage: str, progress: float) -> bool:
    return stage in COOK_STAGES and 0.0 <= progress <= 1.0


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
    # Wall clock (ns) until which the claim's lease lasts at least (taken before the claim):
    # the robot holds the job after it unless a renewal's `lease` message comes.
    lease_until_ns: int = 0
    stage: str = ''
    # time.monotonic() when the goal went out: the robot starts at once (it had a free slot).
    sent_at: float = field(default_factory=time.monotonic)
    # The same on the wall clock, for the schedule's simulated clock.
    sent_wall: float = field(default_factory=time.time)
    # The robot accepted the goal: from then on its heartbeats list the job until it is done.
    accepted: bool = False
    # Its result came: the slot is free, though the flight stays until the result is written.
    done: bool = False
    # Feedback of it was ignored (`plausible_stage`) and logged: once per flight.
    odd_feedback: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def job_id(self) -> str:
        return self.pending.job_id


# What became of a job, by its settled status, as the log says it.
SETTLED_HOW = {
    jobs.WASTED: 'cancelled while cooking',
    jobs.WITHDRAWN: 'cancelled',
    jobs.COOKED: 'cooked: bumped by hand, or its result came',
    jobs.DEAD: 'dead-lettered',
}


def _not_sent_again(status: str) -> str:
    """Why a job we held was not claimed again (the claim's answer), for the log: it is over
    (until 2026-12-05 a cancelled dish was logged as taken over), or another dispatcher has
    it."""
    if status in SETTLED_HOW:
        return f'is over ({status}: {SETTLED_HOW[status]}), not sent again'
    return f'was taken over by another dispatcher ({status})'


def entry_s(entry_id: str) -> float:
    """When a stream entry was added (wall seconds): its id's millisecond part."""
    return int(entry_id.split('-', 1)[0]) / 1000


class Cooking:
    def __init__(
        self,
        ctx: DispatchContext,
        policy: Policy,
        on_progress: Callable[[str], None],
    ) -> None:
        """`policy` decides which queued dish starts on which robot (dispatch/scheduling.py);
        `on_progress(order_id)` hears of each dish sent to a robot and each whose completion
        is recorded."""
        self.ctx = ctx
        self.policy = policy
        self.on_progress = on_progress
        self.queue: dict[str, list[Pending]] = {s.id: [] for s in ctx.cfg.stations}
        self.flights: dict[str, Flight] = {}
        # Jobs whose claim is in flight, and the robot each goes to.
        self.claiming: dict[str, tuple[Pending, str]] = {}
        # The latest stage of each job not yet in Redis (its writer is running): stages seen
        # during an outage collapse into the last one.
        self._stages: dict[str, tuple[Flight, Any]] = {}

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
        waiting |= {p.job.order_id for p, _ in self.claiming.values()}
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
        new: list[tuple[str, CookEntry]] = []
        batch: set[str] = set()
        for entry_id, e in entries:
            # One batch may hold two entries of one job (the dead dispatcher's, reclaimed, and
            # its requeue): queued twice, the policy would start it twice. The other entry is
            # settled when it comes back (reclaimed again once the job is done).
            if e.job_id not in batch and not self._known(e.job_id):
                batch.add(e.job_id)
                new.append((entry_id, e))
        if not new:
            return
        known = {} if fresh else await jobs.get_many(self.ctx.r, (e.job_id for _, e in new))
        for entry_id, e in new:
            if self._known(e.job_id):
                continue  # queued by a read of new entries while this one looked the jobs up
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

    def _returning(self, p: Pending) -> bool:
        """A recovered job goes back to the robot that had it (its ledger knows the dish), not
        to the policy, unless that robot is lost."""
        robots = self.ctx.robots
        return p.prefer in robots and robots[p.prefer].mode != 'lost'

    def snapshot(self) -> Snapshot:
        """What the policy decides on, in simulated seconds: the dishes waiting for a robot,
        every cooking robot's free slots and when the dishes it cooks are due."""
        scale, now = self.ctx.time_scale, time.time()
        due: dict[str, list[float]] = {}
        in_flight: dict[str, float] = {}
        # A done dish's slot is free already: listed as cooking too, a play of the queue would
        # free it twice (`scheduling._held`).
        started = [
            (f.pending, f.robot_id, f.sent_wall) for f in self.flights.values() if not f.done
        ]
        # A dish whose claim is in flight starts as soon as the claim is through.
        started += [(p, robot_id, now) for p, robot_id in self.claiming.values()]
        for p, robot_id, sent in started:
            done = sent * scale + p.job.cook_time_s
            due.setdefault(robot_id, []).append(done)
            in_flight[p.job.order_id] = max(done, in_flight.get(p.job.order_id, done))
        pending = [
            DishView(
                p.job_id,
                p.job.order_id,
                p.job.table_id,
                p.job.station,
                p.job.cook_time_s,
                (p.job.arrived_at / 1000 or entry_s(p.entry_id)) * scale,
                p.failed_on,
            )
            for q in self.queue.values()
            for p in q
            if not self._returning(p)
        ]
        cookers = tuple(
            CookerView(
                v.robot_id,
                v.stations,
                v.capacity,
                max(0, v.free),
                tuple(due.get(v.robot_id, ())),
                v.available,
            )
            for v in self.ctx.robots.values()
            if v.kind == 'cooking'
        )
        return Snapshot(
            now * scale,
            tuple(sorted(pending, key=lambda d: d.arrived_s)),
            cookers,
            in_flight,
            tuple(s.id for s in self.ctx.cfg.stations),
        )

    def schedule(self) -> None:
        """Hand every queued job the policy starts now to a claim task. The robot's slot is
        held while the claim is in flight, so claims run side by side (each is a Redis round
        trip with an fsync) without overbooking a robot."""
        for queue in self.queue.values():
            for p in [p for p in queue if self._returning(p)]:
                # Not yet heard (we just started) or not yet reachable: wait for it.
                if self.ctx.robots[p.prefer].reachable:
                    self._start(p, p.prefer)
        waiting = {p.job_id: p for q in self.queue.values() for p in q}
        for a in self.policy(self.snapshot()):
            self._start(waiting[a.job_id], a.robot_id)

    def jobs_here(self) -> dict[str, set[str]]:
        """Per order: the ids of its jobs that are here (waiting, being claimed or cooking)."""
        here: dict[str, set[str]] = defaultdict(set)
        for p in chain(
            (p for q in self.queue.values() for p in q),
            (p for p, _ in self.claiming.values()),
            (f.pending for f in self.flights.values()),
        ):
            here[p.job.order_id].add(p.job_id)
        return here

    async def ready_times(self) -> dict[str, tuple[str, float]]:
        """Order id -> (table id, when it should be ready in simulated seconds) of every order
        still cooking here: the known queue played forward with the policy, in a worker thread
        (a rush queue takes tens of milliseconds to play; leases and heartbeats must not wait)."""
        tables = {p.job.order_id: p.job.table_id for q in self.queue.values() for p in q}
        tables |= {f.pending.job.order_id: f.pending.job.table_id for f in self.flights.values()}
        tables |= {p.job.order_id: p.job.table_id for p, _ in self.claiming.values()}
        ready = await asyncio.to_thread(eta, self.snapshot(), self.policy)
        return {
            order_id: (tables[order_id], ready_s)
            for order_id, ready_s in ready.items()
            if order_id in tables
        }

    def _start(self, p: Pending, robot_id: str) -> None:
        self.queue[p.job.station].remove(p)
        self.claiming[p.job_id] = (p, robot_id)
        self.ctx.robots[robot_id].assigned.add(p.job_id)
        self.ctx.spawn(self._claim(p, robot_id), f'claim {p.job_id}')
        self.on_progress(p.job.order_id)

    def _lease_end_ns(self) -> int:
        """Until when the robot may go on with a job we send or renew now (wall clock)."""
        return time.time_ns() + int(self.ctx.hold_s * 1e9)

    async def _claim(self, p: Pending, robot_id: str) -> None:
        try:
            claim, lease_until_ns = await self._take(p.job_id, robot_id, p.entry_id)
        finally:
            self.claiming.pop(p.job_id, None)
            self.ctx.robots[robot_id].assigned.discard(p.job_id)
        if isinstance(claim, jobs.Claim):
            self._launch(p, robot_id, claim.epoch, lease_until_ns)
            return
        if claim in jobs.SETTLED or claim == 'missing':
            await jobs.ack_entry(self.ctx.r, p.job.station, p.entry_id)
        # Otherwise another dispatcher holds it; its entry comes back to us by XAUTOCLAIM
        # if that one dies.
        self.ctx.wake()

    async def _take(
        self, job_id: str, robot_id: str, entry_id: str = '', expect_epoch: int | None = None
    ) -> tuple[jobs.Claim | str, int]:
        """Claim the job for the robot: the claim (or the job's status) and the hold its goal
        gives the robot (wall ns). With replicas configured the goal waits until one has the
        claim: a failover would roll back a claim no replica had, and the job would be claimed
        again under the same epoch, maybe for another robot, while this one cooks it. Meanwhile
        the lease is renewed; a job fenced or settled meanwhile comes back as 'fenced'."""
        lease_until_ns = self._lease_end_ns()
        claim = await self.ctx.retrying(
            lambda: jobs.claim(
                self.ctx.r,
                job_id,
                self.ctx.name,
                robot_id,
                self.ctx.lease_s,
                entry_id,
                expect_epoch,
                lease_until_ns,
                self.ctx.replicas,
            )
        )
        if not isinstance(claim, jobs.Claim) or claim.replicated:
            return claim, lease_until_ns
        epoch = claim.epoch

        async def renew() -> tuple[bool, bool]:
            nonlocal lease_until_ns
            lease_until_ns = self._lease_end_ns()  # the goal gives the robot the latest hold
            lease = jobs.Lease(job_id, epoch, lease_until_ns)
            renewal = partial(
                jobs.renew_leases,
                self.ctx.r,
                self.ctx.name,
                self.ctx.lease_s,
                [lease],
                self.ctx.replicas,
            )
            (found,), replicated = await self.ctx.retrying(renewal)
            return found == jobs.RENEWED, replicated

        if await replication.confirmed(renew, f'claim {job_id}/{epoch}'):
            return claim, lease_until_ns
        return 'fenced', 0

    def _launch(self, p: Pending, robot_id: str, epoch: int, lease_until_ns: int) -> None:
        old = self.flights.get(p.job_id)
        if old is not None and old.task is not None:
            old.task.cancel()
        flight = Flight(p, robot_id, epoch, lease_until_ns)
        self.flights[p.job_id] = flight
        self.ctx.robots[robot_id].assigned.add(p.job_id)
        flight.task = self.ctx.spawn(self._run(flight), f'cook {p.job_id}/{epoch}')

    async def _run(self, flight: Flight) -> None:
        goal: Goal | None = await self.ctx.ros.cook(
            flight.robot_id,
            jobs.entry_fields(flight.pending.job),
            flight.epoch,
            lambda fb: self._feedback(flight, fb),
            flight.lease_until_ns,
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
        flight.accepted = True
        result = await goal.result
        await self._finish(flight, result.succeeded, result.outcome, result.reason)

    async def _resend(self, flight: Flight) -> None:
        """The same job to the same robot under a new epoch (if the flight is still ours)."""
        if self.flights.get(flight.job_id) is not flight:
            return
        await self.ctx.until_reachable(flight.robot_id)
        if self.flights.get(flight.job_id) is not flight or self.ctx.silent(flight.robot_id):
            return  # meanwhile handed elsewhere, or it went quiet (re-sent when it is back)
        claim, lease_until_ns = await self._take(
            flight.job_id, flight.robot_id, expect_epoch=flight.epoch
        )
        if isinstance(claim, jobs.Claim):
            log.info(
                're-sending %s to %s under epoch %d', flight.job_id, flight.robot_id, claim.epoch
            )
            self._launch(flight.pending, flight.robot_id, claim.epoch, lease_until_ns)
        else:
            log.warning('%s/%d %s', flight.job_id, flight.epoch, _not_sent_again(claim))
            self._drop(flight)

    def accepted_on(self, robot_id: str) -> list[str]:
        """Jobs whose goal the robot accepted and whose result has not come (asked at every
        heartbeat: the robot's own flights, which its view holds, not every flight)."""
        flights = (self.flights.get(j) for j in self.ctx.robots[robot_id].assigned)
        return [f.job_id for f in flights if f and f.accepted and f.robot_id == robot_id]

    async def result_lost(self, job_id: str) -> None:
        """The robot no longer holds the job and its result never came: send it again."""
        if (flight := self.flights.get(job_id)) is not None:
            await self._resend(flight)

    def _feedback(self, flight: Flight, fb: Any) -> None:
        if fb.stage == flight.stage or self.flights.get(flight.job_id) is not flight:
            return
        if not plausible_stage(fb.stage, fb.progress):
            if not flight.odd_feedback:
                flight.odd_feedback = True
                log.warning(
                    '%s: feedback from %s ignored (stage %r, progress %r): Cook feedback names '
                    'a stage of %s with a progress in 0-1',
                    flight.job_id,
                    flight.robot_id,
                    str(fb.stage)[:40],
                    fb.progress,
                    sorted(COOK_STAGES),
                )
            return
        flight.stage = fb.stage
        writing = flight.job_id in self._stages
        self._stages[flight.job_id] = (flight, fb)
        if not writing:
            self.ctx.spawn(self._record_stages(flight.job_id), f'stage {flight.job_id}')

    async def _record_stages(self, job_id: str) -> None:
        """Write the job's latest stage until none is left, waiting out a Redis outage (a
        stage is retried, never dropped; each attempt writes the newest one seen)."""
        try:
            while job_id in self._stages:
                latest, ok = await self.ctx.retrying(lambda: self._record_latest(job_id))
                if self._stages.get(job_id) is latest:
                    del self._stages[job_id]
                if not ok:
                    flight, fb = latest
                    log.warning(
                        '%s/%d stage %s: fenced, taken over by another dispatcher',
                        job_id,
                        flight.epoch,
                        fb.stage,
                    )
                    self._drop(flight)
        except BaseException:
            self._stages.pop(job_id, None)  # the next stage starts a writer of its own
            raise

    async def _record_latest(self, job_id: str) -> tuple[tuple[Flight, Any], bool]:
        latest = self._stages[job_id]
        flight, fb = latest
        return latest, await jobs.record_stage(
            self.ctx.r, job_id, flight.epoch, fb.stage, fb.progress
        )

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
        # The robot is done with it: its slot takes the next dish now, not once its next
        # heartbeat stops reporting this one.
        robot = self.ctx.robots[flight.robot_id]
        flight.done = True
        robot.released.add(job_id)
        robot.assigned.discard(job_id)
        self.ctx.wake()
        if cooked:
            out = await self.ctx.retrying(
                lambda: jobs.complete(r, job_id, flight.epoch, flight.robot_id)
            )
            self.on_progress(flight.pending.job.order_id)
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
        """Keep the leases of flights on robots that are still there, and tell each robot (a
        signed `lease`) until when its jobs are ours: it holds a job whose lease ran out."""
        lease_until_ns = self._lease_end_ns()
        live = [f for f in self.flights.values() if self.ctx.robots[f.robot_id].mode != 'lost']
        # Not to an unreachable robot, even if it might hear us: the lease it holds ends
        # `hold_s` after it was last heard (give or take the watch's tick), when its jobs may
        # go elsewhere. Who is told is fixed before the renewals record it.
        told = {f.job_id for f in live if not self.ctx.silent(f.robot_id)}
        if not live:
            return
        found, replicated = await jobs.renew_leases(
            self.ctx.r,
            self.ctx.name,
            self.ctx.lease_s,
            [
                jobs.Lease(f.job_id, f.epoch, lease_until_ns if f.job_id in told else 0)
                for f in live
            ],
            self.ctx.replicas,
        )
        for f, outcome in zip(live, found, strict=True):
            if self.flights.get(f.job_id) is not f:
                continue
            if outcome == jobs.FENCED:
                log.warning('%s/%d was taken over by another dispatcher', f.job_id, f.epoch)
            elif outcome == jobs.SETTLED_MEANWHILE and not f.done:
                # Cancelled or bumped, and the robot was not told (the cancel command expired
                # or went unanswered): no more leases; the stray check tells the robot until
                # it stops listing the dish.
                log.warning(
                    '%s/%d is over (cancelled or bumped meanwhile): %s is told to drop it',
                    f.job_id,
                    f.epoch,
                    f.robot_id,
                )
            else:
                continue
            if f.task is not None:
                f.task.cancel()
            self._drop(f)
        if not replicated:
            # The robots go on with the holds they were told before, which a replica has.
            log.warning('no replica confirmed the lease renewals: the robots are not told')
            return
        held: dict[str, list[tuple[str, int]]] = {}
        for f in live:
            if self.flights.get(f.job_id) is f and f.job_id in told:
                held.setdefault(f.robot_id, []).append((f.job_id, f.epoch))
        for robot_id, leased in held.items():
            self.ctx.ros.lease(robot_id, leased, lease_until_ns)

    def strays(self, robot_id: str, reported: dict[str, int]) -> dict[str, int]:
        """Jobs (and the epoch it holds) a cooking robot reports that we have not sent it
        (another dispatcher's, or ones that moved on while it was frozen or cut off)."""
        if self.ctx.robots[robot_id].kind != 'cooking':
            return {}
        mine = {f.job_id for f in self.flights.values() if f.robot_id == robot_id}
        return {j: e for j, e in reported.items() if j not in mine and j not in self.claiming}

    async def cancel_superseded(self, robot_id: str, held: dict[str, int]) -> None:
        """Of the robot's stray jobs, cancel those claimed since for another robot (a higher
        epoch than the one it holds), and those settled meanwhile (cancelled or bumped while
        the `cancel` command could not reach it: it expired with no dispatcher to run it):
        the robot learns the job is over before it cooks further, and does not hold it for
        good. A copy it had started of a job that moved on is thrown away and recorded as
        waste (alert `dish_cooked_twice`)."""
        records = await jobs.get_many(self.ctx.r, held)
        for job_id, held_epoch in held.items():
            record = records.get(job_id)
            its_own = record is not None and record.robot == robot_id
            if (
                record is not None
                and record.status not in jobs.SETTLED
                and (its_own or record.epoch <= held_epoch)
            ):
                continue  # another dispatcher's flight, or coming back to it
            epoch = record.epoch if record is not None else 0
            ok, message = await self.ctx.ros.control(robot_id, 'cancel', job_id, epoch)
            log.warning(
                '%s still held %s, which is %s (epoch %d, %s): cancel %s %s',
                robot_id,
                job_id,
                record.status if record is not None else 'gone',
                epoch,
                record.robot if record is not None else '',
                'ok' if ok else 'refused',
                message,
            )
            if ok and 'wasted' in message and not its_own:
                await self.ctx.retrying(
                    partial(jobs.record_waste, self.ctx.r, job_id, robot_id, message)
                )

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
