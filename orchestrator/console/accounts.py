"""Operator accounts: argon2-hashed passwords and a role, in Redis or in configuration.

`robodine operator add NAME` stores `rd:operator:{name}`; accounts given in the settings
(`ROBODINE_OPERATORS`, hashes only) work too, and a Redis account of the same name wins, so a
password changed with the CLI takes effect without a redeploy.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import sys
from dataclasses import dataclass

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis

from orchestrator.settings import Settings, get_settings
from orchestrator.store import accounts, connection
from orchestrator.store.accounts import Account
from orchestrator.store.feed import now_ms

ROLES = ('operator', 'manager')
NAME_RE = re.compile(r'^[a-z0-9][a-z0-9_.-]{0,31}$')
MIN_PASSWORD = 8

hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hasher.hash('robodine-no-such-operator')


@dataclass(frozen=True)
class Operator:
    name: str
    role: str

    @property
    def is_manager(self) -> bool:
        return self.role == 'manager'


def validate(name: str, password: str, role: str) -> None:
    if not NAME_RE.match(name):
        raise ValueError('name: 1-32 lowercase letters, digits, _ . - (starting alphanumeric)')
    if role not in ROLES:
        raise ValueError(f'role: one of {", ".join(ROLES)}')
    if len(password) < MIN_PASSWORD:
        raise ValueError(f'password: at least {MIN_PASSWORD} characters')


def new_account(password: str, role: str) -> Account:
    return Account(hasher.hash(password), role, now_ms())


async def add_operator(r: Redis, name: str, password: str, role: str = 'operator') -> None:
    validate(name, password, role)
    await accounts.save_account(r, name, new_account(password, role))


class VerifierBusy(Exception):
    """Too many sign-ins are waiting for a password check already."""


def _matches(pw_hash: str, password: str) -> bool:
    try:
        return hasher.verify(pw_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class Verifier:
    """Runs argon2 checks (~0.1 s of CPU each) in worker threads, at most `concurrency` at
    once: the event loop, which also takes orders and renews job leases, never waits for one.
    Beyond `concurrency * QUEUE_FACTOR` waiting checks a sign-in is refused (VerifierBusy)."""

    QUEUE_FACTOR = 8

    def __init__(self, concurrency: int) -> None:
        self.slots = asyncio.Semaphore(concurrency)
        self.max_waiting = concurrency * self.QUEUE_FACTOR
        self.waiting = 0

    async def matches(self, pw_hash: str, password: str) -> bool:
        if self.waiting >= self.max_waiting:
            raise VerifierBusy
        self.waiting += 1
        try:
            async with self.slots:
                return await asyncio.to_thread(_matches, pw_hash, password)
        finally:
            self.waiting -= 1


async def authenticate(
    r: Redis, settings: Settings, verifier: Verifier, name: str, password: str
) -> Operator | None:
    """The operator if the password matches, else None (same cost either way)."""
    stored = await accounts.get_account(r, name) if NAME_RE.match(name) else None
    if stored is not None:
        pw_hash, role = stored.password_hash, stored.role
    elif name in settings.operators:
        seed = settings.operators[name]
        pw_hash, role = seed.password_hash.get_secret_value(), seed.role
    else:
        pw_hash, role = _DUMMY_HASH, ''
    if not await verifier.matches(pw_hash, password):
        return None
    return Operator(name, role) if role in ROLES else None


def operator_command(args: argparse.Namespace) -> int:
    """`robodine operator add NAME [--role R] --redis-url URL [--password-stdin]`."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip('\r\n')
    else:
        password = getpass.getpass(f'Password for {args.name}: ')
        if getpass.getpass('Again: ') != password:
            print('error: the passwords differ', file=sys.stderr)
            return 1
    try:
        validate(args.name, password, args.role)
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    client = connection.connect_sync(get_settings(), args.redis_url)
    try:
        existed = accounts.save_account_sync(client, args.name, new_account(password, args.role))
    except redis.RedisError as e:
        print(f'error: cannot reach Redis at {args.redis_url}: {e}', file=sys.stderr)
        return 1
    finally:
        client.close()
    print(f'{"updated" if existed else "added"} {args.role} {args.name}')
    return 0
