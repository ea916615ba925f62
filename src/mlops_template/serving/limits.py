"""The request body size limit, as a pure ASGI middleware.

A declared `Content-Length` over the limit is refused before a byte of the body is read. A body
without one (chunked transfer encoding) is counted as it arrives and refused as soon as it passes
the limit. With a declared length alone the HTTP server already stops at that length, so nothing
is wrapped and the common path costs one header scan.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLargeError(Exception):
    """Raised from `receive` when a streamed body passes the limit; the middleware answers 413."""


def _response(status: int, detail: str) -> tuple[Message, Message]:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers.append((b"x-content-type-options", b"nosniff"))  # as every JSON answer of the API (routes/_http.py)
    headers.append((b"connection", b"close"))  # the rest of the body is not read: do not reuse the connection
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body},
    )


class BodySizeLimitMiddleware:
    """413 for a body over `max_bytes` (declared or streamed), 400 for a malformed Content-Length."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._too_large = _response(413, f"request body over the limit of {max_bytes} bytes (rule: max_body_bytes)")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                chunked = True
        if declared is not None and not chunked:
            if not declared.strip().isdigit():
                for message in _response(400, "malformed Content-Length header (rule: a non-negative integer)"):
                    await send(message)
                return
            if int(declared) > self.max_bytes:
                for message in self._too_large:
                    await send(message)
                return
            await self.app(scope, receive, send)  # the server delivers at most the declared length
            return
        await self._streamed(scope, receive, send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLargeError:
            if started:  # the app answered before reading the whole body; nothing more to say
                return
            for message in self._too_large:
                await send(message)
