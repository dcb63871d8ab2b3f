"""The menu, with what is sold out and today's prices."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from orchestrator.api.deps import ConfigDep, RedisDep
from orchestrator.api.schemas import errors
from orchestrator.menu import menu_payload, read_state

router = APIRouter(tags=['menu'])


@router.get(
    '/api/menu',
    summary='Menu by category, names in ko/en/zh, availability, prices',
    responses={
        200: {
            'content': {
                'application/json': {
                    'example': {
                        'restaurant': {
                            'id': 'demo',
                            'name': {
                                'ko': '로보다인 서울',
                                'en': 'Robodine Seoul',
                                'zh': '机器人餐厅首尔店',
                            },
                            'currency': 'KRW',
                            'currency_decimals': 0,
                        },
                        'categories': [
                            {
                                'id': 'mains',
                                'name': {'ko': '메인', 'en': 'Mains', 'zh': '主菜'},
                                'dishes': [
                                    {
                                        'id': 'mapo-tofu',
                                        'name': {
                                            'ko': '마파두부',
                                            'en': 'Mapo Tofu',
                                            'zh': '麻婆豆腐',
                                        },
                                        'station': 'wok',
                                        'price': 12000,
                                        'allergens': ['soy', 'pork'],
                                        'available': True,
                                        'options': [
                                            {
                                                'id': 'spice',
                                                'name': {
                                                    'ko': '맵기',
                                                    'en': 'Spice level',
                                                    'zh': '辣度',
                                                },
                                                'default': 'medium',
                                                'choices': [
                                                    {
                                                        'id': 'hot',
                                                        'name': {
                                                            'ko': '매운맛',
                                                            'en': 'Hot',
                                                            'zh': '特辣',
                                                        },
                                                        'price_delta': 500,
                                                    }
                                                ],
                                            }
                                        ],
                                    }
                                ],
                            }
                        ],
                    }
                }
            }
        },
        **errors(503),
    },
)
async def get_menu(cfg: ConfigDep, r: RedisDep) -> dict[str, Any]:
    return menu_payload(cfg, await read_state(r, (d.id for d in cfg.dishes)))
