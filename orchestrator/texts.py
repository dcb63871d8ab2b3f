"""The pages' texts, for what the server writes itself: a table per language, the diner
page's (`web/i18n.json`) with the console's under `console` (`web/console_i18n.json`, a file
of its own so that diners' phones never download it).

In the diner's language: the page behind a code that is refused, and receipts. In English, from
the console's table: its refusals, what its controls did, alerts and report titles, for logs,
the audit trail and API callers; each also goes out as its key and values (`Said`), which the
console shows in the operator's language from the same table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

# A value of a text's `{name}`: ids, codes (a robot's mode, a dish's state: the console names
# them in its language), numbers, and what robots and people said (shown as is).
Value = str | int | float


def _catalogue(name: str) -> dict[str, dict[str, Any]]:
    path = resources.files('orchestrator').joinpath(f'web/{name}')
    tables: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding='utf-8'))
    return tables


@cache
def texts(lang: str) -> dict[str, Any]:
    """Every text of the pages in `lang` (one of `config.LANGS`), the console's under
    `console`, as the console reads them (`web/common.js`)."""
    return {**_catalogue('i18n.json')[lang], 'console': _catalogue('console_i18n.json')[lang]}


def english(key: str, args: Mapping[str, Value]) -> str:
    """The console's text at `key` (dotted, under `console`) in English with `args` filled in;
    KeyError for a key or a value it does not have."""
    node: Any = texts('en')['console']
    for part in key.split('.'):
        node = node[part]
    return str(node).format_map(args)


@dataclass(frozen=True)
class Said:
    """A console text, by its key under `console` in i18n.json (`done.pause_sent`) and the
    values of its `{names}`; `str()` is its English."""

    key: str
    args: Mapping[str, Value] = field(default_factory=dict)

    def __str__(self) -> str:
        return english(self.key, self.args)

    def view(self) -> dict[str, Any]:
        """How it travels to the console (an API answer, an alert, an audit entry)."""
        return {'said': self.key, 'args': dict(self.args)}


class Refused(Exception):
    """A console request that cannot apply: the HTTP status, a stable `reason` (its text is
    `refusals.{reason}`) and that text's values; the English text is the `message`, which the
    answer's `detail` and the audit trail carry. `field`: the part of the request to fix."""

    def __init__(
        self,
        status: int,
        reason: str,
        /,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
        **args: Value,
    ) -> None:
        self.said = Said(f'refusals.{reason}', args)
        self.message = str(self.said)
        super().__init__(self.message)
        self.status, self.reason, self.field = status, reason, field
        self.headers = dict(headers or {})
