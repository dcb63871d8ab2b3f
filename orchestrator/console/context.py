"""What every console request needs: Redis, settings, the restaurant and the shared fan-out."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, Request
from redis.asyncio import Redis

from orchestrator.config import RestaurantConfig
from orchestrator.console.accounts import Verifier
from orchestrator.feed_reader import Fanout
from orchestrator.settings import Settings


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
        raise HTTPException(503, 'the console is starting up')
    return ctx
