"""The diner's texts (`web/i18n.json`, which the diner page loads) for what the server writes in
the diner's language itself: the page behind a code that is refused, and receipts."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def texts(lang: str) -> dict[str, Any]:
    """Every text of the diner page in `lang` (one of `config.LANGS`)."""
    path = resources.files('orchestrator').joinpath('web/i18n.json')
    catalogue: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding='utf-8'))
    return catalogue[lang]
