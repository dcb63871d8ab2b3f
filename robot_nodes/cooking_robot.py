"""Cooking robot node: cooks dish jobs sent as `cook` action goals, `capacity` at a time.

Each job goes prep → cook → plate, taking the goal's `cook_time_s / time_scale` in total; more
goals than free slots wait in a FIFO queue (feedback stage 'queued'). The ledger makes every job
happen once: see `robot_nodes.ledger`. Nothing here blocks: goals are coroutines awaiting a
future that the 10 Hz tick resolves, so one SingleThreadedExecutor serves everything.

Leases: a job goes on only while the dispatcher's lease on it lasts, as told by the goal's
`lease_until_ns` and then by signed `Lease` messages on `lease`, which the dispatcher sends while
it renews the job's lease in Redis. A job whose lease ran out (the robot was frozen, cut off, or
the dispatcher is gone) is *held*: it neither advances to its next stage nor finishes, and a
queued one does not start, until a lease or a re-sent goal confirms it or a `cancel` says the
job moved on (to another robot, whose copy is then the one served). What the machine did while
this node could not look (a freeze) cannot be undone: such a copy is held, then thrown away on
`cancel`, and the dispatcher records the waste.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from rclpy.action.server import ServerGoalHandle
from rclpy.parameter import Parameter
from rclpy.task import Future
from restaurant_interfaces.action import Cook
from restaurant_interfaces.msg import Lease

from robot_nodes import auth
from robot_nodes import ledger as lg
from robot_nodes.drivers import make_cooking_driver
from robot_nodes.robot_base import STATE_QOS, RobotNode, RobotSetupError, run

# Stages of every job and their share of the cook time.
STAGES = (('prep', 0.2), ('cook', 0.65), ('plate', 0.15))
STAGE_NAMES = [name for name, _ in STAGES]
TICK_HZ = 10.0
# The soonest look between two ticks (ns): a stage that has just ended is looked at at once.
DUE_MIN_NS = 1_000_000
# Progress feedback between stage changes, at most (a stage change goes out at once). Every
# dispatcher decodes every robot's feedback and uses only the stages: at 2 Hz a kitchen of 40
# running dishes sent each of them 80 messages a second; this is enough for a progress bar.
PROGRESS_HZ = 0.2
# How often (real seconds) a running job's progress is written to the ledger.
PERSIST_EVERY_S = 0.5
COOKED = Cook.Result.OUTCOME_COOKED
CANCELLED = Cook.Result.OUTCOME_CANCELLED


@dataclass
class CookJob:
    job_id: str
    goal: dict[str, Any]
    epoch: int = 0
    # Wall clock (ns) until which a dispatcher's lease covers the job (0: none yet).
    lease_until_ns: int = 0
    # Stopped where it was because its lease ran out (its driver run is aborted meanwhile).
    held: bool = False
    # 'queued' or one of STAGE_NAMES.
    stage: str = 'queued'
    # Fraction of the current stage already done before the driver's current run (resume).
    stage_base: float = 0.0
    waiters: list[tuple[ServerGoalHandle, Future]] = field(default_factory=list)
    persisted_s: float = 0.0
    # When its last feedback went out (time.monotonic()).
    fed_s: float = 0.0

    def stage_seconds(self, stage: str, time_scale: float) -> float:
        share = dict(STAGES)[stage]
        return float(self.goal['cook_time_s']) * share / time_scale


def _result(outcome: str, reason: str = '') -> dict[str, str]:
    return {'outcome': outcome, 'reason': reason}


class CookingRobot(RobotNode):
    KIND = 'cooking'
    OUTCOME_SUCCEEDED = COOKED
    OUTCOME_CANCELLED = CANCELLED
    ACTION = 'cook'
    JOB_FIELD = 'job_id'

    def __init__(self, cli_args: list[str] | None = None) -> None:
        super().__init__('cooking_robot', cli_args)
        stations = self.declare_parameter('stations', Parameter.Type.STRING_ARRAY).value
        capacity = int(self.declare_parameter('capacity', 0).value)
        self.spot = (0.0, 0.0)
        if self.config is not None:
            robot = next((r for r in self.config.cooking_robots if r.id == self.robot_id), None)
            if robot is None:
                raise RobotSetupError(
                    f'no cooking robot {self.robot_id!r} in the restaurant config'
                )
            stations = stations or robot.stations
            capacity = capacity or robot.capacity
            self.spot = (robot.x, robot.y)
        if not stations:
            raise RobotSetupError('no stations: set config_path or the stations parameter')
        self.stations: list[str] = list(stations)
        self.capacity = max(1, capacity)
        self.driver = make_cooking_driver(self.driver_name, self, self.time_scale)

        self.jobs: dict[str, CookJob] = {}
        self.queue: deque[str] = deque()
        self.active: list[str] = []
        self._resume_from_ledger()

        self.serve_goals(Cook, 'cook')
        self.create_subscription(Lease, self.ros_name('lease'), self._on_lease, STATE_QOS)
        self.create_timer(1.0 / TICK_HZ, self._tick)
        # A look between two ticks, when a stage ends before the next one (`_look_when_due`).
        self._due = self.create_timer(1.0 / TICK_HZ, self._on_due, autostart=False)

    # --- goals -------------------------------------------------------------------------------

    def goal_job_id(self, goal: Cook.Goal) -> str:
        return str(goal.job_id)

    def result_msg(self, result: dict[str, Any]) -> Cook.Result:
        return Cook.Result(outcome=result['outcome'], reason=result['reason'])

    def admit(self, handle: ServerGoalHandle, done: Future) -> None:
        goal: Cook.Goal = handle.request
        fields = {
            'order_id': goal.order_id,
            'dish_id': goal.dish_id,
            'station': goal.station,
            'options': list(goal.options),
            'quantity': goal.quantity,
            'cook_time_s': self._cook_time(goal),
        }
        self.ledger.accept(goal.job_id, 'cook', goal.epoch, fields)
        job = CookJob(goal.job_id, fields, goal.epoch)
        self.jobs[job.job_id] = job
        self.queue.append(job.job_id)
        self.attach(job.job_id, handle, done)
        self._fill_slots()

    def _cook_time(self, goal: Cook.Goal) -> float:
        if goal.cook_time_s > 0:
            return float(goal.cook_time_s)
        dish = self.config.dish_by_id.get(goal.dish_id) if self.config else None
        return dish.cook_time_s if dish else 0.0

    def refusal(self, goal: Cook.Goal) -> str:
        if not goal.job_id:
            return 'job_id is empty'
        if goal.quantity < 1:
            return f'quantity {goal.quantity} < 1'
        if self.estopped:
            return 'e-stopped'
        if self.paused:
            return 'paused by operator'
        if goal.station not in self.stations:
            return (
                f'station {goal.station!r} is not served by {self.robot_id} '
                f'(serves {", ".join(self.stations)})'
            )
        if self._cook_time(goal) <= 0:
            return f'no cook time for dish {goal.dish_id!r}'
        return ''

    def attach(self, job_id: str, handle: ServerGoalHandle, done: Future) -> None:
        job = self.jobs[job_id]
        job.waiters.append((handle, done))
        goal: Cook.Goal = handle.request
        self._confirm(job, int(goal.epoch), int(goal.lease_until_ns))
        handle.publish_feedback(self._feedback(job))

    # --- leases ------------------------------------------------------------------------------

    def _on_lease(self, msg: Lease) -> None:
        if not self.authentic('lease', msg, 'lease'):
            return
        for job_id, epoch in zip(msg.job_ids, msg.epochs, strict=False):
            if (job := self.jobs.get(job_id)) is not None:
                self._confirm(job, int(epoch), int(msg.valid_until_ns))

    def _confirm(self, job: CookJob, epoch: int, until_ns: int) -> None:
        """A dispatcher holds the job under `epoch` until `until_ns`; a lease for an older
        epoch confirms nothing (the job was claimed again since)."""
        if epoch < job.epoch:
            return
        if epoch > job.epoch:
            job.epoch = epoch
            self.ledger.raise_epoch(job.job_id, epoch)
        job.lease_until_ns = max(job.lease_until_ns, until_ns)

    def _leased(self, job: CookJob) -> bool:
        return job.lease_until_ns > auth.now_ns()

    def _hold(self, job: CookJob) -> None:
        job.stage_base = min(self._stage_fraction(job), 1.0)
        job.held = True
        self.driver.abort(job.job_id)
        self.ledger.progress(job.job_id, lg.ACTIVE, job.stage, job.stage_base)
        self.get_logger().warning(
            f'holding {job.job_id} at {job.stage} {job.stage_base:.0%}: its lease ran out'
        )

    def _unhold(self, job: CookJob, now: float) -> None:
        job.held = False
        self._run_stage(job, now)
        self.get_logger().info(f'lease of {job.job_id} confirmed: going on at {job.stage}')

    def _run_stage(self, job: CookJob, now: float) -> None:
        """The driver runs the rest of the job's current stage."""
        remaining = job.stage_seconds(job.stage, self.time_scale) * (1 - job.stage_base)
        self.driver.start(job.job_id, job.stage, remaining, now)

    # --- work --------------------------------------------------------------------------------

    def _resume_from_ledger(self) -> None:
        """Pick up where a previous run of this robot stopped: nothing lost, nothing twice.
        Its jobs are held until the dispatcher re-sends them (it notices the restart)."""
        for entry in self.ledger.unfinished('cook'):
            job = CookJob(entry.job_id, entry.goal, entry.epoch)
            self.jobs[job.job_id] = job
            if entry.status == lg.ACTIVE and entry.stage in STAGE_NAMES:
                job.stage, job.stage_base = entry.stage, min(entry.progress, 1.0)
                job.held = True
                self.active.append(job.job_id)
                self.get_logger().info(
                    f'resuming {job.job_id} at {job.stage} {job.stage_base:.0%} once confirmed'
                )
            else:
                self.queue.append(job.job_id)

    def _fill_slots(self) -> None:
        """Start queued jobs (in order, skipping those whose lease ran out) on free slots."""
        now = time.monotonic()
        for job_id in list(self.queue):
            if self.halted or len(self.active) >= self.capacity:
                return
            job = self.jobs[job_id]
            if not self._leased(job):
                continue
            self.queue.remove(job_id)
            job.stage, job.stage_base = STAGE_NAMES[0], 0.0
            self.ledger.start(job.job_id, job.stage)
            self._run_stage(job, now)
            self.active.append(job.job_id)
            self._publish_feedback(job, now)

    def _tick(self) -> None:
        now = time.monotonic()
        self.driver.tick(now)
        for job_id in list(self.active):
            job = self.jobs[job_id]
            if job.held:
                if self._leased(job):
                    self._unhold(job, now)
                continue
            if not self._leased(job):
                # Checked before the stage can end: after a freeze the driver's clock has run on.
                self._hold(job)
                continue
            if self.driver.progress(job_id) >= 1.0:
                self._next_stage(job, now)
                continue
            if now - job.persisted_s >= PERSIST_EVERY_S:
                self.ledger.progress(job_id, lg.ACTIVE, job.stage, self._stage_fraction(job))
                job.persisted_s = now
            if now - job.fed_s >= 1.0 / PROGRESS_HZ:
                self._publish_feedback(job, now)
        self._fill_slots()
        self._look_when_due(now)

    def _look_when_due(self, now: float) -> None:
        """Look again when the soonest stage ends, if that is before the next tick: at an
        accelerated clock a tick is seconds of simulated time (6 s at 60x), which a finished
        dish and its slot would otherwise wait."""
        soonest = min(
            (self.driver.ends_in(j, now) for j in self.active if not self.jobs[j].held),
            default=math.inf,
        )
        if soonest < 1.0 / TICK_HZ:
            self._due.timer_period_ns = max(int(soonest * 1e9), DUE_MIN_NS)
            self._due.reset()

    def _on_due(self) -> None:
        self._due.cancel()
        self._tick()

    def _next_stage(self, job: CookJob, now: float) -> None:
        index = STAGE_NAMES.index(job.stage)
        if index + 1 == len(STAGE_NAMES):
            self._finish(job, lg.DONE, _result(COOKED))
            return
        job.stage, job.stage_base = STAGE_NAMES[index + 1], 0.0
        self.ledger.progress(job.job_id, lg.ACTIVE, job.stage, 0.0)
        self._run_stage(job, now)
        self._publish_feedback(job, now)

    def _publish_feedback(self, job: CookJob, now: float) -> None:
        feedback = self._feedback(job)
        for handle, _ in job.waiters:
            handle.publish_feedback(feedback)
        job.fed_s = now

    def _finish(self, job: CookJob, status: str, result: dict[str, str]) -> None:
        # The ledger first: if we die right after, a resent goal gets this result.
        self.ledger.finish(job.job_id, status, result)
        self.driver.abort(job.job_id)
        if job.job_id in self.active:
            self.active.remove(job.job_id)
        if job.job_id in self.queue:
            self.queue.remove(job.job_id)
        del self.jobs[job.job_id]
        for _, done in job.waiters:
            if not done.done():
                done.set_result(result)
        self.get_logger().info(f'{job.job_id}: {result["outcome"]} {result["reason"]}'.rstrip())

    def _stage_fraction(self, job: CookJob) -> float:
        if job.stage == 'queued':
            return 0.0
        if job.held:
            return job.stage_base
        return job.stage_base + (1.0 - job.stage_base) * self.driver.progress(job.job_id)

    def _feedback(self, job: CookJob) -> Cook.Feedback:
        if job.stage == 'queued':
            return Cook.Feedback(stage='queued', progress=0.0)
        index = STAGE_NAMES.index(job.stage)
        before = sum(share for _, share in STAGES[:index])
        progress = before + STAGES[index][1] * self._stage_fraction(job)
        return Cook.Feedback(stage=job.stage, progress=min(progress, 1.0))

    # --- RobotNode ---------------------------------------------------------------------------

    def busy(self) -> bool:
        return bool(self.jobs)

    def current_jobs(self) -> list[tuple[str, int]]:
        return [(j, self.jobs[j].epoch) for j in self.active + list(self.queue)]

    def pose(self) -> tuple[float, float, float]:
        return (self.spot[0], self.spot[1], 0.0)

    def detail(self) -> str:
        if self.estopped:
            return 'e-stopped'
        if self.paused:
            return 'paused by operator'
        if not self.jobs:
            return ''
        held = sum(self.jobs[j].held for j in self.active)
        return f'cooking {len(self.active)}/{self.capacity}, {len(self.queue)} queued' + (
            f', {held} held (lease ran out)' if held else ''
        )

    def apply_halt(self) -> None:
        if self.halted:
            self.driver.halt()
        else:
            self.driver.resume()
            self._fill_slots()

    def control_dock(self) -> tuple[bool, str]:
        return False, 'a cooking robot has no dock'

    def control_stage(self) -> tuple[bool, str]:
        return False, 'a cooking robot does not move'

    def control_cancel(self, job_id: str) -> tuple[bool, str]:
        job = self.jobs.get(job_id)
        if job is None:
            entry = self.ledger.get(job_id)
            if entry is None:
                return False, f'unknown job {job_id!r}'
            return False, f'job {job_id} is already {entry.status}'
        if job.stage == 'queued':
            self._finish(job, lg.WITHDRAWN, _result(CANCELLED, 'withdrawn before cooking'))
            self._fill_slots()
            return True, f'{job_id} withdrawn before cooking'
        self._finish(job, lg.WASTED, _result(CANCELLED, f'stopped during {job.stage}; wasted'))
        self._fill_slots()
        return True, f'{job_id} stopped during {job.stage}; food wasted'


def main(args: list[str] | None = None) -> int:
    return run(CookingRobot, args)


if __name__ == '__main__':
    raise SystemExit(main())
