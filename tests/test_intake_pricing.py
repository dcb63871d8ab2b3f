"""Validation and pricing of orders: pure functions over the demo config."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orchestrator import ids
from orchestrator.config import RestaurantConfig
from orchestrator.menu import menu_payload
from orchestrator.pricing import OrderIn, OrderRejected, price_order, valid_idempotency_key
from orchestrator.store.intake import cook_entries
from orchestrator.store.jobs import CookEntry, entry_fields
from orchestrator.store.menu import MenuState


def order(*lines: dict) -> OrderIn:
    return OrderIn.model_validate({'items': list(lines)})


def test_prices_include_option_deltas_defaults_and_overrides(
    demo_config: RestaurantConfig,
) -> None:
    o = order(
        {'dish_id': 'dan-dan', 'quantity': 3, 'options': {'spice': 'hot'}},
        {'dish_id': 'fries', 'quantity': 1},
    )
    priced = price_order(demo_config, o, prices={'fries': 4500})
    dan, fries = priced.lines
    assert dan['options'] == {'spice': 'hot', 'size': 'regular'}
    assert dan['unit_price'] == 12000 + 500 and dan['line_total'] == 37500
    assert fries['unit_price'] == 4500 and fries['options'] == {}
    assert priced.total == 42000 and priced.dish_ids == ['dan-dan', 'fries']
    assert dan['name']['zh'] == '担担面' and dan['station'] == 'noodle'


@pytest.mark.parametrize(
    ('line', 'field', 'reason'),
    [
        ({'dish_id': 'nope', 'quantity': 1}, 'items[0].dish_id', 'unknown_dish'),
        (
            {'dish_id': 'fries', 'quantity': 1, 'options': {'spice': 'hot'}},
            'items[0].options.spice',
            'unknown_option',
        ),
        (
            {'dish_id': 'udon', 'quantity': 1, 'options': {'size': 'huge'}},
            'items[0].options.size',
            'unknown_choice',
        ),
    ],
)
def test_refusals_name_the_field(
    demo_config: RestaurantConfig, line: dict, field: str, reason: str
) -> None:
    with pytest.raises(OrderRejected) as e:
        price_order(demo_config, order(line))
    assert (e.value.field, e.value.reason, e.value.status) == (field, reason, 422)
    assert str(e.value).startswith(field)


def test_unavailable_in_config_is_sold_out(demo_config: RestaurantConfig) -> None:
    raw = demo_config.model_dump()
    for d in raw['dishes']:
        d['available'] = d['id'] != 'mochi'
    cfg = RestaurantConfig.model_validate(raw)
    with pytest.raises(OrderRejected, match='sold out'):
        price_order(cfg, order({'dish_id': 'mochi', 'quantity': 1}))


@pytest.mark.parametrize(
    'body',
    [
        {'items': []},
        {'items': [{'dish_id': 'mochi', 'quantity': 0}]},
        {'items': [{'dish_id': 'mochi', 'quantity': 21}]},
        {'items': [{'dish_id': 'mochi', 'quantity': 1}] * 31},
        {'items': [{'dish_id': 'mochi', 'quantity': 1, 'note': 'n' * 201}]},
    ],
)
def test_schema_limits(body: dict) -> None:
    with pytest.raises(ValidationError):
        OrderIn.model_validate(body)


def test_body_hash_is_about_meaning_not_bytes() -> None:
    a = order({'dish_id': 'mochi', 'quantity': 1})
    b = OrderIn.model_validate_json('{"items":[{"quantity":1, "dish_id":"mochi", "options":{}}]}')
    c = order({'dish_id': 'mochi', 'quantity': 2})
    assert a.body_hash() == b.body_hash() != c.body_hash()


def test_cook_jobs_one_per_unit(demo_config: RestaurantConfig) -> None:
    o = order(
        {'dish_id': 'kungpao', 'quantity': 2, 'options': {'spice': 'mild'}},
        {'dish_id': 'sikhye', 'quantity': 1},
    )
    jobs = cook_entries(demo_config, 'oabc', 't03', price_order(demo_config, o).lines)
    assert [j.job_id for j in jobs] == ['oabc-00-00', 'oabc-00-01', 'oabc-01-00']
    assert jobs[0].options == ['spice=mild', 'size=regular']
    assert jobs[2] == CookEntry(
        'oabc-01-00', 'oabc', 't03', 'sikhye', 'drinks', ['ice=normal'], 40.0, 1
    )
    # The stream entry's fields, by name.
    assert entry_fields(jobs[2]) == {
        'job_id': 'oabc-01-00',
        'order_id': 'oabc',
        'table_id': 't03',
        'dish_id': 'sikhye',
        'station': 'drinks',
        'options': '["ice=normal"]',
        'cook_time_s': '40.0',
        'line': '1',
        'arrived_at': '0',
    }


def test_ids_and_keys() -> None:
    made = {ids.new_order_id() for _ in range(1000)}
    assert len(made) == 1000
    assert all(ids.is_order_id(i) and len(i) == 11 for i in made)
    job = ids.job_id('oabcdefghij', 3, 12)
    assert job == 'oabcdefghij-03-12'
    assert ids.parse_job_id(job) == ids.JobId('oabcdefghij', 3, 12)
    assert ids.order_of_job(job) == 'oabcdefghij'
    assert ids.parse_job_id('oabcdefghij:events') is None
    assert not ids.is_order_id('oabcdefghij:events')
    assert valid_idempotency_key('abcd-EFG_1234')
    assert not valid_idempotency_key('short') and not valid_idempotency_key('a' * 65)
    assert not valid_idempotency_key(None) and not valid_idempotency_key('bad key 123')


def test_menu_payload(demo_config: RestaurantConfig) -> None:
    menu = menu_payload(demo_config, MenuState(soldout={'mochi'}, prices={'hotteok': 3500}))
    desserts = next(c for c in menu['categories'] if c['id'] == 'desserts')
    by_id = {d['id']: d for d in desserts['dishes']}
    assert by_id['mochi']['available'] is False and by_id['hotteok']['price'] == 3500
    assert desserts['name'] == {'ko': '디저트', 'en': 'Desserts', 'zh': '甜品'}
    assert sum(len(c['dishes']) for c in menu['categories']) == len(demo_config.dishes)
