"""Schemathesis against `/openapi.json` of `robodine serve` on a real Redis: valid and invalid
requests to every documented operation, with a valid table code and a signed-in console session
supplied, get no 5xx and no response the document does not describe (status, content type,
body schema)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
import schemathesis
from api_helpers import Server, token_for, uvicorn_server
from argon2 import PasswordHasher
from console_support import PASSWORD
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from orchestrator.api.app import create_app
from orchestrator.config import RestaurantConfig
from orchestrator.console.operator_actions import MAX_PRICE
from orchestrator.redis_server import RedisServer
from orchestrator.settings import Settings
from orchestrator.store import accounts
from orchestrator.store.accounts import Account
from orchestrator.store.feed import now_ms

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Per operation and mode (valid, invalid input): a few hundred requests in all.
EXAMPLES = 6
TOKEN = token_for('t05')
# Streams that never end by themselves, and signing out (it would end the session the other
# operations use): covered by their own tests.
SKIPPED = (
    r'^/api/menu/events$|^/api/tables/\{token\}/orders/events$|^/console/api/stream$'
    r'|^/console/api/logout$'
)


@pytest.fixture(scope='module')
def server(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    client.flushall()
    client.close()
    with uvicorn_server(redis_server.url, tmp_path_factory.mktemp('fuzz')) as s:
        yield s


@pytest.fixture(scope='module')
def session(server: Server, redis_server: RedisServer) -> dict[str, str]:
    """A signed-in manager: the session cookie and its CSRF token."""
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    account = Account(PasswordHasher().hash(PASSWORD), 'manager', now_ms())
    accounts.save_account_sync(client, 'fuzz', account)
    client.close()
    res = httpx.post(
        f'{server.url}/console/api/login', json={'name': 'fuzz', 'password': PASSWORD}
    )
    assert res.status_code == 200, res.text
    return {'cookie': res.cookies['rd_console'], 'csrf': res.json()['csrf']}


def test_no_server_error_and_every_answer_as_documented(
    server: Server, session: dict[str, str]
) -> None:
    schema = schemathesis.openapi.from_url(f'{server.url}/openapi.json')
    failures: list[str] = []
    calls = 0
    for result in schema.exclude(path_regex=SKIPPED).get_all_operations():
        # An operation the document describes wrongly fails the test here.
        assert isinstance(result, Ok), result.err()
        operation = result.ok()
        for mode in GenerationMode:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def call(case: Any) -> None:
                nonlocal calls
                token = case.path_parameters.get('token') if case.path_parameters else None
                # Mostly the valid table code, so that what stands behind it is reached too;
                # sometimes what the fuzzer made of it.
                if token is not None and hashlib.sha256(str(token).encode()).digest()[0] % 4:
                    case.path_parameters['token'] = TOKEN
                calls += 1
                case.call_and_validate(
                    base_url=server.url,
                    checks=CHECKS,
                    cookies={'rd_console': session['cookie']},
                    headers={'X-CSRF-Token': session['csrf']},
                    timeout=20,
                )

            try:
                call()
            except Unsatisfiable:
                # No invalid value exists for this operation's inputs (free-form strings only).
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as e:  # report every operation's failures
                failures.append(f'{operation.label} ({mode.value}): {e}')
    assert calls >= 200
    assert not failures, '\n\n'.join(failures)


def test_the_document_describes_every_refusal_and_enumerates_the_menu(
    demo_config: RestaurantConfig,
) -> None:
    spec = create_app(Settings(), config=demo_config).openapi()
    error = {'application/json': {'schema': {'$ref': '#/components/schemas/ErrorOut'}}}
    events = spec['paths']['/api/tables/{token}/orders/{order_id}/events']['get']['responses']
    for code in ('401', '403', '404', '422', '429', '503'):
        assert events[code]['content'] == error, code
    login = spec['paths']['/console/api/login']['post']['responses']
    for code in ('400', '401', '413', '422', '429'):
        assert login[code]['content'] == error, code
    assert 'HTTPValidationError' not in spec['components']['schemas']
    line = spec['components']['schemas']['LineIn']['properties']
    assert line['dish_id']['enum'] == [d.id for d in demo_config.dishes]
    assert 'spice' in line['options']['propertyNames']['enum']
    assert 'hot' in line['options']['additionalProperties']['enum']


def test_the_document_declares_what_the_api_refuses(demo_config: RestaurantConfig) -> None:
    """Dates, the webhook's signature and the price bound, as the API checks them."""
    spec = create_app(Settings(), config=demo_config).openapi()
    day = {'type': 'string', 'format': 'date', 'pattern': r'^\d{4}-\d{2}-\d{2}$'}
    (report,) = spec['paths']['/console/api/reports/{which}']['get']['parameters']
    assert day.items() <= report['schema'].items(), report
    (prep,) = spec['paths']['/console/api/prep']['get']['parameters']
    assert day.items() <= prep['schema']['anyOf'][0].items(), prep
    (signature,) = spec['paths']['/api/payments/webhook']['post']['parameters']
    assert (signature['name'], signature['in'], signature['required']) == (
        'Robodine-Signature',
        'header',
        True,
    )
    price = spec['components']['schemas']['PriceBody']['properties']['price']['anyOf'][0]
    assert (price['minimum'], price['maximum']) == (0, MAX_PRICE), price


def test_ids_that_are_not_ids_are_refused_not_failed(
    server: Server, session: dict[str, str]
) -> None:
    with httpx.Client(
        base_url=server.url,
        cookies={'rd_console': session['cookie']},
        headers={'X-CSRF-Token': session['csrf']},
        timeout=20,
    ) as c:
        res = c.post(
            f'/api/tables/{TOKEN}/orders',
            json={'items': [{'dish_id': 'mandu', 'quantity': 1}]},
            headers={'Idempotency-Key': 'fuzz-order-0001'},
        )
        assert res.status_code == 201, res.text
        bad_order = f'{res.json()["id"]}:events'
        answers = [
            c.get(f'/api/tables/{TOKEN}/orders/{bad_order}'),
            c.get(f'/api/tables/{TOKEN}/orders/{bad_order}/events'),
            c.post(f'/api/tables/{TOKEN}/orders/{bad_order}/pickup'),
            c.post(f'/console/api/orders/{bad_order}/cancel', json={}),
            c.post(f'/console/api/orders/{bad_order}/redeliver'),
            c.post(f'/console/api/orders/{bad_order}/dishes/{bad_order}-0/bump'),
        ]
        for bad in ('not-an-id', '99999999999999999999-0', '1-2-3'):
            answers.append(c.post(f'/console/api/alerts/{bad}/ack'))
            answers.append(c.post(f'/console/api/dead/{bad}/requeue'))
        for res in answers:
            assert 400 <= res.status_code < 500, (res.request.url, res.status_code, res.text)
            # ErrorOut: the console's refusals also name their text's values (`args`).
            assert set(res.json()) - {'args'} == {'detail', 'field', 'reason'}
