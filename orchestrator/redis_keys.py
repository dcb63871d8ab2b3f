"""Every Redis key and stream name robodine uses, in one place (only `orchestrator.store`
imports it: each key has one owning module there, see `orchestrator/store/__init__.py`).

Layout (all under the `rd:` prefix):
- `rd:order:{order_id}`            hash   the order: table, status, total, lines (JSON), times
- `rd:order:{order_id}:events`     stream the order's timeline; the diner's SSE reads it
- `rd:table:{table_id}:orders`     zset   order ids of a table, scored by creation time (ms)
- `rd:idem:{table_id}:{key}`       string idempotency record: body hash + order id
- `rd:cook:{station}`              stream cook jobs of one station, consumer group `dispatch`
- `rd:job:{job_id}`                hash   a job's state, lease owner/expiry and epoch
- `rd:deliveries`                  stream delivery (serving-trip) jobs, consumer group `dispatch`
- `rd:dead`                        stream jobs that failed `max_attempts` times, with reasons
- `rd:feed`                        stream every event of the restaurant, for consoles
- `rd:alerts`                      stream operator alerts; `rd:alerts:acked` set of acked ids,
                                          `rd:alerts:resolved` set of those whose cause is gone
- `rd:audit`                       stream who did what from the console
- `rd:control`                     stream operator commands for robots, consumer group `fleet`
- `rd:control:queued:{robot}:{cmd}` string a pause / resume / dock queued and not yet run
- `rd:robot:{robot_id}`            hash   last RobotState heartbeat seen by the fleet bridge
- `rd:soldout`                     set    dish ids marked sold out (86'd)
- `rd:price:{dish_id}`             string manager's price override
- `rd:operator:{name}`             hash   operator account: password hash, role
- `rd:session:{sid}`               string operator session (JSON), with a TTL
- `rd:login-fail:{name|addr}`      string failed console sign-ins, expiring (rate limit)
- `rd:alerted:{kind}:{subject}`    string an alert was raised once for this subject
- `rd:trip:{trip_id}`              hash   a serving trip: robot, orders, stops, epoch, lease
- `rd:robot-trip:{robot_id}`       string the last trip created for a serving robot: while it
                                          is active, no dispatcher creates another for it
- `rd:dispatch:stats`              hash   dispatcher counters (claims, fenced writes, ...)
- `rd:table:{table_id}:visit`      hash   the table's current (or last) dining session
- `rd:tables:paid`                 zset   tables paid in full, scored by that payment (ms):
                                          what the auto-close sweeper looks at
- `rd:visit:{session_id}`          hash   a closed dining session, kept for its receipt
- `rd:visit:{session_id}:payments` list   payment ids of a dining session, oldest first
- `rd:staff-call:{table_id}`       string a table called staff (expires: the rate limit)
- `rd:party-sizes:{table_id}`      string party sizes the table's diners set this minute
                                          (expires: the rate limit)
- `rd:payment:{payment_id}`        hash   a payment of one share: amount, status, provider ref
- `rd:pay-idem:{session_id}:{key}` string the payment an Idempotency-Key created
- `rd:pay-event:{event_id}`        string a provider webhook event already applied (replays)
- `rd:stock:levels`                hash   ingredient -> level (an integer in its unit)
- `rd:stock:recipes`               hash   what one unit of each dish needs, and who needs what
- `rd:stock:out`                   set    dishes the stock 86'd by itself (back when restocked)
- `rd:stock:moves`                 stream every stock movement (sale, return, waste, restock,
                                          count, out, back), until archived
- `rd:archive:upto`                string the archive holds every finished record before this
- `rd:duty:{name}`                 string the process running a background duty (expires)
- `rd:closures`                    string the aisles and waypoints the operator closed (JSON,
                                          with a version raised by every change to at
                                          least the wall clock in ms)
"""

from __future__ import annotations

