"""API keys: read once from the environment or a mounted file, kept only as sha256 digests.

A request presents its key as `Authorization: Bearer <key>` or `X-API-Key: <key>` (the latter wins
when both are sent). No key: 401; a key that matches none: 403. The check is a pure ASGI middleware
in front of every route except the public ones (health, readiness, metrics), so it runs before the
body is read and before routing: an unauthenticated client learns nothing about the API, not even
which paths exist. Keys are never logged, echoed or kept in memory as text after start-up.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from mlops_template.core.errors import ConfigError
from mlops_template.serving.settings import ServingSettings

logger = logging.getLogger(__name__)

MIN_KEY_LENGTH = 16
PUBLIC_PATHS = frozenset({"/health", "/ready", "/metrics"})
SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "BearerAuth": {"type": "http", "scheme": "bearer", "description": "the API key as a bearer token"},
}


@dataclass(frozen=True)
class ApiKeys:
    """The accepted keys as sha256 digests; `matches` compares in constant time against every one."""

    digests: tuple[bytes, ...]

    @classmethod
    def from_keys(cls, keys: Iterable[str]) -> ApiKeys:
        return cls(tuple(hashlib.sha256(key.encode("ascii")).digest() for key in keys))

    def matches(self, presented: bytes) -> bool:
        digest = hashlib.sha256(presented).digest()
        found = False
        for known in self.digests:  # no early exit: the time does not depend on which key matched
            found |= hmac.compare_digest(digest, known)
        return found

    def __repr__(self) -> str:
        return f"ApiKeys({len(self.digests)} key(s))"


def _check_key(key: str, source: str, position: int) -> str:
    if len(key) < MIN_KEY_LENGTH:
        msg = (
            f"{source}: key #{position} has {len(key)} characters (rule: at least {MIN_KEY_LENGTH}; keys are not shown)"
        )
        raise ConfigError(msg)
    if not (key.isascii() and key.isprintable()) or any(char.isspace() for char in key):
        msg = f"{source}: key #{position} has a space or a non-printable or non-ASCII character (rule: printable ASCII)"
        raise ConfigError(msg)
    return key


def _keys_from_file(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        msg = f"MLOPS_API_KEYS_FILE={str(path)!r}: not UTF-8 text (rule: one key a line)"
        raise ConfigError(msg) from None
    except OSError as exc:
        msg = f"MLOPS_API_KEYS_FILE={str(path)!r}: cannot read it ({exc.strerror or type(exc).__name__})"
        raise ConfigError(msg) from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def load_api_keys(settings: ServingSettings) -> ApiKeys | None:
    """The configured keys, or None when auth is explicitly disabled; no keys at all is a `ConfigError`."""
    keys: list[str] = []
    if settings.api_keys is not None:
        raw = [key.strip() for key in settings.api_keys.get_secret_value().split(",")]
        keys += [_check_key(key, "MLOPS_API_KEYS", n) for n, key in enumerate(raw, 1) if key]
    if settings.api_keys_file is not None:
        from_file = _keys_from_file(settings.api_keys_file)
        source = f"MLOPS_API_KEYS_FILE={str(settings.api_keys_file)!r}"
        keys += [_check_key(key, source, n) for n, key in enumerate(from_file, 1)]
    if settings.auth_disabled:
        if keys:
            msg = "MLOPS_AUTH_DISABLED=true but API keys are configured: choose one (unset one of them)"
            raise ConfigError(msg)
        logger.warning("authentication is DISABLED (MLOPS_AUTH_DISABLED=true): for development only")
        return None
    if not keys:
        msg = (
            "no API keys configured: set MLOPS_API_KEYS (comma separated) or MLOPS_API_KEYS_FILE (one key a "
            "line); to serve without authentication in development, set MLOPS_AUTH_DISABLED=true explicitly"
        )
        raise ConfigError(msg)
    logger.info("API key authentication on: %d key(s) accepted", len(keys))
    return ApiKeys.from_keys(keys)


def presented_key(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    """The key a request presents: `X-API-Key`, else an `Authorization: Bearer` token; None if neither."""
    bearer: bytes | None = None
    for name, value in headers:
        if name == b"x-api-key":
            return value.strip() or None
        if name == b"authorization":
            scheme, _, token = value.strip().partition(b" ")
            if scheme.lower() == b"bearer":
                bearer = token.strip() or None
    return bearer


def _plain_response(status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> tuple[dict[str, object], ...]:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body},
    )


_MISSING = _plain_response(
    401,
    b'{"detail":"missing API key: send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`"}',
    [(b"www-authenticate", b'Bearer realm="mlops-template"')],
)
_WRONG = _plain_response(403, b'{"detail":"invalid API key"}', [])


class ApiKeyMiddleware:
    """401 without a key, 403 with a wrong one, on every path but `public`; pure ASGI (no body read)."""

    def __init__(self, app: ASGIApp, keys: ApiKeys, public: frozenset[str] = PUBLIC_PATHS) -> None:
        self.app = app
        self.keys = keys
        self.public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public:
            await self.app(scope, receive, send)
            return
        key = presented_key(scope["headers"])
        if key is not None and self.keys.matches(key):
            await self.app(scope, receive, send)
            return
        for message in _MISSING if key is None else _WRONG:
            await send(message)
