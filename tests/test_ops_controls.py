"""The console's controls at the worst moment, on real processes: the API, a dispatcher, robot
node processes over DDS and a real redis-server. Each test presses a control as an operator
on a busy night would and checks what the operator, the robot and the diner see, and that the
order ends with nothing cooked twice."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.store import alerts, commands, jobs, orders, robots
from robot_nodes import ledger as lg
from tests.console_support import sign_in
from tests.dispatch_support import Diners, Kitchen, module_kitchen, restaurant_open, wait_for

pytestmark = pytest.mark.ros

# Slow enough that a wok dish (240 s) is still cooking when the operator presses a control.
TIME_SCALE = 20.0
PICKUP_TIMEOUT_S = 3000.0
# Commands no dispatcher ran within this (real s) expire.
COMMAND_TTL_S = 2.0
# A command life shorter than a heartbeat gap that makes a robot unreachable (3 s).
SHORT_TTL_S = 0.3


@pytest.fixture(scope='module')
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kitchen]:
    with module_kitchen(tmp_path_factory, TIME_SCALE, PICKUP_TIMEOUT_S) as kitchen:
        kitchen.dispatcher_env['ROBODINE_COMMAND_TTL_S'] = str(COMMAND_TTL_S)
        yield kitchen


@dataclass
class Console:
    """An operator signed in on the console of the running API, and the diners."""

    fleet: Kitchen
    diners: Diners
    redis_url: str

    @property
    def r(self) -> Redis:
        return self.diners.r

    async def press(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.diners.client.post(f'/console/api/{path}', json=body or {})

    async def cooking_on(self, job_id: str) -> str:
        """The robot cooking the dish, '' while none is."""
        job = await jobs.get(self.r, job_id)
        return job.robot if job is not None and job.status == jobs.COOKING else ''

    async def mode(self, robot_id: str) -> str:
        state = await robots.get(self.r, robot_id)
        return state.mode if state is not None else ''

    async def holds(self, robot_id: str, job_id: str) -> bool:
        """The robot's last heartbeat lists the job."""
        state = await robots.get(self.r, robot_id)
        return state is not None and job_id in state.jobs

    async def unit(self, order_id: str, job_id: str) -> dict[str, str]:
        """A dish unit as the console's snapshot shows it on its ticket."""
        snap = (await self.diners.client.get('/console/api/snapshot')).json()
        tickets = snap['tickets']['open'] + snap['tickets']['finished']
        (ticket,) = [t for t in tickets if t['id'] == order_id]
        units = [u for line in ticket['lines'] for u in line['units']]
        return dict(next(u for u in units if u['job_id'] == job_id))

    async def order_status(self, order_id: str) -> str:
        order = await orders.get(self.r, order_id)
        return order.status if order is not None else ''

    async def paused_mid_cook(self, table_id: str) -> tuple[str, str, str]:
        """A jeyuk ordered at the table and its wok paused mid-stage, so that it cannot finish
        the dish before the operator's control: (order id, job id, wok)."""
        order_id = await self.diners.order(table_id, [('jeyuk', 1)])
        assert order_id
        job_id = f'{order_id}-00-00'
        robot_id = await wait_for(lambda: self.cooking_on(job_id), 30, what='the dish cooking')
        assert (await self.press(f'robots/{robot_id}/pause')).status_code == 200
        await wait_for(lambda: _is(self.mode(robot_id), 'paused'), 20, what='paused')
        return order_id, job_id, robot_id


@pytest.fixture
async def console(
    fleet: Kitchen, redis_url: str, aredis: Redis, tmp_path: Path
) -> AsyncIterator[Console]:
    async with restaurant_open(fleet, redis_url, aredis, tmp_path, idle=True) as (_, diners):
        diners.client.headers['X-CSRF-Token'] = await sign_in(diners.client, aredis)
        yield Console(fleet, diners, redis_url)


async def _robot_done_with(c: Console, robot_id: str, job_id: str) -> lg.Entry:
    """Wait until the robot no longer holds the dish; its ledger's entry of it."""

    async def finished() -> lg.Entry | None:
        entry = c.fleet.entries(robot_id).get(job_id)
        if entry is None or entry.status == lg.ACTIVE or await c.holds(robot_id, job_id):
            return None
        return entry

    entry = await wait_for(finished, 60, 0.2, f'{robot_id} done with {job_id}')
    assert entry is not None
    return entry


