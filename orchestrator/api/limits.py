"""Refuse oversized request bodies (413) before anything parses them."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """Pure ASGI middleware: request bodies over `max_bytes` get a 413, on every route.

    The declared Content-Length is checked first; a chunked body is read up to the limit and
    handed on only if it fits, so the handler never sees a truncated body.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        length = dict(scope['headers']).get(b'content-length')
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(scope, send)
            return
        body, more = b'', True
        while more:
            message = await receive()
            if message['type'] != 'http.request':
                return  # the client went away mid-body: nobody to answer
            body += message.get('body', b'')
            more = message.get('more_body', False)
            if len(body) > self.max_bytes:
                await self._refuse(scope, send)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {'type': 'http.request', 'body': body, 'more_body': False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        app = scope.get('app')
        if app is not None:
            app.state.ctx.metrics.rejections.inc('too_large')
        # The same shape as every other refusal, its reason included.
        body = json.dumps(
            {
                'detail': f'request body is larger than {self.max_bytes} bytes; send less',
                'field': 'body',
                'reason': 'too_large',
            }
        ).encode()
        await send(
            {
                'type': 'http.response.start',
                'status': 413,
                'headers': [
                    (b'content-type', b'application/json'),
                    (b'content-length', str(len(body)).encode()),
                ],
            }
        )
        await send({'type': 'http.response.body', 'body': body})
