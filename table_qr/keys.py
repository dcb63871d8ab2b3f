"""`robodine keys new`: a table key for a new restaurant, or a new one to rotate to.

Prints the JSON value of ROBODINE_TABLE_KEYS. With `--rotate` the new key comes first (it signs
the codes printed from now on) and the current keys follow (codes already on the tables still
verify until their key is removed); the published demo key is never carried over.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Mapping

from pydantic import SecretStr

from orchestrator.settings import DEMO_TABLE_KEY, get_settings

SECRET_BYTES = 32


def next_key_id(existing: Mapping[str, SecretStr]) -> str:
    """`k1`, `k2`, ...: the first unused."""
    n = 1
    while f'k{n}' in existing:
        n += 1
    return f'k{n}'


def new_keys(current: Mapping[str, SecretStr], rotate: bool) -> dict[str, str]:
    kept = {
        k: v.get_secret_value()
        for k, v in current.items()
        if rotate and v.get_secret_value() != DEMO_TABLE_KEY
    }
    return {next_key_id(current if rotate else {}): secrets.token_urlsafe(SECRET_BYTES), **kept}


def keys_command(args: argparse.Namespace) -> int:
    keys = new_keys(get_settings().table_keys, args.rotate)
    print(json.dumps(keys))
    print(
        'Set this as ROBODINE_TABLE_KEYS (a secret: keep it out of the repository), then print '
        'the table codes again with `robodine qr`.',
        file=sys.stderr,
    )
    return 0
