"""Table tokens: what a table's QR code carries, so a phone can order for that table only.

A token is `{key_id}.{restaurant_id}.{table_id}.{signature}`: the signature is HMAC-SHA256 over
the first three parts, truncated to 128 bits and base64url-encoded (22 characters). The key id
lets secrets rotate: new codes are signed with the first key of `Settings.table_keys`, codes
printed under an older key still verify as long as that key is listed. Ids never contain a dot,
so the token is unambiguous and URL-safe as it stands.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from pydantic import SecretStr

SIGNATURE_BYTES = 16


class TokenError(Exception):
    """A token that must be refused; `status` is 401 (not genuine) or 403 (revoked)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class TableClaim:
    restaurant_id: str
    table_id: str
    key_id: str


def _signature(secret: SecretStr, key_id: str, restaurant_id: str, table_id: str) -> str:
    msg = f'{key_id}.{restaurant_id}.{table_id}'.encode()
    digest = hmac.new(secret.get_secret_value().encode(), msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:SIGNATURE_BYTES]).rstrip(b'=').decode()


def sign(keys: Mapping[str, SecretStr], restaurant_id: str, table_id: str) -> str:
    """A token for one table, signed with the first (current) key."""
    if not keys:
        raise ValueError('no table keys configured (Settings.table_keys)')
    key_id, secret = next(iter(keys.items()))
    if '.' in key_id:
        raise ValueError(f'table key id {key_id!r} must not contain a dot')
    signature = _signature(secret, key_id, restaurant_id, table_id)
    return f'{key_id}.{restaurant_id}.{table_id}.{signature}'


def verify(
    token: str, keys: Mapping[str, SecretStr], restaurant_id: str, revoked: Collection[str] = ()
) -> TableClaim:
    """The table a token stands for; raises TokenError if it is forged, tampered or revoked."""
    parts = token.split('.')
    if len(parts) != 4 or not all(parts):
        raise TokenError(401, 'table code is not valid (malformed token)')
    key_id, rid, table_id, sig = parts
    secret = keys.get(key_id)
    if secret is None:
        raise TokenError(401, 'table code is not valid (unknown signing key)')
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a 500, before).
    expected = _signature(secret, key_id, rid, table_id)
    if not hmac.compare_digest(sig.encode(), expected.encode()):
        raise TokenError(401, 'table code is not valid (bad signature)')
    if rid != restaurant_id:
        raise TokenError(401, 'table code belongs to another restaurant')
    if token in revoked:
        raise TokenError(403, 'this table code has been revoked; please ask staff for a new one')
    return TableClaim(restaurant_id=rid, table_id=table_id, key_id=key_id)


def table_url(base_url: str, token: str) -> str:
    return f'{base_url.rstrip("/")}/t/{token}'
