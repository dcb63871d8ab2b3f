"""The menu, with what is sold out and today's prices."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from orchestrator.api.deps import ConfigDep, RedisDep
from orchestrator.api.schemas import MENU_EXAMPLE, errors
from orchestrator.menu import menu_payload
from orchestrator.store.menu import read_state

router = APIRouter(tags=['menu'])


@router.get(
    '/api/menu',
    summary='Menu by category, names in ko/en/zh, availability, prices',
    responses={
        200: {'content': {'application/json': {'example': MENU_EXAMPLE}}},
        **errors(503),
    },
)
async def get_menu(cfg: ConfigDep, r: RedisDep) -> dict[str, Any]:
    return menu_payload(cfg, await read_state(r, (d.id for d in cfg.dishes)))
