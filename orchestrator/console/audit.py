"""The audit trail: who did what from the console, when, and whether it applied.

Every entry goes to `rd:audit` and, as an `audit` event, to the feed, so open consoles show it
as it happens.
"""

from __future__ import annotations

from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.timeline import add_feed_event, now_ms

AUDIT_MAXLEN = 100_000


async def record(
    r: Redis, who: str, action: str, target: str, result: str, detail: str = ''
) -> dict[str, str]:
    """Append one audit entry; `result` is `ok` or the reason it was refused."""
    entry = {
        'who': who,
        'action': action,
        'target': target,
        'result': result,
        'detail': detail,
        'at': str(now_ms()),
    }
    async with r.pipeline(transaction=True) as pipe:
        pipe.xadd(keys.AUDIT, entry, maxlen=AUDIT_MAXLEN, approximate=True)
        add_feed_event(pipe, 'audit', entry, int(entry['at']))
        entry_id, _ = await pipe.execute()
    return {'id': entry_id, **entry}


async def recent(r: Redis, count: int = 100) -> list[dict[str, str]]:
    return [{'id': i, **f} for i, f in await r.xrevrange(keys.AUDIT, count=count)]
