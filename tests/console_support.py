"""Helpers for the console tests: operators, orders placed through the real diner API."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.console.accounts import add_operator
from orchestrator.settings import Settings
from orchestrator.store.feed import now_ms
from table_qr.tokens import sign

PASSWORD = 'correct-horse-battery'


def table_token(settings: Settings, cfg: RestaurantConfig, table_id: str) -> str:
    return sign(settings.table_keys, cfg.restaurant.id, table_id)


async def sign_in(
    client: httpx.AsyncClient, r: Redis, name: str = 'ana', role: str = 'operator'
) -> str:
    """Create the operator, sign in (the client keeps the cookie); returns the CSRF token."""
    await add_operator(r, name, PASSWORD, role)
    res = await client.post('/console/api/login', json={'name': name, 'password': PASSWORD})
    assert res.status_code == 200, res.text
    return str(res.json()['csrf'])


async def place_order(
    client: httpx.AsyncClient, token: str, items: list[dict[str, Any]]
) -> dict[str, Any]:
    res = await client.post(
        f'/api/tables/{token}/orders',
        json={'items': items},
        headers={'Idempotency-Key': secrets.token_hex(8)},
    )
    assert res.status_code == 201, res.text
    return dict(res.json())


async def robot_state(r: Redis, robot_id: str, mode: str, **fields: Any) -> None:
    """What the fleet bridge mirrors for a robot heartbeat."""
    await r.hset(
        keys.robot(robot_id),
        mapping={
            'robot_id': robot_id,
            'mode': mode,
            'jobs': '[]',
            'x': 1.0,
            'y': 12.2,
            'theta': 0,
            'battery': 0.9,
            'detail': '',
            'seen_at': now_ms(),
            **fields,
        },
    )
