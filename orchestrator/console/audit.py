"""The audit trail: who did what from the console, when, and whether it applied.

Every entry goes to `rd:audit` and, as an `audit` event, to the feed, so open consoles show it
as it happens.
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.timeline import now_ms

AUDIT_MAXLEN = 100_000


def feed_fields(kind: str, data: dict[str, Any], at: int | None = None) -> dict[str, str]:
    """A feed entry that is not about one order (alerts, audit, menu, robots)."""
    return {
        'type': kind,
        'order_id': str(data.get('order_id') or ''),
        'at': str(at or now_ms()),
        'data': json.dumps(data, ensure_ascii=False, separators=(',', ':')),
    }


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
        pipe.xadd(
            keys.FEED,
            feed_fields('audit', entry, int(entry['at'])),
            maxlen=100_000,
            approximate=True,
        )
        entry_id, _ = await pipe.execute()
    return {'id': entry_id, **entry}


async def recent(r: Redis, count: int = 100) -> list[dict[str, str]]:
    return [{'id': i, **f} for i, f in await r.xrevrange(keys.AUDIT, count=count)]
