"""A single-threaded rclpy executor that costs per message about what the message needs, for
the dispatcher's fleet nodes (a hundred entities and more, made once, callbacks that never
await).

rclpy's SingleThreadedExecutor, for every message: walks every entity of its nodes in Python
to build a wait set (entering each handle, asking each callback group), walks them again to find
the ready ones, wraps the callback in a Task, and that Task triggers the executor's guard
condition as it starts and ends, so the next wait returns at once and both walks run once more
for nothing. `LeanExecutor` keeps the entity lists (made again when a node's entities change),
finds the ready ones by their handles' pointers and runs each callback at once, through rclpy's
own take functions. `bench/ros_spin.py` measures the difference.

What it gives up, none of which the dispatcher uses:
- callback groups are not consulted (one thread runs one callback at a time anyway);
- a callback that awaits is carried on as a Task polled on later wakes, as rclpy does, but
  others of its group may run meanwhile;
- entities must not be destroyed while it spins: `shutdown`, join the spinning thread, then
  destroy the nodes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from rclpy.context import Context
from rclpy.exceptions import InvalidHandle
from rclpy.executors import SingleThreadedExecutor, TimeoutObject
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.task import Task
from rclpy.utilities import timeout_sec_to_nsec
from rclpy.waitable import NumberOfEntities

# Each kind of entity a wait set holds: its name in `WaitSet.get_ready_entities`, the Node
# property listing them and the WaitSet method adding one. In the order rclpy runs them.
_KINDS = (
    ('timer', 'timers', 'add_timer'),
    ('subscription', 'subscriptions', 'add_subscription'),
    ('guard_condition', 'guards', 'add_guard_condition'),
    ('client', 'clients', 'add_client'),
    ('service', 'services', 'add_service'),
)
_LISTS = (*(prop for _, prop, _ in _KINDS), 'waitables')


def _shape(nodes: Sequence[Node]) -> tuple[int, ...]:
    """How many entities of each kind each node has: when it changes, gather them again."""
    return tuple(sum(1 for _ in getattr(n, prop)) for n in nodes for prop in _LISTS)


@dataclass
class _Entities:
    shape: tuple[int, ...] = ()
    # kind -> handle pointer -> entity
    by_kind: dict[str, dict[int, Any]] = field(default_factory=dict)
    # kind -> the handles to add to each wait set
    handles: dict[str, list[Any]] = field(default_factory=dict)
    waitables: list[Any] = field(default_factory=list)
    # Wait set sizes, in `NumberOfEntities` (and `WaitSet`) order.
    sizes: tuple[int, ...] = (0, 0, 0, 0, 0, 0)

    @classmethod
    def of(cls, nodes: Sequence[Node], shape: tuple[int, ...], guards: Sequence[Any]) -> _Entities:
        """`guards`: the executor's own guard conditions, waited on with the nodes'."""
        by_kind = {
            kind: {e.handle.pointer: e for n in nodes for e in getattr(n, prop)}
            for kind, prop, _ in _KINDS
        }
        handles = {kind: [e.handle for e in by_kind[kind].values()] for kind, _, _ in _KINDS}
        handles['guard_condition'] += [g.handle for g in guards]
        waitables = [w for n in nodes for w in n.waitables]
        order = ('subscription', 'guard_condition', 'timer', 'client', 'service')
        count = NumberOfEntities(*(len(handles[k]) for k in order))
        for w in waitables:
            count += w.get_num_entities()
        sizes = tuple(getattr(count, name) for name in NumberOfEntities.__slots__)
        return cls(shape, by_kind, handles, waitables, sizes)

    def wait_set(self, context: Context) -> Any:
        ws = _rclpy.WaitSet(*self.sizes, context.handle)
        for kind, _, add in _KINDS:
            add_one = getattr(ws, add)
            for handle in self.handles[kind]:
                add_one(handle)
        for w in self.waitables:
            w.add_to_wait_set(ws)
        return ws


class LeanExecutor(SingleThreadedExecutor):
    # rclpy's: (task, entity, node) of tasks not done yet.
    _tasks: list[tuple[Task, Any, Any]]

    def __init__(self, *, context: Context | None = None) -> None:
        super().__init__(context=context)
        self._entities = _Entities()
        self._woken = True
        # rclpy's take function of each kind (`_take_timer`, ...).
        self._takes = {kind: getattr(self, f'_take_{kind}') for kind, _, _ in _KINDS}

    def _spin_once_impl(
        self,
        timeout_sec: float | TimeoutObject | None = None,
        wait_condition: Callable[[], bool] = lambda: False,
    ) -> None:
        timeout = timeout_sec.timeout if isinstance(timeout_sec, TimeoutObject) else timeout_sec
        # Held while waiting: `shutdown` destroys the guard conditions.
        with self._work_tracker, contextlib.ExitStack() as held:
            if self._is_shutdown or wait_condition():
                return
            self._poll_tasks()
            guards = (self._guard, self._sigint_gc)
            if None in guards:
                return  # `shutdown` came after the check above and destroyed them
            try:
                for handle in (*(g.handle for g in guards), self._context.handle):
                    held.enter_context(handle)
            except InvalidHandle:
                return  # shut down meanwhile
            if self._woken:  # entities made or destroyed wake the executor (among others)
                nodes = self.get_nodes()
                shape = _shape(nodes)
                if shape != self._entities.shape:
                    self._entities = _Entities.of(nodes, shape, guards)
            ws = self._entities.wait_set(self._context)
            ws.wait(timeout_sec_to_nsec(timeout))
            if self._is_shutdown or not self._context.ok():
                return  # (`shutdown` does not wait for the work tracker in this rclpy)
            self._woken = guards[0].handle.pointer in ws.get_ready_entities('guard_condition')
            self._run_ready(ws)

    def _run_ready(self, ws: Any) -> None:
        for w in self._entities.waitables:
            if w.is_ready(ws):
                self._run(self._take_waitable(w))
        for kind, _, _ in _KINDS:
            mine = self._entities.by_kind[kind]
            for pointer in ws.get_ready_entities(kind):
                entity = mine.get(pointer)  # None: the executor's own guard conditions
                if entity is None or (kind == 'timer' and not entity.handle.is_timer_ready()):
                    continue
                self._run(self._takes[kind](entity))

    def _run(self, make: Callable[[], Coroutine[Any, Any, None]] | None) -> None:
        """Run a callback made by rclpy's take functions (None: nothing was taken)."""
        if make is None:
            return
        call = make()
        try:
            call.send(None)
        except StopIteration:
            return
        with self._tasks_lock:  # it awaits: poll it on the next wakes
            self._tasks.append((Task(call, executor=self), None, None))

    def _poll_tasks(self) -> None:
        """Tasks made by `create_task` (an rclpy future's done callbacks) and callbacks that
        await; an exception in one ends the spin, as in rclpy."""
        with self._tasks_lock:
            tasks = [t for t, _, _ in self._tasks]
        for task in tasks:
            task()
        with self._tasks_lock:
            self._tasks = [t for t in self._tasks if not t[0].done()]
        for task in tasks:
            error = task.exception() if task.done() else None
            if error is not None:
                raise error
