"""API keys and their scopes: read once from the environment or a mounted file, kept only as sha256 digests.

A request presents its key as `Authorization: Bearer <key>` or `X-API-Key: <key>` (the latter wins
when both are sent). No key: 401; a key that matches none: 403; a known key without the scope the
route needs: 403 naming that scope. The check is a pure ASGI middleware in front of every route
except the public ones (health, readiness, metrics, the page's files), so it runs before the body is read and before
routing: an unauthenticated client learns nothing about the API, not even which paths exist. Keys
are never logged, echoed or kept in memory as text after start-up.

Who may do what is declared once, here: `ROUTE_SCOPES` maps each route's path to the one scope it
needs (OWASP API5, broken function-level authorization: holding a key must not mean holding every
function). A key declares its scopes beside it, `<key>:<scope>+<scope>`, in `MLOPS_API_KEYS` (entries
comma separated) or in `MLOPS_API_KEYS_FILE` (one entry a line). A bare key, as every key was before
scopes existed, keeps what clients did with it (`predict` and `feedback`) and loses `admin`: a
reload, or the review queue that shows other clients' inputs, must be granted by name. `GET /v1/me`
answers any valid key with its own scopes (the page shows only the tabs they open).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from starlette.types import ASGIApp, Receive, Scope, Send

from mlops_template.core.errors import ConfigError
from mlops_template.serving.settings import ServingSettings

logger = logging.getLogger(__name__)

MIN_KEY_LENGTH = 16
# The page's own files are public: a browser cannot send a key when it opens a page, and they hold no data
# (every call the page makes presents the key). Listed here, not in serving/routes/page.py, so this file stays
# the one table of who may reach what.
PAGE_PATHS = frozenset({"/", "/ui", "/page/page.js", "/page/page.css"})
PUBLIC_PATHS = frozenset({"/health", "/ready", "/metrics"}) | PAGE_PATHS
# Paths any valid key may call, whatever its scopes: what the key itself may do (the page asks it once).
KEY_PATHS = frozenset({"/v1/me"})
SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "BearerAuth": {"type": "http", "scheme": "bearer", "description": "the API key as a bearer token"},
}

PREDICT, FEEDBACK, REVIEW, ADMIN = "predict", "feedback", "review", "admin"
SCOPES = (PREDICT, FEEDBACK, REVIEW, ADMIN)  # every scope a key may declare, in the order logs show them
RESERVED_SCOPES: frozenset[str] = frozenset()  # scopes declared ahead of their routes (none today)
BARE_KEY_SCOPES = frozenset({PREDICT, FEEDBACK})  # what a key declared without scopes may do
SCOPE_SEPARATOR, SCOPES_SEPARATOR = ":", "+"

# The one table of who may do what: each non-public path and the scope it needs (tests/serving/test_auth.py
# checks that every route the app serves is here or public). A path, not a method and a path: each path has
# one method, and a key without the scope is refused whatever the method, so it learns nothing more.
ROUTE_SCOPES: Mapping[str, str] = MappingProxyType(
    {
        "/v1/predict": PREDICT,
        "/v1/explain": PREDICT,  # scores a record too, and logs nothing a predict key could not see
        "/v1/model": PREDICT,  # the contract and the model card: what a client needs to build its requests
        "/openapi.json": PREDICT,  # the same contract, as request schemas
        "/v1/feedback": FEEDBACK,  # writes labels that the monitor turns into measured quality
        "/v1/monitor": PREDICT,  # the monitor's last verdict: aggregates only, beside the model card
        "/v1/review/queue": REVIEW,  # other clients' past inputs, from the prediction log
        "/v1/review/summary": REVIEW,  # precision and recall measured on the reviewed predictions
        "/v1/admin/reload": ADMIN,  # swaps the served model
    }
)

_SCOPE_WORD = re.compile(r"[A-Za-z][A-Za-z_-]{0,15}")  # what a mistyped scope looks like (a longer word may be a key)


@dataclass(frozen=True)
class ApiKeys:
    """The accepted keys as sha256 digests with their scopes; `scopes_of` compares in constant time."""

    entries: tuple[tuple[bytes, frozenset[str]], ...]

    @classmethod
    def from_keys(cls, keys: Iterable[tuple[str, Iterable[str]]]) -> ApiKeys:
        return cls(tuple((hashlib.sha256(key.encode("ascii")).digest(), frozenset(scopes)) for key, scopes in keys))

    @property
    def digests(self) -> tuple[bytes, ...]:
        return tuple(digest for digest, _ in self.entries)

    def scopes_of(self, presented: bytes) -> frozenset[str] | None:
        """The presented key's scopes, or None when it matches no key."""
        digest = hashlib.sha256(presented).digest()
        granted: frozenset[str] | None = None
        for known, scopes in self.entries:  # no early exit: the time does not depend on which key matched
            if hmac.compare_digest(digest, known):
                granted = scopes
        return granted

    def matches(self, presented: bytes) -> bool:
        return self.scopes_of(presented) is not None

    def __repr__(self) -> str:
        return f"ApiKeys({len(self.entries)} key(s))"