PREFIX = 'rd'
# The dispatchers' group on the cook streams and on `rd:deliveries` (read in one call).
DISPATCH_GROUP = 'dispatch'
# The dispatchers' group on `rd:control`.
CONTROL_GROUP = 'fleet'

FEED = f'{PREFIX}:feed'
DELIVERIES = f'{PREFIX}:deliveries'
DEAD = f'{PREFIX}:dead'
ALERTS = f'{PREFIX}:alerts'
ALERTS_ACKED = f'{PREFIX}:alerts:acked'
ALERTS_RESOLVED = f'{PREFIX}:alerts:resolved'
AUDIT = f'{PREFIX}:audit'
CONTROL = f'{PREFIX}:control'
SOLDOUT = f'{PREFIX}:soldout'
DISPATCH_STATS = f'{PREFIX}:dispatch:stats'
STOCK_LEVELS = f'{PREFIX}:stock:levels'
STOCK_RECIPES = f'{PREFIX}:stock:recipes'
STOCK_OUT = f'{PREFIX}:stock:out'
PAID_TABLES = f'{PREFIX}:tables:paid'
STOCK_MOVES = f'{PREFIX}:stock:moves'
ARCHIVE_UPTO = f'{PREFIX}:archive:upto'
CLOSURES = f'{PREFIX}:closures'


def order(order_id: str) -> str:
    return f'{PREFIX}:order:{order_id}'


def order_events(order_id: str) -> str:
    return f'{PREFIX}:order:{order_id}:events'


def table_orders(table_id: str) -> str:
    return f'{PREFIX}:table:{table_id}:orders'


def idempotency(table_id: str, key: str) -> str:
    return f'{PREFIX}:idem:{table_id}:{key}'


def cook_stream(station: str) -> str:
    return f'{PREFIX}:cook:{station}'


def job(job_id: str) -> str:
    return f'{PREFIX}:job:{job_id}'


def trip(trip_id: str) -> str:
    return f'{PREFIX}:trip:{trip_id}'


def robot(robot_id: str) -> str:
    return f'{PREFIX}:robot:{robot_id}'


def robot_trip(robot_id: str) -> str:
    return f'{PREFIX}:robot-trip:{robot_id}'


def price(dish_id: str) -> str:
    return f'{PREFIX}:price:{dish_id}'


def operator(name: str) -> str:
    return f'{PREFIX}:operator:{name}'


def session(session_id: str) -> str:
    return f'{PREFIX}:session:{session_id}'


def command_queued(robot_id: str, command: str) -> str:
    """Set while an operator's `command` for the robot waits on `rd:control` (expires with it)."""
    return f'{PREFIX}:control:queued:{robot_id}:{command}'


def login_failures(subject: str) -> str:
    """Counter of failed console sign-ins of one name or client address, with a TTL."""
    return f'{PREFIX}:login-fail:{subject}'


def alert_raised(kind: str, subject: str) -> str:
    """Marker that an alert of `kind` was raised for `subject`, so it is raised only once."""
    return f'{PREFIX}:alerted:{kind}:{subject}'


def table_visit(table_id: str) -> str:
    return f'{PREFIX}:table:{table_id}:visit'


def visit(session_id: str) -> str:
    return f'{PREFIX}:visit:{session_id}'


def visit_payments(session_id: str) -> str:
    return f'{PREFIX}:visit:{session_id}:payments'


def staff_call(table_id: str) -> str:
    return f'{PREFIX}:staff-call:{table_id}'


def party_sizes(table_id: str) -> str:
    return f'{PREFIX}:party-sizes:{table_id}'


def payment(payment_id: str) -> str:
    return f'{PREFIX}:payment:{payment_id}'


def payment_idempotency(session_id: str, key: str) -> str:
    return f'{PREFIX}:pay-idem:{session_id}:{key}'


def payment_event(event_id: str) -> str:
    return f'{PREFIX}:pay-event:{event_id}'


def duty(name: str) -> str:
    """Which process runs the background duty `name`, until the key expires."""
    return f'{PREFIX}:duty:{name}'
