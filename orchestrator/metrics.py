"""A tiny Prometheus text exposition: counters and a histogram, kept per app instance.

Enough for `/metrics` (orders accepted, rejections by reason, intake latency) without a
dependency; the format is the plain text one Prometheus scrapes (version 0.0.4).
"""

from __future__ import annotations

import bisect
from collections import defaultdict

CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Counter:
    def __init__(self, name: str, help_: str, label: str | None = None) -> None:
        self.name, self.help, self.label = name, help_, label
        self.values: defaultdict[str, float] = defaultdict(float)

    def inc(self, label_value: str = '', amount: float = 1.0) -> None:
        self.values[label_value] += amount

    def render(self) -> list[str]:
        out = [f'# HELP {self.name} {self.help}', f'# TYPE {self.name} counter']
        if self.label is None:
            out.append(f'{self.name} {self.values[""]:g}')
        else:
            out += [
                f'{self.name}{{{self.label}="{v}"}} {n:g}' for v, n in sorted(self.values.items())
            ]
        return out


class Histogram:
    def __init__(self, name: str, help_: str, buckets: tuple[float, ...]) -> None:
        self.name, self.help, self.buckets = name, help_, buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value

    def render(self) -> list[str]:
        out = [f'# HELP {self.name} {self.help}', f'# TYPE {self.name} histogram']
        cumulative = 0
        for bound, n in zip((*self.buckets, float('inf')), self.counts, strict=True):
            cumulative += n
            le = '+Inf' if bound == float('inf') else f'{bound:g}'
            out.append(f'{self.name}_bucket{{le="{le}"}} {cumulative}')
        out += [f'{self.name}_sum {self.sum:.6f}', f'{self.name}_count {cumulative}']
        return out


class Metrics:
    def __init__(self) -> None:
        self.orders_accepted = Counter(
            'robodine_orders_accepted_total', 'Orders stored in Redis (replays not counted).'
        )
        self.rejections = Counter(
            'robodine_order_rejections_total', 'Requests refused, by reason.', label='reason'
        )
        self.intake_seconds = Histogram(
            'robodine_intake_seconds',
            'Time from receiving an order to Redis acknowledging it.',
            LATENCY_BUCKETS,
        )

    def render(self) -> str:
        lines = [
            *self.orders_accepted.render(),
            *self.rejections.render(),
            *self.intake_seconds.render(),
        ]
        return '\n'.join(lines) + '\n'
