"""The store: the only code that reads or writes Redis records.

One module per kind of record, each with a typed record (dataclass) that converts to and from
the hash or stream-entry fields by name (`records.py`). Everything above — `api/`, `console/`,
`dispatch/`, `rush/` — goes through these modules; they depend only on `redis_keys`, `ids`,
`config` and each other (in one direction: feed <- orders <- jobs, trips, intake).

| key | module |
| --- | --- |
| `rd:order:{id}`, `rd:order:{id}:events`, `rd:table:{t}:orders` | `orders` (created by `intake`) |
| `rd:idem:{t}:{key}` | `intake` |
| `rd:job:{id}`, `rd:cook:{station}`, `rd:dead` | `jobs` (created by `intake`; read by `work`) |
| `rd:deliveries` | `deliveries` (read by `work`) |
| `rd:trip:{id}` | `trips` |
| `rd:control`, `rd:control:queued:{robot}:{command}` | `commands` |
| `rd:feed` | `feed` |
| `rd:alerts`, `rd:alerts:acked`, `rd:alerts:resolved`, `rd:alerted:{kind}:{subject}` | `alerts` |
| `rd:audit` | `audit` |
| `rd:soldout`, `rd:price:{dish}` | `menu` |
| `rd:operator:{name}`, `rd:session:{sid}`, `rd:login-fail:{subject}` | `accounts` |
| `rd:robot:{id}` | `robots` |
| `rd:dispatch:stats` | `stats` |
| `rd:table:{t}:visit`, `rd:visit:{sid}`, `rd:staff-call:{t}` | `sessions` (attached by `intake`) |
| `rd:tables:paid` | `sessions` (added by `payments`) |
| `rd:payment:{id}`, `rd:visit:{sid}:payments`, `rd:pay-idem:…`, `rd:pay-event:…` | `payments` |
| `rd:stock:levels`, `rd:stock:recipes`, `rd:stock:out`, `rd:stock:moves` | `stock` (by `intake`) |
| `rd:archive:upto` | `history` (what the archive reads) |
| `rd:duty:{name}` | `duties` |
| `rd:closures` | `closures` |

`retention` owns no key: it deletes finished records of `orders`, `jobs`, `trips`, `alerts`,
`feed` and dead letters by their keys, after reading them through those modules.
"""
