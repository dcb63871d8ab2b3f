"""`rd:audit`: who did what from the console, when, and whether it applied.

Every entry also goes to the feed as an `audit` event, so open consoles show it at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.store import feed
from orchestrator.store.records import to_fields
from orchestrator.texts import Said, Value

AUDIT_MAXLEN = 100_000


@dataclass(frozen=True)
class AuditEntry:
    who: str
    action: str
    target: str
    # `ok` or the reason it was refused.
    result: str
    detail: str
    at: int
    # The key and values of what the console said (texts.Said: a refusal, or what a control
    # did), for the console to say it in the operator's language; none for a robot's answer.
    said: str = ''
    args: dict[str, Value] = field(default_factory=dict)


async def record(
    r: Redis,
    who: str,
    action: str,
    target: str,
    result: str,
    detail: str = '',
    said: Said | None = None,
) -> dict[str, str]:
    """Append one audit entry; returns it with its id."""
    key, args = (said.key, dict(said.args)) if said is not None else ('', {})
    entry = to_fields(AuditEntry(who, action, target, result, detail, feed.now_ms(), key, args))
    async with r.pipeline(transaction=True) as pipe:
        pipe.xadd(keys.AUDIT, entry, maxlen=AUDIT_MAXLEN, approximate=True)
        feed.add_event(pipe, 'audit', dict(entry), int(entry['at']))
        entry_id, _ = await pipe.execute()
    return {'id': entry_id, **entry}


async def recent(r: Redis, count: int = 100) -> list[dict[str, str]]:
    return [{'id': i, **f} for i, f in await r.xrevrange(keys.AUDIT, count=count)]
