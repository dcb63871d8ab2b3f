"""The OpenAPI document as the server really answers: every refusal an operation can give,
with the project's error body, and the restaurant's dish, option and choice ids enumerated.

Error statuses follow from what guards a route, so they are added here by rule rather than
repeated on each route: a body can be too large (413) or invalid (422); a table route needs a
valid table code (401, 403), names an order (404) and is rate limited (429); a console route
needs a session and its CSRF token (401, 403) and refuses changes that do not apply (404, 409);
anything that reads Redis may find it unreachable (503). A route's own `responses=` win.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from orchestrator.api.schemas import ErrorOut
from orchestrator.config import RestaurantConfig

ERROR_CONTENT = {'application/json': {'schema': {'$ref': '#/components/schemas/ErrorOut'}}}
DESCRIPTIONS = {
    400: 'Bad request (a header is missing or malformed)',
    401: 'Not authenticated: a forged or unknown table code, or no console session',
    403: 'Not allowed: a revoked table code, a missing CSRF token or role',
    404: 'No such order, dish, robot, alert or dead letter',
    409: 'Conflicts with the current state',
    413: 'Request body too large',
    422: 'Invalid request: `field` names what to fix',
    429: 'Too many requests or open streams: see Retry-After where given',
    503: 'Redis (or the console) is unavailable: retry',
}
# Path prefix -> the statuses every operation under it may answer.
BY_PREFIX = {
    '/api/tables/': (401, 403, 404, 429, 503),
    '/api/menu': (503,),
    '/console/api/': (401, 403, 404, 409, 429, 503),
}
# Live streams are capped per client address.
STREAMS = (429,)


def statuses(path: str, operation: dict[str, Any]) -> set[int]:
    out: set[int] = set()
    for prefix, codes in BY_PREFIX.items():
        if path.startswith(prefix):
            out.update(codes)
    if path.endswith('/events'):
        out.update(STREAMS)
    if 'requestBody' in operation:
        # 400: the body is not JSON at all; 422: it is, but not what the operation takes.
        out.update((400, 413, 422))
    if operation.get('parameters'):
        out.add(422)
    return out


def describe_errors(spec: dict[str, Any]) -> None:
    for path, item in spec.get('paths', {}).items():
        for operation in item.values():
            responses = operation.setdefault('responses', {})
            # FastAPI documents its own validation body; ours is {"detail", "field"}.
            if '422' in responses:
                responses['422'] = {'description': DESCRIPTIONS[422]}
            for code in sorted(statuses(path, operation)):
                responses.setdefault(str(code), {'description': DESCRIPTIONS[code]})
            # A diner page answers its refusals with a page; everything else with the error body.
            page = path.startswith('/t/')
            content = {'text/html': {'schema': {'type': 'string'}}} if page else ERROR_CONTENT
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400 and 'content' not in response:
                    response['content'] = content
    schemas = spec.setdefault('components', {}).setdefault('schemas', {})
    schemas['ErrorOut'] = ErrorOut.model_json_schema(ref_template='#/components/schemas/{model}')
    for unused in ('HTTPValidationError', 'ValidationError'):
        schemas.pop(unused, None)


def enumerate_menu(spec: dict[str, Any], cfg: RestaurantConfig) -> None:
    """Dish ids, option ids and choice ids as enums on an order line (which option belongs to
    which dish the schema cannot say: that is checked with a 422 naming the field)."""
    line = spec.get('components', {}).get('schemas', {}).get('LineIn')
    if line is None:
        return
    options = sorted({o.id for d in cfg.dishes for o in d.options})
    choices = sorted({c.id for d in cfg.dishes for o in d.options for c in o.choices})
    props = line['properties']
    props['dish_id']['enum'] = [d.id for d in cfg.dishes]
    props['options']['propertyNames'] = {'enum': options}
    props['options']['additionalProperties'] = {'type': 'string', 'enum': choices}


def install(app: FastAPI, cfg: RestaurantConfig) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            describe_errors(spec)
            enumerate_menu(spec, cfg)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