async def test_bump_stops_the_robot_cooking_the_dish(console: Console) -> None:
    """A cook plates by hand the dish a robot is cooking and bumps it: the robot is told to
    stop (its copy would be a second one), the order goes on and is served."""
    c = console
    order_id, job_id, robot_id = await c.paused_mid_cook('t05')
    res = await c.press(f'orders/{order_id}/dishes/{job_id}/bump')
    assert res.status_code == 200, res.text
    assert (await c.press(f'robots/{robot_id}/resume')).status_code == 200

    entry = await _robot_done_with(c, robot_id, job_id)
    assert entry.status == lg.WASTED, entry
    # The console shows the dish cooked, not by the robot that threw its copy away.
    assert await c.unit(order_id, job_id) == {'job_id': job_id, 'status': 'cooked', 'robot_id': ''}
    await c.diners.wait_served(90)
    job = await jobs.get(c.r, job_id)
    assert job is not None and job.status == jobs.COOKED and job.cooked_by == 'ana'
    assert not c.fleet.cooked()[job_id]


async def test_cancel_that_expired_reaches_the_robot_when_a_dispatcher_is_back(
    console: Console,
) -> None:
    """The dispatcher is down (restarting) when the operator cancels a dish a robot is
    cooking; the cancel command expires unrun. The robot holds the dish (its lease ran out);
    the new dispatcher must tell it the dish is over rather than leave it held on a slot for
    good."""
    c = console
    order_id = await c.diners.order('t06', [('jeyuk', 1)])
    assert order_id
    job_id = f'{order_id}-00-00'
    robot_id = await wait_for(lambda: c.cooking_on(job_id), 30, what='the dish cooking')
    c.fleet.stop_dispatchers()
    res = await c.press(f'orders/{order_id}/cancel')
    assert res.status_code == 200, res.text
    assert '1 wasted' in res.json()['detail']
    ((entry_id, _),) = await c.r.xrange(keys.CONTROL)
    await wait_for(lambda: _expired(c, entry_id), 10, what='the cancel command expired')
    c.fleet.start_dispatcher(c.redis_url)

    async def audited() -> str:
        audit = [f for _, f in await c.r.xrange(keys.AUDIT)]
        return next((a['result'] for a in audit if a['action'] == 'robot.cancel'), '')

    assert await wait_for(audited, 30, what='the cancel audited') == 'expired'
    assert await c.order_status(order_id) == orders.CANCELLED
    entry = await _robot_done_with(c, robot_id, job_id)
    assert entry.status == lg.WASTED, entry
    await wait_for(lambda: _is(c.mode(robot_id), 'idle'), 30, what=f'{robot_id} idle')


async def test_cancel_while_the_dispatcher_stalls_reaches_the_robot(console: Console) -> None:
    """The dispatcher stalls (a long pause of its process) as the operator cancels a dish on a
    wok, past the cancel command's life: once it runs again it must not go on leasing the dish
    to the wok, which would cook it to the end for nobody."""
    c = console
    order_id = await c.diners.order('t08', [('jeyuk', 1)])
    assert order_id
    job_id = f'{order_id}-00-00'
    robot_id = await wait_for(lambda: c.cooking_on(job_id), 30, what='the dish cooking')
    (dispatcher,) = c.fleet.dispatchers.values()
    dispatcher.send_signal(signal.SIGSTOP)
    try:
        res = await c.press(f'orders/{order_id}/cancel')
        assert res.status_code == 200, res.text
        ((entry_id, _),) = await c.r.xrange(keys.CONTROL)
        await wait_for(lambda: _expired(c, entry_id), 10, what='the cancel command expired')
    finally:
        dispatcher.send_signal(signal.SIGCONT)
    entry = await _robot_done_with(c, robot_id, job_id)
    assert entry.status == lg.WASTED, entry
    assert await c.order_status(order_id) == orders.CANCELLED
    # Its log says what happened to the dish: it was cancelled, not taken over.
    said = [ln for ln in _log(c).splitlines() if f'{job_id}/1 ' in ln]
    assert said and all('is over' in ln and 'taken over' not in ln for ln in said), said


