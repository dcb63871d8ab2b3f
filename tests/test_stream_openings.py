"""StreamOpenings alone (pure ASGI, no server): an opening holds a turn of the streams' Redis
reads until its response starts, however it ends; other requests never wait for one."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from orchestrator.api.live import StreamLimits, StreamOpenings


def scope(limits: StreamLimits, method: str, path: str) -> Scope:
    app = SimpleNamespace(state=SimpleNamespace(ctx=SimpleNamespace(streams=limits)))
    return {'type': 'http', 'method': method, 'path': path, 'app': app}


async def receive() -> Message:
    return {'type': 'http.request', 'body': b'', 'more_body': False}


class Recorder:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)


def streaming(started: asyncio.Event, go_on: asyncio.Event) -> Any:
    """An app that reads (slowly) before it answers, then streams."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        started.set()
        await go_on.wait()
        await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        await send({'type': 'http.response.body', 'body': b'data: 1\n\n', 'more_body': True})

    return app


async def test_openings_take_turns_until_their_response_starts() -> None:
    limits = StreamLimits(per_table=10, per_address=10, reads=1)
    first_in, second_in, go_on = asyncio.Event(), asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(
        StreamOpenings(streaming(first_in, go_on))(
            scope(limits, 'GET', '/api/menu/events'), receive, Recorder()
        )
    )
    await first_in.wait()
    second = asyncio.create_task(
        StreamOpenings(streaming(second_in, go_on))(
            scope(limits, 'GET', '/api/tables/t/orders/o/events'), receive, Recorder()
        )
    )
    await asyncio.sleep(0.05)
    assert not second_in.is_set()  # waits for the first opening's turn
    go_on.set()
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert second_in.is_set()
    # Each gave its turn back when its response started (the body streams on without one).
    assert not limits.reads.locked()


async def test_an_opening_that_fails_gives_its_turn_back() -> None:
    limits = StreamLimits(per_table=10, per_address=10, reads=1)

    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError('redis went away')

    with pytest.raises(RuntimeError):
        await StreamOpenings(failing)(
            scope(limits, 'GET', '/api/menu/events'), receive, Recorder()
        )
    assert not limits.reads.locked()


async def test_other_requests_do_not_take_a_turn() -> None:
    limits = StreamLimits(per_table=10, per_address=10, reads=1)
    await limits.reads.acquire()  # every turn is taken
    sent = Recorder()

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        await send({'type': 'http.response.start', 'status': 201, 'headers': []})

    for method, path in (('POST', '/api/tables/t/orders'), ('GET', '/api/menu')):
        await asyncio.wait_for(
            StreamOpenings(answer)(scope(limits, method, path), receive, sent), 1
        )
    assert [m['status'] for m in sent.messages] == [201, 201]
