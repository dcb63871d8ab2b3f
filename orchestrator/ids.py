"""Every id robodine makes, and the one place that parses them.

- order `o` + 10 base32 characters (50 random bits): short, url-safe, unguessable enough;
- cook job `{order_id}-{line:02d}-{unit:02d}`: one per dish unit, so the order is known from
  the job id alone (transactions watch the order of a job);
- trip `tr` + 10 hex characters;
- dining session `v` + 10 hex characters, payment `pay` + 16 hex characters (unguessable: a
  payment id is in the simulated provider's checkout URL).
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass

ORDER_ID = re.compile(r'^o[a-z2-7]{10}$')
JOB_ID = re.compile(r'^(o[a-z2-7]{10})-(\d{2,})-(\d{2,})$')


def new_order_id() -> str:
    # The first 10 base32 characters of 56 random bits are 50 of them (in C, not a loop).
    return 'o' + base64.b32encode(secrets.token_bytes(7))[:10].decode().lower()


def new_trip_id() -> str:
    return 'tr' + secrets.token_hex(5)


def new_session_id() -> str:
    return 'v' + secrets.token_hex(5)


def new_payment_id() -> str:
    return 'pay' + secrets.token_hex(8)


def is_order_id(value: str) -> bool:
    return ORDER_ID.fullmatch(value) is not None


def job_id(order_id: str, line: int, unit: int) -> str:
    return f'{order_id}-{line:02d}-{unit:02d}'


@dataclass(frozen=True)
class JobId:
    order_id: str
    line: int
    unit: int


def parse_job_id(value: str) -> JobId | None:
    """The parts of a cook job id, or None if `value` is not one."""
    m = JOB_ID.fullmatch(value)
    return None if m is None else JobId(m[1], int(m[2]), int(m[3]))


def order_of_job(value: str) -> str:
    """The order id of a job id; ValueError if it is not a job id."""
    parsed = parse_job_id(value)
    if parsed is None:
        raise ValueError(f'not a cook job id: {value!r}')
    return parsed.order_id


def job_ids(order_id: str, quantities: list[int]) -> list[tuple[int, str]]:
    """(line index, job id) of every dish unit of an order whose lines have these quantities."""
    return [(li, job_id(order_id, li, u)) for li, q in enumerate(quantities) for u in range(q)]
