"""What every console request needs: Redis, settings, the restaurant and the shared fan-out."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from redis.asyncio import Redis

from orchestrator.config import RestaurantConfig
from orchestrator.console.accounts import Verifier
from orchestrator.feed_reader import Fanout
from orchestrator.settings import Settings
from orchestrator.texts import Refused


@dataclass
class ConsoleContext:
    redis: Redis
    settings: Settings
    config: RestaurantConfig
    fanout: Fanout
    verifier: Verifier


def get_ctx(request: Request) -> ConsoleContext:
    ctx = getattr(request.app.state, 'console', None)
    if ctx is None:
        raise Refused(503, 'starting_up')
    return ctx
