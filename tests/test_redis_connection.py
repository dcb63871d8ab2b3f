"""The processes' Redis client (store/connection.py): commands packed in C, as redis-py would."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from orchestrator.settings import Settings
from orchestrator.store import connection


class Float(float):
    pass


class Str(str):
    __slots__ = ()


class Int(int):
    pass


ARGS = [
    ('SET', 'key', 'value'),
    ('HSET', b'bytes-key', 'name', 'é 한국어 中文', 'n', 12, 'neg', -3, 'f', 0.1),
    ('ZADD', 'z', 274671760555893.6, 'm', 1e20, 'n', 1.0),
    ('CONFIG GET', 'appendfsync'),
    ('SET', 'mv', memoryview(b'ab'), 'ba', bytearray(b'cd')),
    ('EVALSHA', 'a' * 40, 2, 'k1', 'k2', *range(150)),
    ('SET', Float(0.1), Float(274671760555893.6), Str('x'), Int(7)),
]


@pytest.mark.parametrize('args', ARGS)
def test_commands_are_packed_as_redis_py_packs_them(args: tuple[object, ...]) -> None:
    ours = b''.join(connection._TcpConnection().pack_command(*args))
    theirs = b''.join(Connection().pack_command(*args))
    assert ours == theirs


@pytest.mark.parametrize('bad', [None, True, object()])
def test_an_argument_redis_cannot_take_is_a_data_error(bad: object) -> None:
    with pytest.raises(DataError):
        connection._TcpConnection().pack_command('SET', 'k', bad)


async def test_a_real_redis_answers_through_the_packed_client(redis_url: str) -> None:
    r = connection.connect(Settings(redis_url=redis_url))
    try:
        assert type(r.connection_pool.make_connection()) is connection._TcpConnection
        await r.hset('h', mapping={'name': '한국어', 'price': 0.1, 'n': 7})
        assert await r.hgetall('h') == {'name': '한국어', 'price': '0.1', 'n': '7'}
        async with r.pipeline(transaction=True) as pipe:
            pipe.incr('c').incr('c')
            assert await pipe.execute() == [1, 2]
        script = 'return {#KEYS, #ARGV, ARGV[#ARGV]}'
        assert await r.eval(script, 2, 'a', 'b', *range(200)) == [2, 200, '199']
        assert (await r.config_get('appendonly'))['appendonly'] == 'yes'
    finally:
        await r.aclose()
