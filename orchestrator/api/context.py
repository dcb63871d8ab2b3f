"""What every request handler and background service of one app instance shares."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis

from orchestrator.api.live import StreamLimits
from orchestrator.config import RestaurantConfig, Table
from orchestrator.feed_reader import Fanout
from orchestrator.metrics import Metrics
from orchestrator.settings import Settings
from orchestrator.store.intake import Intake


@dataclass
class AppContext:
    settings: Settings
    config: RestaurantConfig
    redis: Redis
    intake: Intake
    metrics: Metrics
    # The process's one reader of the feed, behind every live stream.
    fanout: Fanout
    streams: StreamLimits
    # Table tokens that verified, so a table's later requests skip the HMAC. Keys and revoked
    # tokens are fixed for the app's lifetime, and only valid tokens (at most tables x keys)
    # are kept, so a stranger cannot grow it.
    table_by_token: dict[str, Table] = field(default_factory=dict)