@dataclass(frozen=True)
class KeyEntry:
    """One configured key: where it was declared (for messages that never show it) and what it may do."""

    key: str
    scopes: frozenset[str]
    declared: bool  # False for a bare key (BARE_KEY_SCOPES)
    source: str
    position: int

    @property
    def where(self) -> str:
        return f"{self.source}: key #{self.position}"

    def __repr__(self) -> str:  # the key is never shown, even in a traceback's locals
        return f"KeyEntry({self.where}, scopes={sorted(self.scopes)})"


def _check_key(key: str, where: str) -> str:
    if len(key) < MIN_KEY_LENGTH:
        msg = f"{where} has {len(key)} characters (rule: at least {MIN_KEY_LENGTH}; keys are not shown)"
        raise ConfigError(msg)
    if not (key.isascii() and key.isprintable()) or any(char.isspace() for char in key):
        msg = f"{where} has a space or a non-printable or non-ASCII character (rule: printable ASCII)"
        raise ConfigError(msg)
    return key


def _check_scope(scope: str, where: str) -> str:
    if scope in SCOPES:
        return scope
    # A word that is not a scope may be the tail of a key that holds a ':': shown only when it cannot be one.
    shown = repr(scope) if _SCOPE_WORD.fullmatch(scope) else f"of {len(scope)} characters (not shown)"
    msg = f"{where} has an unknown scope {shown} (rule: one of {', '.join(SCOPES)}, joined by '+')"
    raise ConfigError(msg)


def parse_entry(entry: str, source: str, position: int) -> KeyEntry:
    """`<key>` or `<key>:<scope>+<scope>...` (spaces around ':' and '+' allowed); errors never show the key."""
    where = f"{source}: key #{position}"
    if entry in SCOPES:  # `key:predict,feedback` in MLOPS_API_KEYS: the comma ended the entry
        msg = f"{where} is the scope {entry!r}, not a key (rule: join a key's scopes with '+': <key>:predict+feedback)"
        raise ConfigError(msg)
    key, colon, declared = entry.partition(SCOPE_SEPARATOR)
    _check_key(key.strip(), where)
    if not colon:
        return KeyEntry(key.strip(), BARE_KEY_SCOPES, declared=False, source=source, position=position)
    words = [word.strip() for word in declared.split(SCOPES_SEPARATOR)]
    if not any(words):
        msg = f"{where} has ':' but no scope after it (rule: <key>:<scope>+<scope>, scopes {', '.join(SCOPES)})"
        raise ConfigError(msg)
    scopes = frozenset(_check_scope(word, where) for word in words if word)
    return KeyEntry(key.strip(), scopes, declared=True, source=source, position=position)


