"""Serving robot node: carries trips from the pass to tables along the floor graph.

A `deliver` goal is one trip: fetch the food at the pass (if not already there), then for each
stop drive to the table's waypoint and wait until `confirm_pickup` names that trip and table,
or give up after `pickup_timeout_s` (simulated seconds) and keep the food on board; finally
return, via the pass when food comes back, to the dock. The result comes when the robot is
back. The motion itself belongs to a driver (`robot_nodes.drivers`), ticked at 20 Hz.

The battery (`drivers.battery`) drains with distance and time; below `battery.low` between
trips the robot drives to its charger (mode `charging`, trips refused) and serves again from its
dock once at `battery.charged`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from rclpy.action.server import ServerGoalHandle
from rclpy.task import Future
from restaurant_interfaces.action import Deliver
from restaurant_interfaces.msg import RobotState, StopResult
from restaurant_interfaces.srv import ConfirmPickup, Reserve

from orchestrator import held_up
from orchestrator.closures import Closures, route_avoiding
from orchestrator.config import RestaurantConfig
from orchestrator.config import ServingRobot as ServingRobotConfig
from orchestrator.settings import get_settings
from orchestrator.traffic import CLOSED, TrafficMap, lane_offset
from robot_nodes import auth
from robot_nodes import ledger as lg
from robot_nodes.closures_in import ClosuresIn
from robot_nodes.drivers import make_serving_driver
from robot_nodes.drivers.battery import SimBattery
from robot_nodes.drivers.neighbours import PeerWait
from robot_nodes.floor_world import dock_pose
from robot_nodes.lanes import lane_path, start_waypoint
from robot_nodes.robot_base import RobotNode, RobotSetupError, run
from robot_nodes.traffic_controller import RESERVE_SERVICE
from robot_nodes.traffic_gate import TrafficGate, lead_m

TICK_HZ = 20.0
# Trip feedback between stage changes (each change goes out at once). Every dispatcher takes
# every robot's feedback; the dispatcher writes progress once a second and the console's map
# follows the robots' state, so more would cost every dispatcher for nothing.
FEEDBACK_HZ = 2.0
# Real seconds between traffic asks while waiting for a grant (at a high time scale every
# simulated ASK_WAITING_SIM_S, but at most once a tick: a robot may go on as soon as the way is
# free), and otherwise (so that a restarted controller learns what this robot holds).
ASK_WAITING_S = 0.2
ASK_WAITING_SIM_S = 1.0
ASK_ALWAYS_S = 1.0
# A robot driving freely asks for its next grant its braking distance plus this many ticks'
# drive before the end of the one it has (`traffic_gate.lead_m`): the answer comes within a
# tick, so it drives on over a free junction rather than stopping at every one to ask.
ASK_LEAD_TICKS = 2
# An ask unanswered this long (real seconds) is given up: the controller may have restarted.
ASK_TIMEOUT_S = 2.0
# Real seconds after it starts that its first drive waits, at most, to hear every other serving
# robot (a peer may be switched off); parameter `peer_wait_s`.
PEER_WAIT_S = 3.0
COMPLETED = Deliver.Result.OUTCOME_COMPLETED
PARTIAL = Deliver.Result.OUTCOME_PARTIAL
FAILED = Deliver.Result.OUTCOME_FAILED
CANCELLED = Deliver.Result.OUTCOME_CANCELLED


@dataclass
class Leg:
    stage: str  # 'to_pass', 'to_table' or 'returning'
    target: str  # waypoint id
    table_id: str = ''


@dataclass
class Trip:
    trip_id: str
    stops: list[dict[str, Any]]
    legs: list[Leg]
    epoch: int = 0
    leg: Leg | None = None
    waiting: bool = False
    waited_s: float = 0.0
    loaded: bool = False
    returning: bool = False
    cancelled: bool = False
    # table_id -> (StopResult outcome, reason)
    results: dict[str, tuple[int, str]] = field(default_factory=dict)
    waiters: list[tuple[ServerGoalHandle, Future]] = field(default_factory=list)

    @property
    def stage(self) -> str:
        if self.waiting:
            return 'waiting_pickup'
        return self.leg.stage if self.leg else 'returning'

    def food_on_board(self) -> bool:
        delivered = StopResult.DELIVERED
        return self.loaded and any(
            self.results.get(s['table_id'], (None,))[0] != delivered for s in self.stops
        )

    def result(self) -> dict[str, Any]:
        results = [
            {'table_id': s['table_id'], 'outcome': o, 'reason': r}
            for s in self.stops
            for o, r in [self.results.get(s['table_id'], (StopResult.FAILED, 'not reached'))]
        ]
        delivered = sum(r['outcome'] == StopResult.DELIVERED for r in results)
        if self.cancelled:
            outcome = CANCELLED
        elif delivered == len(results):
            outcome = COMPLETED
        else:
            outcome = PARTIAL if delivered else FAILED
        return {'outcome': outcome, 'reason': '', 'results': results}


class ServingRobot(RobotNode):
    KIND = 'serving'
    OUTCOME_SUCCEEDED = COMPLETED
    OUTCOME_CANCELLED = CANCELLED
    ACTION = 'deliver'
    JOB_FIELD = 'trip_id'

    def __init__(self, cli_args: list[str] | None = None) -> None:
        super().__init__('serving_robot', cli_args)
        if self.config is None:
            raise RobotSetupError('a serving robot needs config_path (the floor graph)')
        self.cfg: RestaurantConfig = self.config
        robot = next((r for r in self.cfg.serving_robots if r.id == self.robot_id), None)
        if robot is None:
            raise RobotSetupError(f'no serving robot {self.robot_id!r} in the restaurant config')
        self.robot: ServingRobotConfig = robot
        self.pickup_timeout_s = self.declare_number(
            'pickup_timeout_s', self.cfg.service.pickup_timeout_s
        )
        self.floor = self.cfg.floor
        self.driver = make_serving_driver(
            self.driver_name, self, robot, self.time_scale, dock_pose(self.cfg, robot)
        )
        peers = [r.id for r in self.cfg.serving_robots if r.id != self.robot_id]
        self.driver.set_peers(peers)
        self.peer_wait = PeerWait(
            peers, time.monotonic(), self.declare_number('peer_wait_s', PEER_WAIT_S)
        )
        # Where its first drive goes while it waits to hear the others (`_waits_for_peers`).
        self._first_drive: str | None = None
        self.battery = SimBattery(
            self.cfg.battery, self.declare_number('battery_start', robot.battery_start)
        )
        self.charger = self.cfg.charger_of(robot)
        # Heading for its charger or on it: no trips until charged.
        self.charging = False
        self.trip: Trip | None = None
        # Where it drives outside any trip: its dock ('dock') or the pass ('stage'); None when
        # it stands still.
        self.parking: str | None = None
        self._last_tick_s = time.monotonic()
        self._last_feedback_s = 0.0
        self._fail_interrupted_trips()
        # Traffic control (README "Traffic in the aisles"): the route of the current move,
        # driven only as far as the controller grants; the closure it waits before, if any.
        self.gate: TrafficGate | None = None
        self._at_closure = ''
        if get_settings().traffic_control_for(self.cfg):
            self.gate = TrafficGate(
                self.robot_id,
                TrafficMap.of_restaurant(self.cfg),
                self._points,
                lambda a, b: lane_offset(self.cfg.floor, a, b, self.robot.radius_m),
            )
            self._reserve = self.create_client(Reserve, RESERVE_SERVICE)
            self._asking: Reserve.Request | None = None
            self._last_ask_s = 0.0
            # The grant (route, index) its last ask for more was beyond.
            self._asked_beyond: tuple[tuple[str, ...], int] | None = None
            self._ask_waiting_s = max(
                1.0 / TICK_HZ, min(ASK_WAITING_S, ASK_WAITING_SIM_S / self.time_scale)
            )
            self._lead_m = lead_m(
                robot.speed_mps, robot.max_accel_mps2, ASK_LEAD_TICKS / TICK_HZ * self.time_scale
            )
            # The operator's closures, to plan round and to wait short of (signed: its own MAC).
            index = [r.id for r in self.cfg.serving_robots].index(self.robot_id)
            self.closures_in = ClosuresIn(
                self,
                self.floor,
                lambda msg: auth.verify_by(self.key, index, 'closures', msg),
                self._closed,
            )

        self.serve_goals(Deliver, 'deliver')
        self.create_service(ConfirmPickup, self.ros_name('confirm_pickup'), self._on_confirm)
        self.create_timer(1.0 / TICK_HZ, self._tick)

    def _fail_interrupted_trips(self) -> None:
        """A trip cut short by a restart cannot be resumed: the food's fate is unknown."""
        for entry in self.ledger.unfinished('trip'):
            results = [
                {
                    'table_id': s['table_id'],
                    'outcome': StopResult.FAILED,
                    'reason': 'robot restarted during the trip',
                }
                for s in entry.goal['stops']
            ]
            result = {'outcome': FAILED, 'reason': 'robot restarted', 'results': results}
            self.ledger.finish(entry.job_id, lg.FAILED, result)

    # --- goals -------------------------------------------------------------------------------

    def goal_job_id(self, goal: Deliver.Goal) -> str:
        return str(goal.trip_id)

    def result_msg(self, result: dict[str, Any]) -> Deliver.Result:
        return Deliver.Result(
            outcome=result['outcome'],
            reason=result['reason'],
            results=[StopResult(**r) for r in result['results']],
        )

    def attach(self, job_id: str, handle: ServerGoalHandle, done: Future) -> None:
        assert self.trip is not None and self.trip.trip_id == job_id
        self.trip.waiters.append((handle, done))
        self.trip.epoch = max(self.trip.epoch, int(handle.request.epoch))

    def admit(self, handle: ServerGoalHandle, done: Future) -> None:
        goal: Deliver.Goal = handle.request
        stops = [
            {
                'table_id': s.table_id,
                'trays': list(s.trays),
                'order_ids': list(s.order_ids),
                'items': list(s.items),
            }
            for s in goal.stops
        ]
        self.ledger.accept(goal.trip_id, 'trip', goal.epoch, {'stops': stops})
        self.ledger.start(goal.trip_id, 'to_table')
        self.parking = None
        legs = self._outbound_legs(stops)
        # Starting at the pass means the food is already on the trays.
        self.trip = Trip(goal.trip_id, stops, legs, goal.epoch, loaded=legs[0].stage != 'to_pass')
        self.trip.waiters.append((handle, done))
        self.get_logger().info(f'trip {goal.trip_id}: {" → ".join(s["table_id"] for s in stops)}')
        self._next_leg()

    def refusal(self, goal: Deliver.Goal) -> str:
        if not goal.trip_id:
            return 'trip_id is empty'
        if self.estopped:
            return 'e-stopped'
        if self.paused:
            return 'paused by operator'
        if self.charging:
            return f'charging (battery {self.battery.level:.0%})'
        if self.trip is not None:
            return f'busy with trip {self.trip.trip_id}'
        if not goal.stops:
            return 'a trip needs at least one stop'
        trays: list[int] = []
        for stop in goal.stops:
            if stop.table_id not in self.cfg.table_by_id:
                return f'unknown table {stop.table_id!r}'
            trays += list(stop.trays)
        if len(set(trays)) != len(trays) or any(t >= self.robot.trays for t in trays):
            return f'trays {trays} do not fit {self.robot.trays} distinct trays'
        if len({s.table_id for s in goal.stops}) != len(goal.stops):
            return 'a table appears twice in the trip'
        return ''

    def _outbound_legs(self, stops: list[dict[str, Any]]) -> list[Leg]:
        pass_id = self.floor.pass_point.id
        legs = [] if self._nearest_waypoint() == pass_id else [Leg('to_pass', pass_id)]
        for stop in stops:
            table = self.cfg.table_by_id[stop['table_id']]
            legs.append(Leg('to_table', table.waypoint, table.id))
        return legs

    # --- motion ------------------------------------------------------------------------------

    def _nearest_waypoint(self) -> str:
        x, y, _ = self.driver.pose
        return self.floor.nearest(x, y)

    def _drive_to(self, target: str) -> None:
        if self._waits_for_peers():
            # Not before its obstacle stop knows of the others: it could drive through one.
            self._first_drive = target
            return
        self._first_drive = None
        x, y, _ = self.driver.pose
        start = start_waypoint(self.floor, (x, y), target)
        if self.gate is None:
            self.driver.set_path(self._points(self.floor.path(start, target), (x, y)))
            return
        self.gate.start_from_here(lambda n: self._route(n, target), start)
        self.driver.set_path(self.gate.path((x, y)))
        self._asking = None  # an answer still to come is for the last move: ignored
        self.driver.waiting_for = self._at_closure = ''
        self._ask()

    def _points(self, route: list[str], start: tuple[float, float]) -> list[tuple[float, float]]:
        return lane_path(self.cfg, route, self.robot.radius_m, start)

    def there(self) -> bool:
        """At the end of the current move (not at a traffic stop short of it, nor before it)."""
        return (
            self._first_drive is None
            and self.driver.done
            and (self.gate is None or self.gate.arrived or not self.gate.route)
        )

    def _waits_for_peers(self) -> bool:
        """Whether its first drive must still wait to hear the other robots (`PeerWait`);
        says so once when it gives up on some."""
        wait = self.peer_wait
        if wait.over:
            return False
        if not wait.update(self.driver.others, time.monotonic()):
            return True
        if unheard := wait.unheard(self.driver.others):
            self.get_logger().warning(
                f'never heard {", ".join(unheard)} within {wait.wait_s:g} s of starting: '
                'drives without waiting for them'
            )
        return False

    # --- traffic -----------------------------------------------------------------------------

    def _closed(self, closures: Closures, version: int) -> None:
        assert self.gate is not None
        self.gate.closures = closures
        names = ', '.join(closures.names) or 'nothing'
        self.get_logger().info(f'closed: {names} (version {version})')

    def _route(self, start: str, target: str) -> list[str]:
        """The shortest way round what is closed; with none, the shortest way (the traffic
        controller has the robot wait before the closure)."""
        assert self.gate is not None
        shortest = self.floor.path(start, target)
        closures = self.gate.closures
        if not closures.on_route(shortest):
            return shortest
        route = route_avoiding(self.floor, start, target, closures)
        if route is None:
            return shortest
        self.get_logger().info(f'round what is closed: {" ".join(route)}')
        return route

    def _traffic(self) -> None:
        """Report progress and ask for more: at once on a change or when it first wants more
        than its grant (at its end, or approaching it), else every ASK_*_S."""
        gate = self.gate
        if gate is None or not gate.route:
            return
        x, y, _ = self.driver.pose
        changed = gate.moved((x, y))
        approaching = self._approaching()
        wants = gate.wants_more((x, y), approaching)
        every = self._ask_waiting_s if wants else ASK_ALWAYS_S
        # Wanting more than this grant for the first time asks at once, not `every` after the
        # last ask.
        fresh = wants and self._asked_beyond != (gate.route, gate.granted)
        if changed or fresh or time.monotonic() - self._last_ask_s >= every:
            self._ask(approaching)

    def _approaching(self) -> bool:
        """Driving towards the end of its grant with nobody in the way, near enough to ask
        for the next one now (`traffic_gate.lead_m`)."""
        return self.driver.runs_free() and self.driver.remaining_m() <= self._lead_m

    def _ask(self, approaching: bool = False) -> None:
        gate = self.gate
        assert gate is not None
        waited = time.monotonic() - self._last_ask_s
        if self._asking is not None and waited < ASK_TIMEOUT_S:
            return
        if not self._reserve.service_is_ready():
            self.get_logger().warning(
                'no traffic controller on the network: waiting at the next narrow aisle or '
                'junction (robodine up and the launch files start one; else run '
                '`traffic_controller`, README "Traffic in the aisles"; or '
                'ROBODINE_TRAFFIC_CONTROL=false for every robot)',
                throttle_duration_sec=10.0,
            )
            return
        x, y, _ = self.driver.pose
        ask = gate.ask(self.trip is not None and self.trip.food_on_board(), (x, y), approaching)
        if ask.extend:
            self._asked_beyond = (gate.route, gate.granted)
        req = Reserve.Request(
            robot_id=self.robot_id,
            route=list(ask.route),
            progress=ask.progress,
            clear=ask.clear,
            granted=ask.granted,
            loaded=ask.loaded,
            extend=ask.extend,
            ahead=approaching,
            stamp_ns=auth.now_ns(),
        )
        auth.sign(self.key, 'reserve', req)
        self._asking, self._last_ask_s = req, time.monotonic()
        self._reserve.call_async(req).add_done_callback(lambda f: self._granted(req, f))

    def _granted(self, req: Reserve.Request, done: Future) -> None:
        self._asking = None
        resp = done.result()
        gate = self.gate
        if resp is None or gate is None or list(req.route) != list(gate.route):
            return  # a leg that is over
        if not auth.verify_answer(self.key, 'reserve', req, resp):
            self.get_logger().error('refused a traffic grant with a bad MAC')
            return
        if resp.route:
            if not gate.reroute(list(resp.route)):
                self.get_logger().error(f'refused a detour off this leg: {list(resp.route)}')
                return
            self.get_logger().info(f'detour: {" ".join(gate.route[gate.progress :])}')
        self.driver.waiting_for = str(resp.waiting_for)
        message = str(resp.message)
        self._at_closure = message.removeprefix(CLOSED) if message.startswith(CLOSED) else ''
        if gate.grant(int(resp.granted)):
            x, y, _ = self.driver.pose
            self.driver.set_path(gate.path((x, y)))

    def _next_leg(self) -> None:
        trip = self.trip
        assert trip is not None
        trip.waiting = False
        if not trip.legs and not trip.returning:
            trip.returning = True
            if trip.food_on_board():
                trip.legs.append(Leg('returning', self.floor.pass_point.id))
            trip.legs.append(Leg('returning', self.robot.dock))
        if not trip.legs:
            self._finish_trip()
            return
        trip.leg = trip.legs.pop(0)
        self._drive_to(trip.leg.target)
        self._send_feedback(force=True)

    def _arrived(self) -> None:
        trip = self.trip
        assert trip is not None and trip.leg is not None
        if trip.leg.target == self.floor.pass_point.id and not trip.returning:
            trip.loaded = True
        if trip.leg.stage == 'to_table':
            trip.waiting, trip.waited_s = True, 0.0
            self.ledger.progress(trip.trip_id, lg.ACTIVE, f'waiting {trip.leg.table_id}', 0.0)
            self._send_feedback(force=True)
        else:
            self._next_leg()

    def _finish_trip(self) -> None:
        trip = self.trip
        assert trip is not None
        result = trip.result()
        self.ledger.finish(trip.trip_id, lg.DONE, result)
        self.trip = None
        for _, done in trip.waiters:
            if not done.done():
                done.set_result(result)
        self.get_logger().info(f'trip {trip.trip_id}: {result["outcome"]}')

    def _tick(self) -> None:
        now = time.monotonic()
        dt, self._last_tick_s = now - self._last_tick_s, now
        x, y, _ = self.driver.pose
        self.driver.tick(now)
        x1, y1, _ = self.driver.pose
        on_charger = self.charging and self.parking is None
        self.battery.update(math.hypot(x1 - x, y1 - y), dt * self.time_scale, on_charger)
        self._manage_charge(on_charger)
        self._make_way()
        if self._first_drive is not None:
            self._drive_to(self._first_drive)  # held back until it has heard the others
        trip = self.trip
        if trip is not None:
            if trip.waiting:
                if not self.halted:
                    trip.waited_s += dt * self.time_scale
                if trip.waited_s >= self.pickup_timeout_s:
                    assert trip.leg is not None
                    trip.results[trip.leg.table_id] = (
                        StopResult.NOT_PICKED_UP,
                        f'not picked up within {self.pickup_timeout_s:g} s',
                    )
                    self._next_leg()
            elif self.there():
                self._arrived()
            self._send_feedback()
        elif self.parking is not None and self.there():
            self.parking = None
        self._traffic()

    def _manage_charge(self, on_charger: bool) -> None:
        """Between trips: to the charger when low, back to the dock when charged."""
        if self.trip is not None or self.estopped or self.paused:
            return
        if not self.charging and self.battery.low:
            self.charging = True
            self.get_logger().info(
                f'battery at {self.battery.level:.0%}: going to charge at {self.charger}'
            )
            self._park(self.charger)
            self.publish_state()
        elif on_charger and self.battery.charged:
            self.charging = False
            self.get_logger().info(f'charged to {self.battery.level:.0%}')
            self._park(self.robot.dock)
            self.publish_state()

    def _make_way(self) -> None:
        """Standing between trips where another robot is stopped for it (waiting at the pass,
        say, for food that went to another robot): back to its dock, out of the way."""
        if self.trip is not None or self.parking is not None or self.charging or self.halted:
            return
        if self._nearest_waypoint() == self.robot.dock:
            return
        for other in self.driver.others.values():
            if self.robot_id in (other.blocked_by, other.waiting_for):
                self.get_logger().info(f'making way for {other.robot_id}: to {self.robot.dock}')
                self._park(self.robot.dock)
                self.publish_state()
                return

    def _send_feedback(self, force: bool = False) -> None:
        trip = self.trip
        now = time.monotonic()
        if trip is None or trip.leg is None:
            return
        if not force and now - self._last_feedback_s < 1.0 / FEEDBACK_HZ:
            return
        self._last_feedback_s = now
        x, y, theta = self.driver.pose
        remaining = self.driver.remaining_m()
        leg = trip.leg
        msg = Deliver.Feedback(
            x=float(x),
            y=float(y),
            theta=float(theta),
            stage=trip.stage,
            next_stop=leg.table_id or leg.target,
            eta_s=float(remaining / self.robot.speed_mps / self.time_scale),
            distance_remaining_m=float(remaining),
        )
        for handle, _ in trip.waiters:
            handle.publish_feedback(msg)

    # --- pickup ------------------------------------------------------------------------------

    def _on_confirm(
        self, req: ConfirmPickup.Request, resp: ConfirmPickup.Response
    ) -> ConfirmPickup.Response:
        if self.authentic('confirm_pickup', req, f'confirm_pickup {req.trip_id}'):
            resp.accepted, resp.message = self._confirm(req.trip_id, req.table_id)
        else:
            resp.accepted, resp.message = False, 'unauthenticated'
        self.get_logger().info(f'confirm_pickup {req.trip_id}/{req.table_id}: {resp.message}')
        return auth.sign_answer(self.key, 'confirm_pickup', req, resp)

    def _confirm(self, trip_id: str, table_id: str) -> tuple[bool, str]:
        trip = self.trip
        if trip is None or trip.trip_id != trip_id:
            entry = self.ledger.get(trip_id)
            for r in (entry.result or {}).get('results', []) if entry else []:
                if r['table_id'] == table_id and r['outcome'] == StopResult.DELIVERED:
                    return True, 'already confirmed'
            return False, f'not on trip {trip_id}'
        if table_id not in {s['table_id'] for s in trip.stops}:
            return False, f'table {table_id} is not on trip {trip_id}'
        if table_id in trip.results:
            outcome, reason = trip.results[table_id]
            if outcome == StopResult.DELIVERED:
                return True, 'already confirmed'
            return False, reason
        if not (trip.waiting and trip.leg and trip.leg.table_id == table_id):
            return False, f'not at table {table_id} yet'
        trip.results[table_id] = (StopResult.DELIVERED, '')
        self._next_leg()
        return True, 'delivered'

    # --- RobotNode ---------------------------------------------------------------------------

    def busy(self) -> bool:
        return self.trip is not None or self.parking is not None

    def current_jobs(self) -> list[tuple[str, int]]:
        return [(self.trip.trip_id, self.trip.epoch)] if self.trip else []

    def pose(self) -> tuple[float, float, float]:
        return self.driver.pose

    def detail(self) -> str:
        if self.estopped:
            return 'e-stopped'
        if self.paused:
            # Paused in a fault, it does not retry: the fault is still the one to fix.
            return 'paused by operator' + (f' ({self.driver.fault})' if self.driver.fault else '')
        if self.driver.fault:
            return self.driver.fault
        if self.charging:
            where = f'going to {self.charger}' if self.parking else f'on {self.charger}'
            return f'charging ({where}, battery {self.battery.level:.0%})'
        if self.parking is not None:
            return f'going to {self.parking}{self._held_up()}'
        trip = self.trip
        if trip is None or trip.leg is None:
            return ''
        if trip.waiting:
            return f'waiting for pickup at {trip.leg.table_id}'
        where = trip.leg.table_id or trip.leg.target
        return f'{trip.stage.replace("_", " ")} {where}{self._held_up()}'

    def _held_up(self) -> str:
        """Who keeps it from driving on, for the operator: the robots it has yet to hear before
        its first drive, the robot its obstacle stop stopped it for, or the one the traffic
        controller has it wait for."""
        unheard = self.peer_wait.unheard(self.driver.others) if self._first_drive else []
        if unheard:
            return f', waiting to hear {", ".join(unheard)}'
        return held_up.suffix(self.driver.blocked_by, self.driver.waiting_for, self._at_closure)

    def mode(self) -> int:
        # The driver cannot drive on by itself (the nav2 driver's goal failed, say): an
        # operator's alert; the trip goes on once the driver clears it. Halted, the driver
        # tries nothing: the robot is e-stopped or paused (which the operator resumes).
        if self.driver.fault and not self.halted:
            return int(RobotState.MODE_FAULT)
        if self.charging and not (self.estopped or self.paused):
            return int(RobotState.MODE_CHARGING)
        return super().mode()

    def battery_level(self) -> float:
        return self.battery.level

    def apply_halt(self) -> None:
        if self.halted:
            self.driver.halt()
        else:
            self.driver.resume()

    def control_dock(self) -> tuple[bool, str]:
        if self.estopped:
            return False, 'e-stopped'
        if self.charging:
            return False, 'charging; it goes to its dock when charged'
        if self.trip is not None:
            return False, f'busy with trip {self.trip.trip_id}; it returns to the dock after'
        return self._park(self.robot.dock)

    def control_stage(self) -> tuple[bool, str]:
        """Wait at the pass for food about to be ready: the trip then leaves from there."""
        if self.estopped:
            return False, 'e-stopped'
        if self.charging or self.battery.low:
            return False, f'charging (battery {self.battery.level:.0%})'
        if self.trip is not None:
            return False, f'busy with trip {self.trip.trip_id}'
        return self._park(self.floor.pass_point.id)

    def _park(self, waypoint: str) -> tuple[bool, str]:
        if self._nearest_waypoint() == waypoint and self.there():
            return True, f'already at {waypoint}'
        self.parking = waypoint
        self._drive_to(waypoint)
        return True, f'going to {waypoint}'

    def control_cancel(self, job_id: str) -> tuple[bool, str]:
        trip = self.trip
        if trip is None or trip.trip_id != job_id:
            return False, f'not on trip {job_id}'
        if trip.returning:
            return False, f'trip {job_id} is already returning'
        trip.cancelled = True
        for stop in trip.stops:
            trip.results.setdefault(stop['table_id'], (StopResult.FAILED, 'trip cancelled'))
        trip.legs.clear()
        self._next_leg()
        if trip.food_on_board():
            return True, f'trip {job_id} cancelled; bringing the food back to the pass'
        return True, f'trip {job_id} cancelled; returning to the dock'

    def close(self) -> None:
        self.driver.close()
        super().close()


def main(args: list[str] | None = None) -> int:
    return run(ServingRobot, args)


if __name__ == '__main__':
    raise SystemExit(main())
