"""A small GitHub REST client: the documented headers, one readable line per refusal, or a dry run.

The token is sent in the Authorization header and nowhere else: it is never printed, logged or
put into an error message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from mlops_template.core.errors import GitHubApiError
from mlops_template.release.github.settings import API_VERSION, MEDIA_TYPE

HTTP_UNAUTHORIZED = 401
HTTP_FORBIDDEN = 403
HTTP_NOT_FOUND = 404
HTTP_UNPROCESSABLE = 422
HTTP_ERROR = 400


@dataclass(frozen=True)
class Call:
    """One REST request: method, path below the API root, optional JSON body."""

    method: str
    path: str
    body: Any = None

    def line(self, api_url: str) -> str:
        shown = f"{self.method} {api_url.rstrip('/')}{self.path}"
        return shown if self.body is None else f"{shown} {json.dumps(self.body, separators=(', ', ': '))}"


class Api(Protocol):
    def send(self, call: Call, *, not_found: str | None = None) -> Any:
        """Send `call`, return the decoded JSON answer (None when there is none).

        `not_found` is what a 404 means for this request (e.g. "no GitHub user 'bob'").
        """


def _github_message(response: httpx.Response) -> str:
    """GitHub's own explanation: its `message`, plus the `errors` of a 422 when present."""
    try:
        found = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    if not isinstance(found, dict):
        return str(found)[:200]
    message = str(found.get("message", response.reason_phrase))
    errors = found.get("errors")
    if errors:
        details = [e.get("message") or json.dumps(e) if isinstance(e, dict) else str(e) for e in errors]
        message += " (" + "; ".join(str(d) for d in details) + ")"
    return message


def refusal(call: Call, response: httpx.Response, not_found: str | None) -> str:
    """One line naming the request that failed, what the status means here, and GitHub's words."""
    status, said = response.status_code, _github_message(response)
    request = f"{call.method} {call.path}"
    if status == HTTP_UNAUTHORIZED:
        return f"{request}: 401, GitHub refused the token ({said}); set a valid GITHUB_TOKEN or GH_TOKEN"
    if status == HTTP_FORBIDDEN:
        return (
            f"{request}: 403, the token may not do this ({said}); it needs admin rights on the repository "
            "(fine-grained token: Administration read and write; classic token: repo scope)"
        )
    if status == HTTP_NOT_FOUND:
        meaning = not_found or "not found, or the token cannot see it"
        return f"{request}: 404, {meaning} ({said})"
    if status == HTTP_UNPROCESSABLE:
        return f"{request}: 422, GitHub rejected the request as invalid ({said})"
    return f"{request}: {status}, GitHub answered with an error ({said})"


class HttpApi:
    """Talks to GitHub (or any API at `api_url`) with the documented headers."""

    def __init__(self, api_url: str, token: str, client: httpx.Client | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self._client = client or httpx.Client(timeout=30.0)
        self._headers = {
            "Accept": MEDIA_TYPE,
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "mlops-template-github-bootstrap",
        }

    def send(self, call: Call, *, not_found: str | None = None) -> Any:
        try:
            response = self._client.request(
                call.method, self.api_url + call.path, headers=self._headers, json=call.body
            )
        except httpx.HTTPError as exc:
            msg = f"{call.method} {call.path}: cannot reach {self.api_url} ({type(exc).__name__}: {exc})"
            raise GitHubApiError(msg) from exc
        if response.status_code >= HTTP_ERROR:
            raise GitHubApiError(refusal(call, response, not_found))
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def close(self) -> None:
        self._client.close()


class DryRunApi:
    """Sends nothing: prints each request it would send and answers every one with an empty object."""

    def __init__(self, api_url: str, say: Callable[[str], None]) -> None:
        self.api_url = api_url.rstrip("/")
        self._say = say

    def send(self, call: Call, *, not_found: str | None = None) -> Any:  # noqa: ARG002 (the protocol's signature)
        self._say(f"would send: {call.line(self.api_url)}")
        return {}
