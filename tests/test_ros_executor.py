"""`LeanExecutor` runs every kind of rclpy callback the dispatcher uses, picks up entities made
while it spins, ends on `shutdown`, and carries on a callback that awaits: against a node on
another rclpy context spun by rclpy's own executor, over DDS."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import rclpy
from rclpy.action import ActionClient, ActionServer
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.task import Future
from restaurant_interfaces.action import Cook
from restaurant_interfaces.srv import Control
from std_msgs.msg import String

from orchestrator.dispatch.ros_executor import LeanExecutor
from tests.api_helpers import wait_until


@dataclass
class Side:
    context: Context
    node: Node
    executor: SingleThreadedExecutor
    thread: threading.Thread
    errors: list[BaseException] = field(default_factory=list)

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2)
        self.thread.join(timeout=5)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def _side(name: str, executor_type: type[SingleThreadedExecutor]) -> Side:
    context = Context()
    rclpy.init(context=context)
    node = Node(name, context=context)
    executor = executor_type(context=context)
    executor.add_node(node)
    side = Side(context, node, executor, threading.Thread(daemon=True))

    def spin() -> None:
        try:
            executor.spin()
        except BaseException as e:  # the test asserts there were none
            side.errors.append(e)

    side.thread = threading.Thread(target=spin, daemon=True)
    side.thread.start()
    return side


@pytest.fixture
def sides() -> Iterator[tuple[Side, Side]]:
    """(far: rclpy's executor, near: LeanExecutor)."""
    far = _side('far', SingleThreadedExecutor)
    near = _side('near', LeanExecutor)
    yield far, near
    near.close()
    far.close()
    assert not near.errors


def _cook(goal_handle: Any) -> Any:
    goal_handle.succeed()
    return Cook.Result(job_id=goal_handle.request.job_id, outcome='cooked')


def test_every_kind_of_callback_runs(sides: tuple[Side, Side]) -> None:
    far, near = sides
    got: dict[str, list[Any]] = {'msg': [], 'timer': [], 'guard': [], 'done': []}
    pub = far.node.create_publisher(String, '/lean/chatter', 10)
    far.node.create_service(Control, '/lean/control', lambda req, res: res)
    ActionServer(far.node, Cook, '/lean/cook', _cook)

    near.node.create_subscription(String, '/lean/chatter', got['msg'].append, 10)
    near.node.create_timer(0.05, lambda: got['timer'].append(1))
    guard = near.node.create_guard_condition(lambda: got['guard'].append(1))
    client = near.node.create_client(Control, '/lean/control')
    action = ActionClient(near.node, Cook, '/lean/cook')

    wait_until(lambda: pub.get_subscription_count() > 0, 10, what='subscription matched')
    pub.publish(String(data='hello'))
    wait_until(lambda: got['msg'], 5, what='message taken')
    assert got['msg'][0].data == 'hello'
    wait_until(lambda: len(got['timer']) >= 3, 5, what='timer ticks')
    guard.trigger()
    wait_until(lambda: got['guard'], 5, what='guard condition callback')

    assert client.wait_for_service(timeout_sec=10)
    answer = client.call_async(Control.Request(command='pause'))
    # A done callback goes through the executor's create_task.
    answer.add_done_callback(got['done'].append)
    wait_until(lambda: got['done'], 5, what='service answer and its done callback')

    assert action.wait_for_server(timeout_sec=10)
    sent = action.send_goal_async(Cook.Goal(job_id='j1'))
    wait_until(sent.done, 5, what='goal accepted')
    result = sent.result().get_result_async()
    wait_until(result.done, 5, what='action result')
    assert result.result().result.job_id == 'j1'


def test_a_subscription_made_while_spinning_is_waited_on(sides: tuple[Side, Side]) -> None:
    far, near = sides
    pub = far.node.create_publisher(String, '/lean/late', 10)
    wait_until(lambda: near.thread.is_alive(), 5, what='spinning')
    got: list[Any] = []
    near.node.create_subscription(String, '/lean/late', got.append, 10)
    wait_until(lambda: pub.get_subscription_count() > 0, 10, what='subscription matched')
    pub.publish(String(data='late'))
    wait_until(lambda: got, 5, what='message on the late subscription')


def test_a_callback_that_awaits_is_carried_on(sides: tuple[Side, Side]) -> None:
    far, near = sides
    pub = far.node.create_publisher(String, '/lean/awaits', 10)
    gate: Future = Future()
    done: list[str] = []

    async def on_message(msg: String) -> None:
        await gate
        done.append(msg.data)

    near.node.create_subscription(String, '/lean/awaits', on_message, 10)
    wait_until(lambda: pub.get_subscription_count() > 0, 10, what='subscription matched')
    pub.publish(String(data='first'))
    wait_until(lambda: near.executor._tasks, 5, what='the awaiting callback parked as a task')
    assert not done
    gate.set_result(None)
    near.executor.wake()
    wait_until(lambda: done == ['first'], 5, what='the callback finished')


def test_shutdown_ends_the_spin() -> None:
    near = _side('alone', LeanExecutor)
    wait_until(lambda: near.thread.is_alive(), 5, what='spinning')
    near.executor.shutdown(timeout_sec=2)
    near.thread.join(timeout=2)
    assert not near.thread.is_alive()
    near.node.destroy_node()
    rclpy.try_shutdown(context=near.context)
    assert not near.errors


def test_a_shutdown_between_the_spin_loop_and_the_wait_ends_it_quietly() -> None:
    """`shutdown` on another thread may destroy the guard conditions after the spin loop checked
    for it: the wait must end without an error (it raised AttributeError in a bridge test)."""
    context = Context()
    rclpy.init(context=context)
    node = Node('racing', context=context)
    executor = LeanExecutor(context=context)
    executor.add_node(node)
    guard, executor._guard = executor._guard, None  # as `shutdown` leaves it, not yet flagged
    try:
        executor.spin_once(timeout_sec=0)
    finally:
        executor._guard = guard
        executor.shutdown(timeout_sec=2)
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def test_an_exception_in_a_callback_ends_the_spin_as_in_rclpy() -> None:
    near = _side('failing', LeanExecutor)

    def boom() -> None:
        raise ValueError('boom')

    guard = near.node.create_guard_condition(boom)
    guard.trigger()
    near.thread.join(timeout=5)
    assert [type(e) for e in near.errors] == [ValueError]
    near.executor.shutdown(timeout_sec=2)
    near.node.destroy_node()
    rclpy.try_shutdown(context=near.context)