async def test_a_cancel_that_missed_a_robot_still_heard_reaches_it(console: Console) -> None:
    """The dispatcher stalls just past the cancel command's life but not long enough to lose
    sight of the wok: the wok is heard throughout, holds the wasted dish paused, and the
    dispatcher must not go on leasing it to the wok (for good, while it is paused) but tell it
    the dish is over."""
    c = console
    c.fleet.stop_dispatchers()
    env = dict(c.fleet.dispatcher_env)
    c.fleet.dispatcher_env['ROBODINE_COMMAND_TTL_S'] = str(SHORT_TTL_S)
    try:
        (dispatcher,) = [c.fleet.dispatchers[c.fleet.start_dispatcher(c.redis_url)]]
    finally:
        c.fleet.dispatcher_env = env
    order_id, job_id, robot_id = await c.paused_mid_cook('t09')
    dispatcher.send_signal(signal.SIGSTOP)
    try:
        res = await c.press(f'orders/{order_id}/cancel')
        assert res.status_code == 200, res.text
        entry_id, _ = (await c.r.xrevrange(keys.CONTROL, count=1))[0]
        await wait_for(lambda: _expired(c, entry_id, SHORT_TTL_S), 10, what='cancel expired')
    finally:
        dispatcher.send_signal(signal.SIGCONT)
    assert await wait_for(lambda: _audited(c, 'robot.cancel'), 30, what='audited') == 'expired'
    assert await c.holds(robot_id, job_id)
    # Still paused: told, it drops the dish (it held it for good).
    entry = await _robot_done_with(c, robot_id, job_id)
    assert entry.status == lg.WASTED, entry
    assert (await c.press(f'robots/{robot_id}/resume')).status_code == 200
    await wait_for(lambda: _is(c.mode(robot_id), 'idle'), 30, what=f'{robot_id} idle')
    # Dropped at the lease renewal (or, a stall long enough to lose sight of the wok behind a
    # CPU hog, when its goals were sent again).
    assert f'{job_id}/1 is over (' in _log(c)


async def test_cancel_an_order_with_a_dish_cooked_and_one_cooking(console: Console) -> None:
    """The tea is cooked and waits at the pass, the jeyuk is on a wok: the operator cancels the
    order. It ends cancelled in one step: never `ready` on the way (the tea alone would be),
    so no serving robot is sent for it; the wok throws the jeyuk away."""
    c = console
    order_id = await c.diners.order('t07', [('iced-tea', 1), ('jeyuk', 1)])
    assert order_id
    tea, jeyuk = f'{order_id}-00-00', f'{order_id}-01-00'
    robot_id = await wait_for(lambda: c.cooking_on(jeyuk), 30, what='the jeyuk cooking')
    # Paused mid-stage, the wok cannot finish the jeyuk before the cancel.
    assert (await c.press(f'robots/{robot_id}/pause')).status_code == 200
    await wait_for(lambda: _job_is(c, tea, jobs.COOKED), 30, what='the tea cooked')

    res = await c.press(f'orders/{order_id}/cancel')
    assert res.status_code == 200, res.text
    assert '1 wasted' in res.json()['detail']
    assert (await c.press(f'robots/{robot_id}/resume')).status_code == 200
    entry = await _robot_done_with(c, robot_id, jeyuk)
    assert entry.status == lg.WASTED, entry

    events = [f for _, f in await c.r.xrange(keys.order_events(order_id))]
    statuses = [e['status'] for e in events if e.get('status')]
    assert statuses[-1] == orders.CANCELLED and orders.READY not in statuses, events
    delivered = [f for _, f in await c.r.xrange(keys.DELIVERIES)]
    assert all(d.get('order_id') != order_id for d in delivered), delivered
    # A second tap is refused with the reason.
    again = await c.press(f'orders/{order_id}/cancel')
    assert again.status_code == 409 and 'already cancelled' in again.json()['detail']
    # The diner is not charged for the tea that never left the pass.
    res = await c.diners.client.get(f'/api/tables/{c.diners.token("t07")}/bill')
    bill = res.json()
    assert bill['total'] == 0, bill['lines']
    assert {ln['dish_id']: ln['reason'] for ln in bill['lines']} == {
        'iced-tea': 'cancelled',
        'jeyuk': 'cancelled while cooking',
    }


async def test_stop_all_while_a_trip_waits_at_its_table(console: Console) -> None:
    """STOP ALL while the food waits on a serving robot at its table: the diner still takes
    it, the robot stays put until the release, then goes home; the order is served."""
    c = console
    order_id = await c.diners.order('t03', [('iced-tea', 1)])
    assert order_id
    c.diners.held.add(order_id)
    await wait_for(lambda: _is(c.order_status(order_id), orders.ARRIVED), 60, what='arrived')
    order = await orders.get(c.r, order_id)
    assert order is not None
    robot_id = order.robot_id
    res = await c.press('fleet/stop')
    assert res.status_code == 200, res.text
    await wait_for(lambda: _is(c.mode(robot_id), 'estopped'), 30, what='estopped')
    token = c.diners.token('t03')
    res = await c.diners.client.post(f'/api/tables/{token}/orders/{order_id}/pickup')
    assert res.status_code == 202, res.text
    await wait_for(lambda: _is(c.order_status(order_id), orders.SERVED), 30, what='served')
    assert await c.mode(robot_id) == 'estopped'
    # Both STOP ALL and its release tapped twice: the robots take each twice, no refusals. The
    # second release goes to the robots still stopped when it comes (beside a CPU hog the robots
    # may have taken the first already: then it has nothing to release, and says so).
    assert (await c.press('fleet/stop')).status_code == 200

    async def all_stopped() -> bool:
        return all([await c.mode(rid) == 'estopped' for rid in c.fleet.robot_ids()])

    # A release goes to the robots shown e-stopped: one still taking the stop would miss it.
    await wait_for(all_stopped, 30, what='every robot e-stopped')
    sent = 0
    for _ in range(2):
        res = await c.press('fleet/resume')
        if sent and res.status_code == 409:
            assert res.json()['reason'] == 'none_estopped', res.text
            continue
        assert res.status_code == 200, res.text
        sent += len(res.json()['args']['robots'].split(', '))
    await wait_for(lambda: _is(c.mode(robot_id), 'idle'), 60, what=f'{robot_id} home, idle')

    async def answered() -> list[str]:
        audit = [f for _, f in await c.r.xrange(keys.AUDIT)]
        releases = [a['result'] for a in audit if a['action'] == 'robot.release']
        return releases if len(releases) == sent else []

    assert set(await wait_for(answered, 30, what='every release answered')) == {'ok'}
    alerts = [f for _, f in await c.r.xrange(keys.ALERTS)]
    assert not [a['message'] for a in alerts if a['kind'] == 'control_refused']


