"""Typed records to and from Redis hash (and stream entry) fields, by field name.

A record is a dataclass whose fields are `str`, `int`, `float`, `bool` or JSON-encoded values
(lists, tuples, dicts). Fields missing from a hash take the dataclass default, so a record
written by an older version still reads. Partial updates go through `changes`, which refuses a
field the record does not have: a typo is an error, not a silent new hash field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields
from functools import cache
from typing import Any, TypeVar, get_origin, get_type_hints

R = TypeVar('R')
Fields = dict[str, str]


def _types(cls: type) -> dict[str, Any]:
    return _types_of(cls)


@cache
def _types_of(cls: Any) -> dict[str, Any]:
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def encode(value: Any) -> str:
    if isinstance(value, bool):
        return '1' if value else '0'
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(',', ':'))


def decode(kind: Any, raw: str) -> Any:
    if kind is str:
        return raw
    if kind is bool:
        return raw not in ('', '0')
    if kind is int:
        return int(float(raw)) if raw else 0
    if kind is float:
        return float(raw) if raw else 0.0
    value = json.loads(raw) if raw else None
    if get_origin(kind) is tuple:
        return tuple(value or ())
    if value is None and get_origin(kind) in (list, dict):
        return get_origin(kind)()
    return value


def to_fields(record: Any) -> Fields:
    """Every field of the record, encoded."""
    return {name: encode(getattr(record, name)) for name in _types(type(record))}


def from_fields(cls: type[R], h: Mapping[str, str]) -> R:
    """The record from a hash's fields (unknown fields ignored, missing ones defaulted)."""
    types = _types(cls)
    values = {name: decode(kind, h[name]) for name, kind in types.items() if name in h}
    return cls(**values)


def changes(cls: type, **values: Any) -> Fields:
    """Encoded fields for a partial update of a `cls` hash; KeyError for an unknown field."""
    types = _types(cls)
    for name in values:
        if name not in types:
            raise KeyError(f'{cls.__name__} has no field {name!r}')
    return {name: encode(v) for name, v in values.items()}
