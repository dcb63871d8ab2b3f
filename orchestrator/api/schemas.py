"""Response shapes, for the OpenAPI document (handlers build plain dicts for speed)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

LINE_EXAMPLE: dict[str, Any] = {
    'dish_id': 'kungpao',
    'name': {'ko': '궁보계정', 'en': 'Kung Pao Chicken', 'zh': '宫保鸡丁'},
    'station': 'wok',
    'quantity': 2,
    'options': {'spice': 'hot', 'size': 'regular'},
    'note': 'no peanuts',
    'unit_price': 14500,
    'line_total': 29000,
}
ORDER_EXAMPLE: dict[str, Any] = {
    'id': 'o3kq9vz2m1x',
    'table_id': 't01',
    'status': 'received',
    'lines': [LINE_EXAMPLE],
    'total': 29000,
    'currency': 'KRW',
    'created_at': 1764383918123,
}
EVENT_EXAMPLE: dict[str, Any] = {
    'id': '1764383918123-0',
    'type': 'order.accepted',
    'order_id': 'o3kq9vz2m1x',
    'at': 1764383918123,
    'status': 'received',
    'data': {'table_id': 't01', 'total': 29000, 'jobs': 2},
}

MENU_EXAMPLE: dict[str, Any] = {
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


class ErrorOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            'examples': [
                {
                    'detail': 'items[0].quantity: Input should be less than or equal to 20',
                    'field': 'items[0].quantity',
                    'reason': 'invalid',
                }
            ]
        }
    )

    # In English, for people reading logs and answers.
    detail: str
    field: str | None = None
    # A stable code to show the refusal in the user's language (`sold_out`, `rate_limited`,
    # `visit_ended`, ...).
    reason: str
    # The console's refusals only: the values their text names (`{"robot": "serve1"}`).
    args: dict[str, str | int | float] | None = None


class LineOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={'examples': [LINE_EXAMPLE]})

    dish_id: str
    name: dict[str, str]
    station: str
    quantity: int
    options: dict[str, str]
    note: str
    # Minor currency units; unit_price includes option price deltas.
    unit_price: int
    line_total: int


class OrderOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={'examples': [ORDER_EXAMPLE]})

    id: str
    table_id: str
    status: str
    lines: list[LineOut]
    total: int
    currency: str
    created_at: int


class EventOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={'examples': [EVENT_EXAMPLE]})

    id: str
    type: str
    order_id: str
    at: int
    status: str | None
    data: dict[str, Any]


class OrderState(OrderOut):
    model_config = ConfigDict(
        json_schema_extra={
            'examples': [
                {
                    **ORDER_EXAMPLE,
                    'status': 'cooking',
                    'jobs_total': 2,
                    'jobs_cooked': 1,
                    'updated_at': 1764383950000,
                    'robot_id': None,
                    'eta_at': 1764384480000,
                    'eta_s': 530,
                }
            ]
        }
    )

    jobs_total: int
    jobs_cooked: int
    updated_at: int
    robot_id: str | None
    # The food came back to the pass (nobody took it at the table): staff send it again.
    returned: bool = False
    # When the food should reach the table, from the kitchen's schedule (ms since the epoch),
    # and the same in seconds from now; null until the dispatcher has an estimate, and while
    # returned food waits to be sent again.
    eta_at: int | None = None
    eta_s: int | None = None


class OrderDetail(OrderState):
    model_config = ConfigDict(
        json_schema_extra={
            'examples': [
                {
                    **ORDER_EXAMPLE,
                    'jobs_total': 2,
                    'jobs_cooked': 0,
                    'updated_at': 1764383918123,
                    'robot_id': None,
                    'timeline': [EVENT_EXAMPLE],
                }
            ]
        }
    )

    timeline: list[EventOut]


class OrderActionOut(BaseModel):
    """What a diner asked of an order (a pickup, food brought again), accepted."""

    order_id: str
    status: str


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error statuses a route can return."""
    return {code: {'model': ErrorOut} for code in codes}
