"""The MAC scheme and keystore of robot_nodes/auth.py, without ROS (messages are the generated
rosidl classes, which need no running node)."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from restaurant_interfaces.action import Cook
from restaurant_interfaces.msg import Closures, Lease, RobotState
from restaurant_interfaces.srv import ConfirmPickup, Control, Reserve

from robot_nodes import auth


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    made = auth.create_keys(tmp_path / 'keys', ['wok1', 'wok2'])
    assert [p.name for p in made] == ['wok1.key', 'wok2.key']
    return tmp_path / 'keys'


def test_keys_are_private_and_made_once(keys: Path) -> None:
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert stat.S_IMODE((keys / 'wok1.key').stat().st_mode) == 0o600
    first = auth.load_key(keys / 'wok1.key')
    assert len(first) == auth.KEY_BYTES and first != auth.load_key(keys / 'wok2.key')
    assert auth.create_keys(keys, ['wok1', 'bar1']) == [keys / 'bar1.key']
    assert auth.load_key(keys / 'wok1.key') == first
    (keys / 'wok1.key').chmod(0o644)
    with pytest.raises(auth.KeyFileError, match='readable by others'):
        auth.load_key(keys / 'wok1.key')
    with pytest.raises(auth.KeyFileError, match='robodine robots keys'):
        auth.load_keys(keys, ['noodle1'])


def test_a_signed_goal_verifies_only_unchanged_and_with_its_key(keys: Path) -> None:
    key = auth.load_key(keys / 'wok1.key')
    goal = Cook.Goal(
        job_id='o1-00-00',
        order_id='o1',
        dish_id='jeyuk',
        station='wok',
        options=['spice=hot'],
        quantity=1,
        cook_time_s=0.1,  # not exact in float32: signed as the robot will read it
        epoch=3,
        robot_id='wok1',
        stamp_ns=auth.now_ns(),
        lease_until_ns=auth.now_ns() + 10**10,
    )
    auth.sign(key, 'cook.goal', goal)
    received = Cook.Goal(**{f: getattr(goal, f) for f in goal.get_fields_and_field_types()})
    received.cook_time_s = auth.f32(goal.cook_time_s)
    assert auth.verify(key, 'cook.goal', received)
    assert not auth.verify(auth.load_key(keys / 'wok2.key'), 'cook.goal', goal)
    goal.epoch = 2**63
    assert not auth.verify(key, 'cook.goal', goal)


def test_closures_verify_only_with_every_serving_robot_key(keys: Path) -> None:
    """Signed by all: one robot's key alone (a robot taken over) cannot forge a closure."""
    both = [auth.load_key(keys / 'wok1.key'), auth.load_key(keys / 'wok2.key')]
    msg = auth.sign_by_all(both, 'closures', Closures(closed=['a~b'], version=3, stamp_ns=5))
    assert auth.verify_by_all(both, 'closures', msg)
    assert not auth.verify_by_all(both[:1], 'closures', msg)  # a MAC too many
    forged = auth.sign_by_all(both[:1], 'closures', Closures(closed=['a~b', 'c'], version=4))
    forged.macs = [forged.macs[0], msg.macs[1]]
    assert not auth.verify_by_all(both, 'closures', forged)
    msg.closed = []
    assert not auth.verify_by_all(both, 'closures', msg)


def test_one_kind_of_message_does_not_pass_for_another(keys: Path) -> None:
    key = auth.load_key(keys / 'wok1.key')
    lease = auth.sign(
        key, 'lease', Lease(robot_id='wok1', job_ids=['o1-00-00'], epochs=[1], stamp_ns=5)
    )
    assert auth.verify(key, 'lease', lease)
    request = Control.Request(robot_id='wok1', command='estop', stamp_ns=5, mac=lease.mac)
    assert not auth.verify(key, 'control', request)
    state = auth.sign(
        key, 'state', RobotState(robot_id='wok1', current_jobs=['o1'], job_epochs=[1])
    )
    state.job_epochs = [2]
    assert not auth.verify(key, 'state', state)


def test_an_answer_is_bound_to_its_request(keys: Path) -> None:
    key = auth.load_key(keys / 'wok1.key')
    first = auth.sign(
        key, 'control', Control.Request(robot_id='wok1', command='pause', stamp_ns=1)
    )
    second = auth.sign(
        key, 'control', Control.Request(robot_id='wok1', command='pause', stamp_ns=2)
    )
    answer = auth.sign_answer(
        key, 'control', first, Control.Response(accepted=True, message='paused')
    )
    assert auth.verify_answer(key, 'control', first, answer)
    assert not auth.verify_answer(key, 'control', second, answer)


def test_replays_and_stale_stamps_are_refused() -> None:
    replay = auth.Replay(fresh_s=30)
    now = auth.now_ns()
    assert replay.refusal(now, 'aa', now) == ''
    assert replay.refusal(now, 'aa', now + 10**9) == 'replayed'
    assert 'from now' in replay.refusal(now - 31 * 10**9, 'bb', now)
    assert 'from now' in replay.refusal(now + 31 * 10**9, 'cc', now)


# --- the README's account of the scheme, for a robot written in another language -------------

README = Path(__file__).resolve().parent.parent / 'README.md'


def _signing_table() -> dict[str, list[str]]:
    """kind -> field names, from the README's table under **Signing, for a robot…**."""
    text = README.read_text().split('**Signing, for a robot written in another language**')[1]
    rows = text.split('| --- | --- |\n', 1)[1].split('\n\n', 1)[0].splitlines()
    table: dict[str, list[str]] = {}
    for row in rows:
        kinds, fields = row.strip('|').split('|')
        names = re.findall(r'`([\w.]+)`', re.sub(r'\s*\([^)]*\)', '', fields))
        for kind in re.findall(r'`([\w.]+)`', kinds):
            table[kind] = names
    return table


def test_readme_names_every_signed_kind() -> None:
    answers = {f'{kind}.answer' for kind in ('control', 'confirm_pickup', 'reserve')}
    assert set(_signing_table()) == set(auth.SIGNED) | answers


@pytest.mark.parametrize(
    ('kind', 'message'),
    [
        ('cook.goal', Cook.Goal),
        ('cook.result', Cook.Result),
        ('control', Control.Request),
        ('confirm_pickup', ConfirmPickup.Request),
        ('lease', Lease),
        ('reserve', Reserve.Request),
        ('closures', Closures),
    ],
)
def test_readme_gives_the_signed_fields_in_order(kind: str, message: type) -> None:
    msg = message()
    expected = []
    for i, name in enumerate(_signing_table()[kind]):
        kind_of = msg.get_fields_and_field_types()[name]
        value: object
        if kind_of == 'string':
            value = f'v{i}'
        elif kind_of == 'sequence<string>':
            value = [f'v{i}']
        elif kind_of.startswith('sequence<'):
            value = [i]
        elif kind_of == 'boolean':
            value = True
        elif kind_of in ('float', 'double'):
            value = i + 0.5
        else:
            value = i
        setattr(msg, name, value)
        expected.append(value)
    assert auth.SIGNED[kind](msg) == expected


def test_readme_example_mac() -> None:
    text = README.read_text()
    example = text.split('For instance, with a key of 32 zero bytes')[1][:400]
    signed, mac_hex = re.findall(r'`(\[[^`]+\]|[0-9a-f]{64})`', example)
    request = Control.Request(command='pause', robot_id='wok1', stamp_ns=1796468000000000000)
    assert json.dumps(['control', *auth.SIGNED['control'](request)], separators=(',', ':')) == (
        signed
    )
    assert auth.sign(bytes(auth.KEY_BYTES), 'control', request).mac == mac_hex
