"""A serving robot's simulated battery: drained by distance driven and time switched on,
filled on its charger (rates: the restaurant config's `battery`, simulated time).

A hardware driver would read the robot's battery management system instead; the node only
asks for `level` and tells `update` what happened since the last tick.
"""

from __future__ import annotations

from orchestrator.config import Battery


class SimBattery:
    def __init__(self, model: Battery, level: float) -> None:
        self.model = model
        self.level = min(1.0, max(0.0, level))

    def update(self, distance_m: float, dt_s: float, charging: bool) -> None:
        """`distance_m` driven over `dt_s` simulated seconds, on the charger or not."""
        if charging:
            self.level = min(1.0, self.level + dt_s / 3600 * self.model.charge_per_h)
        else:
            self.level = max(0.0, self.level - self.model.used(distance_m, dt_s))

    @property
    def low(self) -> bool:
        return self.level < self.model.low

    @property
    def charged(self) -> bool:
        return self.level >= self.model.charged