async def test_stop_all_that_a_robot_did_not_take_is_a_critical_alert(console: Console) -> None:
    """STOP ALL while one robot has just gone quiet: its e-stop is not acknowledged, and the
    operator is told as loudly as for an e-stop that expired (critical), not as a warning."""
    c = console
    proc = c.fleet.robots['bar1']
    proc.send_signal(signal.SIGSTOP)
    try:
        quiet = {'unreachable', 'lost'}
        await wait_for(lambda: _mode_in(c, 'bar1', quiet), 30, what='bar1 unreachable')
        assert (await c.press('fleet/stop')).status_code == 200

        async def bar1_answer() -> str:
            audit = [f for _, f in await c.r.xrange(keys.AUDIT)]
            return next(
                (
                    a['result']
                    for a in audit
                    if (a['action'], a['target']) == ('robot.estop', 'bar1')
                ),
                '',
            )

        assert await wait_for(bar1_answer, 60, 0.2, 'the e-stop of bar1 answered') != 'ok'

        async def alert() -> dict[str, str]:
            found = [f for _, f in await c.r.xrange(keys.ALERTS) if f.get('robot_id') == 'bar1']
            return next((a for a in found if 'estop' in a['message']), {})

        raised = await wait_for(alert, 30, what='the alert')
        assert raised['severity'] == 'critical', raised
    finally:
        proc.send_signal(signal.SIGCONT)
    # bar1 may still take the e-stop once thawed: release until every robot is idle (a
    # release pressed again is harmless; 409 once none is e-stopped).

    async def released() -> bool:
        if await _all_idle(c):
            return True
        await c.press('fleet/resume')
        return False

    await wait_for(released, 60, 1.0, 'every robot released')

    # bar1 heard again: the alert that it went quiet resolves by itself.
    async def quiet_alerts_open() -> list[dict[str, Any]]:
        return [
            a
            for a in await alerts.recent(c.r)
            if a['kind'] in ('robot_unreachable', 'robot_lost') and a.get('robot_id') == 'bar1'
        ]

    assert await quiet_alerts_open(), 'bar1 going quiet was alerted'
    await wait_for(
        lambda: _all_handled(quiet_alerts_open()), 30, what='the quiet alerts of bar1 resolved'
    )


async def _all_handled(shown: Awaitable[list[dict[str, Any]]]) -> bool:
    return all(alerts.handled(a) for a in await shown)


async def _mode_in(c: Console, robot_id: str, modes: set[str]) -> bool:
    return await c.mode(robot_id) in modes


async def _all_idle(c: Console) -> bool:
    return all([await c.mode(robot_id) == 'idle' for robot_id in c.fleet.robot_ids()])


async def _expired(c: Console, entry_id: str, ttl_s: float = COMMAND_TTL_S) -> bool:
    return await commands.age_ms(c.r, entry_id) > ttl_s * 1000


def _log(c: Console) -> str:
    """The log of the (one) running dispatcher."""
    (name,) = c.fleet.dispatchers
    return c.fleet.dispatcher_log(name)


async def _audited(c: Console, action: str) -> str:
    """The result of the last audit entry of `action`, '' if none."""
    audit = [f for _, f in await c.r.xrevrange(keys.AUDIT)]
    return next((a['result'] for a in audit if a['action'] == action), '')


async def _job_is(c: Console, job_id: str, status: str) -> bool:
    job = await jobs.get(c.r, job_id)
    return job is not None and job.status == status


async def _is(value: Any, wanted: str) -> bool:
    return bool(await value == wanted)