def _entries_from_file(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        msg = f"MLOPS_API_KEYS_FILE={str(path)!r}: not UTF-8 text (rule: one key a line)"
        raise ConfigError(msg) from None
    except OSError as exc:
        msg = f"MLOPS_API_KEYS_FILE={str(path)!r}: cannot read it ({exc.strerror or type(exc).__name__})"
        raise ConfigError(msg) from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def key_entries(settings: ServingSettings) -> list[KeyEntry]:
    """Every configured key with its scopes, in declaration order; a key given twice is a `ConfigError`."""
    entries: list[KeyEntry] = []
    if settings.api_keys is not None:
        raw = [entry.strip() for entry in settings.api_keys.get_secret_value().split(",")]
        entries += [parse_entry(entry, "MLOPS_API_KEYS", n) for n, entry in enumerate(raw, 1) if entry]
    if settings.api_keys_file is not None:
        source = f"MLOPS_API_KEYS_FILE={str(settings.api_keys_file)!r}"
        entries += [
            parse_entry(entry, source, n) for n, entry in enumerate(_entries_from_file(settings.api_keys_file), 1)
        ]
    first: dict[str, KeyEntry] = {}
    for entry in entries:
        # Two declarations of one key could grant different scopes: which one holds is refused, not guessed.
        if (earlier := first.setdefault(entry.key, entry)) is not entry:
            msg = f"{entry.where} repeats {earlier.where} (rule: each key once, with all its scopes)"
            raise ConfigError(msg)
    return entries


def _log_scopes(entry: KeyEntry) -> None:
    scopes = SCOPES_SEPARATOR.join(scope for scope in SCOPES if scope in entry.scopes)
    if entry.declared:
        logger.info("API key %s: scopes %s", entry.where, scopes)
        return
    logger.warning(
        "API key %s: scopes %s (a bare key: declare its scopes as <key>:%s; admin and review are never implied)",
        entry.where,
        scopes,
        scopes,
    )


def load_api_keys(settings: ServingSettings) -> ApiKeys | None:
    """The configured keys, or None when auth is explicitly disabled; no keys at all is a `ConfigError`."""
    entries = key_entries(settings)
    if settings.auth_disabled:
        if entries:
            msg = "MLOPS_AUTH_DISABLED=true but API keys are configured: choose one (unset one of them)"
            raise ConfigError(msg)
        logger.warning("authentication is DISABLED (MLOPS_AUTH_DISABLED=true): for development only")
        return None
    if not entries:
        msg = (
            "no API keys configured: set MLOPS_API_KEYS (comma separated) or MLOPS_API_KEYS_FILE (one key a "
            "line); to serve without authentication in development, set MLOPS_AUTH_DISABLED=true explicitly"
        )
        raise ConfigError(msg)
    for entry in entries:
        _log_scopes(entry)
    logger.info("API key authentication on: %d key(s) accepted", len(entries))
    return ApiKeys.from_keys((entry.key, entry.scopes) for entry in entries)


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


def route_path(scope: Scope) -> str:
    """The path the router matches (without the `root_path` a proxy mounts the app under), as Starlette does:
    the check and the routing must see the same path, or a route could be reached without its scope."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :]
    return path


def _plain_response(status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> tuple[dict[str, object], ...]:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),  # as every JSON answer of the API (routes/_http.py)
        *extra,
    ]
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body},
    )


def lacks_scope_detail(scope: str, path: str) -> str:
    return f"this API key lacks the scope '{scope}' ({path} needs it)"


_MISSING = _plain_response(
    401,
    b'{"detail":"missing API key: send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`"}',
    [(b"www-authenticate", b'Bearer realm="mlops-template"')],
)
_WRONG = _plain_response(403, b'{"detail":"invalid API key"}', [])


class ApiKeyMiddleware:
    """401 without a key, 403 with a wrong one or one without the path's scope, on every path but `public`;
    pure ASGI (no body read). A path in neither table is left to the router (a 404 or 405) for any valid key."""

    def __init__(
        self,
        app: ASGIApp,
        keys: ApiKeys,
        public: frozenset[str] = PUBLIC_PATHS,
        route_scopes: Mapping[str, str] = ROUTE_SCOPES,
    ) -> None:
        self.app = app
        self.keys = keys
        self.public = public
        self.route_scopes = route_scopes
        self.lacking = {
            path: _plain_response(403, json.dumps({"detail": lacks_scope_detail(needed, path)}).encode(), [])
            for path, needed in route_scopes.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        if path in self.public:
            await self.app(scope, receive, send)
            return
        key = presented_key(scope["headers"])
        granted = None if key is None else self.keys.scopes_of(key)
        if granted is None:
            refusal = _MISSING if key is None else _WRONG
        else:
            needed = self.route_scopes.get(path)  # None: a path in KEY_PATHS, or one the router will refuse
            if needed is None or needed in granted:
                await self.app(scope, receive, send)
                return
            refusal = self.lacking[path]
        for message in refusal:
            await send(message)
