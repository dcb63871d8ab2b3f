"""The rush report's measures from the orders' timelines (pure, no Redis)."""

from __future__ import annotations

from typing import Any

from orchestrator.rush.report import _left_pass, _Order


def event(kind: str, sim_s: float, **data: Any) -> dict[str, Any]:
    return {'type': kind, 'sim_s': sim_s, 'data': data}


def test_every_order_of_a_trip_leaves_the_pass_when_its_robot_does() -> None:
    # One robot, two tables: progress is only reported for the stop it heads to, so t16's
    # order hears nothing until the robot arrives there; its food left the pass with t12's.
    near = _Order('o1', 't12', 'served', 0.0, [])
    near.events = [
        event('order.ready', 710.0),
        event('delivery.started', 729.0, trip_id='tr1'),
        event('delivery.progress', 730.0, trip_id='tr1'),
        event('delivery.arrived', 763.0, trip_id='tr1'),
    ]
    far = _Order('o2', 't16', 'served', 0.0, [])
    far.events = [
        event('order.ready', 719.0),
        event('delivery.started', 730.0, trip_id='tr1'),
        event('delivery.arrived', 781.0, trip_id='tr1'),
    ]
    waiting = _Order('o3', 't01', 'ready', 0.0, [])
    waiting.events = [event('order.ready', 700.0)]
    assert _left_pass([near, far, waiting]) == {'o1': 730.0, 'o2': 730.0}
