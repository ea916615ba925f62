"""The body size limit as pure ASGI: declared lengths, streamed (chunked) bodies, bad headers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from mlops_template.serving.limits import BodySizeLimitMiddleware

LIMIT = 1024


class EchoLength:
    """A downstream app that reads the whole body and answers with its length."""

    def __init__(self) -> None:
        self.called = False

    async def __call__(self, _scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = json.dumps({"size": size}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


def run(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, dict[str, Any], EchoLength, int]:
    """Send `chunks` through the middleware; return (status, JSON body, downstream app, chunks consumed)."""
    app = EchoLength()
    middleware = BodySizeLimitMiddleware(app, max_bytes=LIMIT)
    scope: Scope = {"type": "http", "method": "POST", "path": "/v1/predict", "headers": headers}
    pending = list(chunks)
    consumed = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal consumed
        consumed += 1
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(middleware(scope, receive, send))
    status = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return status, json.loads(body), app, consumed


def test_a_body_within_the_limit_passes_untouched() -> None:
    status, body, _, _ = run([(b"content-length", str(LIMIT).encode())], [b"x" * LIMIT])
    assert (status, body) == (200, {"size": LIMIT})


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    status, body, app, consumed = run([(b"content-length", str(LIMIT + 1).encode())], [b"x" * (LIMIT + 1)])
    assert status == 413
    assert f"limit of {LIMIT} bytes" in body["detail"]
    assert not app.called
    assert consumed == 0


def test_a_chunked_body_is_counted_as_it_arrives_and_cut_at_the_limit() -> None:
    chunks = [b"x" * 300] * 10  # 3000 bytes, no Content-Length
    status, body, app, consumed = run([(b"transfer-encoding", b"chunked")], chunks)
    assert status == 413
    assert "limit" in body["detail"]
    assert app.called
    assert consumed == 4  # refused at the chunk that passed 1024 bytes, the rest never read


def test_a_chunked_body_within_the_limit_passes() -> None:
    status, body, _, _ = run([], [b"x" * 500, b"x" * 500])
    assert (status, body) == (200, {"size": 1000})


@pytest.mark.parametrize("value", [b"abc", b"-1", b"1e3", b""])
def test_a_malformed_content_length_is_a_400(value: bytes) -> None:
    status, body, app, _ = run([(b"content-length", value)], [b"{}"])
    assert status == 400
    assert "Content-Length" in body["detail"]
    assert not app.called
