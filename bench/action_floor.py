"""The least CPU a dispatcher can spend on a dish sent to a robot as a ROS 2 action: bare rclpy
and Fast DDS, none of robodine's own work (no Redis, no leases, no MACs checked, no plans).

A robot process serves `--robots` `Cook` action servers (our interface, as the robots name it)
that accept every goal, publish `--feedback` feedback messages and succeed at once. `--dispatchers`
client processes, each holding an action client of every robot as a dispatcher does and spinning
the dispatcher's executor (`LeanExecutor`), keep one goal in flight per robot of its share (send,
acceptance, result request, result; a goal and its result carry the fields a real one does) for
`--seconds`. Prints the clients' CPU time (all their threads, DDS's included) per goal, the
median over `--rounds`, for each setting; `--json` prints one JSON object.

Against `bench/scale.py`'s target (issue 14: <= 2 ms of orchestrator CPU an order, its orders
1.5 dishes on average) this is a floor: whatever the dispatcher does besides, an order costs at
least 1.5 times the figure with one dispatcher, before its delivery, heartbeats and Redis.

    .venv/bin/python bench/action_floor.py [--robots 20] [--seconds 8] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(150, 230)))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

import rclpy  # noqa: E402
from rclpy.action import ActionClient, ActionServer  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from restaurant_interfaces.action import Cook  # noqa: E402

from orchestrator.dispatch.ros_executor import LeanExecutor  # noqa: E402

MAC = 'f' * 64
# The orders of bench/scale.py: 1 or 2 dishes each.
DISHES_PER_ORDER = 1.5
# (dispatcher processes, feedback messages per goal): one dispatcher is the floor; two, with the
# sim robots' three stage changes, is how bench/scale.py runs.
SETTINGS = ((1, 0), (2, 0), (2, 3))


def action(i: int) -> str:
    return f'/robodine/bench{i}/cook'


def serve(robots: int, feedback: int, seconds: float) -> None:
    """(The robot process.) Every goal accepted, `feedback` feedback messages, then cooked."""
    context = Context()
    rclpy.init(context=context)
    node = Node('bench_robots', context=context, start_parameter_services=False)

    def execute(handle: Any) -> Any:
        for k in range(feedback):
            handle.publish_feedback(Cook.Feedback(stage='cook', progress=k / max(feedback, 1)))
        handle.succeed()
        job = handle.request
        return Cook.Result(
            outcome='cooked', robot_id=job.robot_id, job_id=job.job_id, epoch=1, mac=MAC
        )

    servers = [ActionServer(node, Cook, action(i), execute) for i in range(robots)]
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    time.sleep(seconds)
    executor.shutdown(timeout_sec=2)
    for s in servers:
        s.destroy()
    rclpy.shutdown(context=context)


def dispatch(robots: int, share: list[int], seconds: float) -> dict[str, float]:
    """(A dispatcher process.) One goal in flight per robot of `share`, for `seconds` after a
    warm-up: goals done and this process's CPU seconds."""
    context = Context()
    rclpy.init(context=context)
    node = Node('bench_dispatcher', context=context, start_parameter_services=False)
    clients = [ActionClient(node, Cook, action(i)) for i in range(robots)]
    executor = LeanExecutor(context=context)
    executor.add_node(node)
    spinning = threading.Thread(target=executor.spin, daemon=True)
    spinning.start()
    for i in share:
        if not clients[i].wait_for_server(timeout_sec=30):
            raise SystemExit(f'robot {i} never appeared')
    done, refused, running, seq = [0], [0], [True], [0]

    def start(i: int) -> None:
        seq[0] += 1
        goal = Cook.Goal(
            job_id=f'o{seq[0]:08d}-00-00',
            order_id=f'o{seq[0]:08d}',
            dish_id='kungpao',
            station='wok',
            options=['spice=hot', 'size=regular'],
            quantity=1,
            cook_time_s=240.0,
            epoch=1,
            robot_id=f'bench{i}',
            stamp_ns=time.time_ns(),
            lease_until_ns=time.time_ns() + 30_000_000_000,
            mac=MAC,
        )
        clients[i].send_goal_async(goal, feedback_callback=lambda _f: None).add_done_callback(
            lambda f: accepted(i, f)
        )

    def accepted(i: int, future: Any) -> None:
        handle = future.result()
        if not handle.accepted:
            refused[0] += 1
            return
        handle.get_result_async().add_done_callback(lambda _r: finished(i))

    def finished(i: int) -> None:
        done[0] += 1
        if running[0]:
            start(i)

    def kick() -> None:
        timer.cancel()
        for i in share:
            start(i)

    timer = node.create_timer(0.01, kick)
    time.sleep(2.0)  # past discovery's traffic and the first goals
    n0, cpu0 = done[0], time.process_time()
    time.sleep(seconds)
    n, cpu = done[0] - n0, time.process_time() - cpu0
    running[0] = False
    time.sleep(0.5)
    executor.shutdown(timeout_sec=2)
    spinning.join(timeout=5)
    node.destroy_node()
    rclpy.shutdown(context=context)
    if refused[0]:
        raise SystemExit(f'{refused[0]} goals rejected')
    return {'goals': n, 'cpu_s': cpu}


