"""What a robot's heartbeat costs the dispatcher's ROS thread: rclpy's SingleThreadedExecutor
against `orchestrator.dispatch.ros_executor.LeanExecutor`, in the same run.

A publisher process sends `RobotState` heartbeats round-robin to `--robots` robots' topics at
`--rate` per second. This process subscribes to all of them as the dispatcher's heartbeat node
does (one node without parameter services, a best-effort subscription per robot, no QoS-event
waitables) and spins it with one executor, then the other, `--rounds` times, alternating which
goes first. Prints the process's CPU time per message taken (its DDS threads included) for each,
the median over the rounds, and the ratio lean / rclpy; `--json` prints one JSON object.

    .venv/bin/python bench/ros_spin.py [--rate 200] [--robots 30] [--seconds 8] [--rounds 3]
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(150, 230)))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

import rclpy  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.event_handler import SubscriptionEventCallbacks  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from restaurant_interfaces.msg import RobotState  # noqa: E402

from orchestrator.dispatch.ros_executor import LeanExecutor  # noqa: E402

QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
EXECUTORS: dict[str, type[SingleThreadedExecutor]] = {
    'rclpy': SingleThreadedExecutor,
    'lean': LeanExecutor,
}


def topic(i: int) -> str:
    return f'/robodine/bench{i}/state'


def publish(robots: int, rate: float, seconds: float) -> None:
    """(The publisher process.) Heartbeats shaped like a busy robot's, for `seconds`."""
    context = Context()
    rclpy.init(context=context)
    node = Node('bench_robots', context=context)
    pubs = [node.create_publisher(RobotState, topic(i), QOS) for i in range(robots)]
    end, i = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        msg = RobotState(robot_id=f'bench{i % robots}', kind='cooking', detail='cooking 2/3')
        msg.current_jobs, msg.job_epochs, msg.mac = ['j1', 'j2'], [1, 1], 'f' * 64
        pubs[i % robots].publish(msg)
        i += 1
        time.sleep(1 / rate)
    rclpy.shutdown(context=context)


def measure(kind: str, robots: int, seconds: float) -> float:
    """CPU µs of this process per heartbeat taken, spinning with executor `kind`."""
    context = Context()
    rclpy.init(context=context)
    node = Node(f'bench_{kind}', context=context, start_parameter_services=False)
    taken = [0]

    def on_state(_msg: RobotState) -> None:
        taken[0] += 1

    subs = [
        node.create_subscription(
            RobotState,
            topic(i),
            on_state,
            QOS,
            event_callbacks=SubscriptionEventCallbacks(use_default_callbacks=False),
        )
        for i in range(robots)
    ]
    executor = EXECUTORS[kind](context=context)
    executor.add_node(node)
    spinning = threading.Thread(target=executor.spin, daemon=True)
    spinning.start()
    deadline = time.monotonic() + 10
    while not all(s.get_publisher_count() for s in subs) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # past discovery's own traffic
    n0, cpu0 = taken[0], time.process_time()
    time.sleep(seconds)
    n, cpu = taken[0] - n0, time.process_time() - cpu0
    executor.shutdown(timeout_sec=2)
    spinning.join(timeout=5)
    node.destroy_node()
    rclpy.shutdown(context=context)
    if not n:
        raise SystemExit(f'no heartbeat reached the {kind} executor: is the publisher running?')
    return cpu / n * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--rate', type=float, default=200.0, help='heartbeats per second in all')
    p.add_argument('--robots', type=int, default=30)
    p.add_argument('--seconds', type=float, default=8.0, help='measured per executor and round')
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--json', action='store_true', help='print one JSON object')
    p.add_argument('--publish', type=float, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.publish is not None:
        publish(args.robots, args.rate, args.publish)
        return
    total_s = args.rounds * 2 * (args.seconds + 4) + 10
    publisher = subprocess.Popen(
        [
            sys.executable,
            __file__,
            '--publish',
            str(total_s),
            '--robots',
            str(args.robots),
            '--rate',
            str(args.rate),
        ],
    )
    rounds: dict[str, list[float]] = {kind: [] for kind in EXECUTORS}
    try:
        for r in range(args.rounds):
            order = list(EXECUTORS) if r % 2 == 0 else list(reversed(EXECUTORS))
            for kind in order:
                rounds[kind].append(round(measure(kind, args.robots, args.seconds), 1))
    finally:
        publisher.terminate()
        publisher.wait(timeout=10)
    median = {kind: statistics.median(v) for kind, v in rounds.items()}
    result = {
        'rate': args.rate,
        'robots': args.robots,
        'cpu_us_per_message': median,
        'rounds': rounds,
        'lean_to_rclpy': round(median['lean'] / median['rclpy'], 3),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f'{args.robots} heartbeat subscriptions, {args.rate:g} heartbeats/s, CPU per message:')
    for kind, v in rounds.items():
        print(f'  {kind:6s} median {median[kind]:.0f} us (rounds {", ".join(map(str, v))})')
    print(f'  lean / rclpy: {result["lean_to_rclpy"]:.2f}')


if __name__ == '__main__':
    main()
