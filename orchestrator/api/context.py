"""What every request handler and background service of one app instance shares."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from orchestrator.config import RestaurantConfig, Table
from orchestrator.intake import Intake
from orchestrator.metrics import Metrics
from orchestrator.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    config: RestaurantConfig
    redis: Redis
    intake: Intake
    metrics: Metrics
    # Table tokens that verified, so a table's later requests skip the HMAC. Keys and revoked
    # tokens are fixed for the app's lifetime, and only valid tokens (at most tables x keys)
    # are kept, so a stranger cannot grow it.
    table_by_token: dict[str, Table] = field(default_factory=dict)


# A background service run for the app's lifetime (the dispatcher, a console feed reader):
# entered at startup, exited at shutdown, given the app's shared context.
Service = Callable[[AppContext], AbstractAsyncContextManager[Any]]
