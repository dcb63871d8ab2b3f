"""Console accounts and sign-ins: `rd:operator:{name}` (argon2 hash and role),
`rd:session:{sid}` (a signed-in operator, with a sliding TTL) and `rd:login-fail:{subject}`
(sign-in attempts not followed by success, per client address and per name at an address,
expiring)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import redis
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.store import counters
from orchestrator.store.records import from_fields, to_fields


@dataclass(frozen=True)
class Account:
    password_hash: str
    role: str
    updated_at: int = 0


@dataclass(frozen=True)
class SessionRecord:
    name: str
    role: str
    csrf: str


async def get_account(r: Redis, name: str) -> Account | None:
    h = await r.hgetall(keys.operator(name))
    return from_fields(Account, {'role': 'operator', **h}) if h.get('password_hash') else None


async def save_account(r: Redis, name: str, account: Account) -> None:
    await r.hset(keys.operator(name), mapping=to_fields(account))


def save_account_sync(client: redis.Redis, name: str, account: Account) -> bool:
    """For the command line; returns whether the account existed."""
    existed = bool(client.exists(keys.operator(name)))
    client.hset(keys.operator(name), mapping=to_fields(account))
    return existed


def account_names_sync(client: redis.Redis) -> Iterator[str]:
    prefix = keys.operator('')
    for key in client.scan_iter(keys.operator('*'), count=100):
        yield str(key)[len(prefix) :]


async def create_session(r: Redis, sid: str, session: SessionRecord, ttl_s: int) -> None:
    await r.set(keys.session(sid), json.dumps(asdict(session)), ex=ttl_s)


async def touch_session(r: Redis, sid: str, ttl_s: int) -> SessionRecord | None:
    """The session, its TTL renewed; None if it expired or never was."""
    raw = await r.get(keys.session(sid))
    if raw is None:
        return None
    await r.expire(keys.session(sid), ttl_s)
    return SessionRecord(**json.loads(raw))


async def session_alive(r: Redis, sid: str) -> bool:
    """Whether the session is still signed in (its TTL left as it is)."""
    return bool(await r.exists(keys.session(sid)))


async def end_session(r: Redis, sid: str) -> None:
    await r.delete(keys.session(sid))


async def count_attempt(r: Redis, subjects: list[str], window_s: int) -> list[tuple[int, int]]:
    """Count a sign-in attempt against each subject before its password is checked:
    (attempts in the current window, seconds until they are forgotten) per subject."""
    counted = await counters.count(r, [keys.login_failures(s) for s in subjects], window_s * 1000)
    return [(n, max(left_ms // 1000, 1)) for n, left_ms in counted]


async def forgive_attempt(r: Redis, shared: str, own: str, window_s: int) -> None:
    """A sign-in succeeded: it no longer counts against the `shared` subject (a client address
    others may use too), and the `own` subject's (that name at that address) failures end."""
    async with r.pipeline(transaction=True) as pipe:
        pipe.decr(keys.login_failures(shared))
        # Had the window just ended, DECR made a new key: it must expire too.
        pipe.expire(keys.login_failures(shared), window_s, nx=True)
        pipe.delete(keys.login_failures(own))
        await pipe.execute()