def measure(robots: int, dispatchers: int, feedback: int, seconds: float) -> float:
    """The dispatchers' CPU µs per goal, all of them together."""
    here = [sys.executable, __file__, '--robots', str(robots)]
    robot = subprocess.Popen(
        [*here, '--serve', str(seconds + 40), '--feedback', str(feedback)],
        stdout=subprocess.DEVNULL,
    )
    try:
        procs = [
            subprocess.Popen(
                [*here, '--dispatch', str(d), str(dispatchers), str(seconds)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for d in range(dispatchers)
        ]
        outs = [json.loads(p.communicate(timeout=seconds + 60)[0]) for p in procs]
    finally:
        robot.terminate()
        robot.wait(timeout=10)
    goals = sum(o['goals'] for o in outs)
    if not goals:
        raise SystemExit('no goal finished: did the robot process start?')
    return sum(o['cpu_s'] for o in outs) / goals * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--robots', type=int, default=20, help='cooking robots (the flagship has 20)')
    p.add_argument('--seconds', type=float, default=8.0, help='measured per setting and round')
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--json', action='store_true', help='print one JSON object')
    p.add_argument('--feedback', type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument('--serve', type=float, help=argparse.SUPPRESS)
    p.add_argument('--dispatch', nargs=3, type=float, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve is not None:
        serve(args.robots, args.feedback, args.serve)
        return
    if args.dispatch is not None:
        d, m, seconds = int(args.dispatch[0]), int(args.dispatch[1]), args.dispatch[2]
        share = list(range(d, args.robots, m))
        print(json.dumps(dispatch(args.robots, share, seconds)))
        return
    rounds: dict[tuple[int, int], list[float]] = {s: [] for s in SETTINGS}
    for r in range(args.rounds):
        for s in SETTINGS if r % 2 == 0 else SETTINGS[::-1]:
            rounds[s].append(round(measure(args.robots, *s, args.seconds)))
    median = {s: statistics.median(v) for s, v in rounds.items()}
    floor_ms = median[SETTINGS[0]] * DISHES_PER_ORDER / 1000
    result = {
        'robots': args.robots,
        'cpu_us_per_goal': [
            {'dispatchers': m, 'feedback': f, 'median': median[m, f], 'rounds': rounds[m, f]}
            for m, f in SETTINGS
        ],
        'floor_ms_per_order': round(floor_ms, 2),
        'target_ms_per_order': 2.0,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.robots} Cook action servers; the dispatchers' CPU per goal (all of them):")
    for m, f in SETTINGS:
        each = ', '.join(map(str, rounds[m, f]))
        print(f'  {m} dispatcher(s), {f} feedback: median {median[m, f]:.0f} us ({each})')
    print(
        f'  floor per order ({DISHES_PER_ORDER} dishes, one dispatcher, nothing else): '
        f'{floor_ms:.2f} ms against the 2 ms target'
    )


if __name__ == '__main__':
    main()
