"""A fake GitHub REST API on 127.0.0.1 for the bootstrap tests: a real HTTP server in a thread.

It records every request, and checks each one as GitHub's REST documentation (API version
2022-11-28) states it: the headers (Bearer token, `X-GitHub-Api-Version`, the GitHub media type,
a User-Agent), the paths, and the JSON bodies of "Create or update an environment", "Create a
deployment branch policy" and "Update branch protection". A request that breaks a documented rule
is answered as GitHub would (401, 404, 422) and listed in `violations`, so a test fails on it.
Its state (environments, policies, protection) persists across requests, so a second run meets
what the first one made.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"

_ENV_KEYS = {"wait_timer", "prevent_self_review", "reviewers", "deployment_branch_policy"}
_PROTECTION_REQUIRED = {"required_status_checks", "enforce_admins", "required_pull_request_reviews", "restrictions"}
_PROTECTION_OPTIONAL = {
    "required_linear_history",
    "allow_force_pushes",
    "allow_deletions",
    "block_creations",
    "required_conversation_resolution",
    "lock_branch",
    "allow_fork_syncing",
}
_REVIEW_KEYS = {
    "dismissal_restrictions",
    "dismiss_stale_reviews",
    "require_code_owner_reviews",
    "required_approving_review_count",
    "require_last_push_approval",
    "bypass_pull_request_allowances",
}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGitHub:
    token: str
    users: dict[str, int]
    repos: set[str]
    branches: dict[str, set[str]]
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    environments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    policies: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    protection: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # The monitor workflow's calls: issues (with their comments) and repository_dispatch events.
    issues: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    dispatches: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # (method, path) -> (status, message): answer this instead (to test each refusal).
    fail: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return self._violation(400, f"{method} {path}: body is not JSON")
        with self._lock:
            self.requests.append(Recorded(method, path, headers, body))
            return self._route(method, path, headers, body)

    def _violation(self, status: int, what: str) -> tuple[int, Any]:
        self.violations.append(what)
        return status, {"message": what, "documentation_url": "https://docs.github.com/rest"}

    def _route(self, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:  # noqa: PLR0911 (one answer per documented rule)
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}
        if headers.get("x-github-api-version") != API_VERSION:
            return self._violation(400, f"{method} {path}: X-GitHub-Api-Version is not {API_VERSION}")
        if headers.get("accept") != MEDIA_TYPE:
            return self._violation(415, f"{method} {path}: Accept is not {MEDIA_TYPE}")
        if not headers.get("user-agent"):
            return self._violation(403, f"{method} {path}: no User-Agent (GitHub requires one)")
        if (method, path) in self.fail:
            status, message = self.fail[method, path]
            return status, {"message": message, "errors": [{"message": f"{message} (detail)"}]}
        if body is not None and method == "GET":
            return self._violation(400, f"GET {path}: a GET has no body")
        return self._dispatch(method, path, body)

    def _dispatch(self, method: str, path: str, body: Any) -> tuple[int, Any]:  # noqa: PLR0911 (one answer per documented rule)
        path, _, query = path.partition("?")
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if method == "GET" and len(parts) == 2 and parts[0] == "users":
            user = parts[1]
            if user not in self.users:
                return 404, {"message": "Not Found"}
            return 200, {"login": user, "id": self.users[user], "type": "User"}
        if len(parts) < 3 or parts[0] != "repos":
            return self._violation(404, f"{method} {path}: not an endpoint this fake knows")
        repo, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        if repo not in self.repos:
            return 404, {"message": "Not Found"}
        if method == "GET" and not rest:
            return 200, {"full_name": repo, "permissions": {"admin": True}}
        if len(rest) == 2 and rest[0] == "environments" and method == "PUT":
            return self._put_environment(repo, rest[1], body)
        if len(rest) == 3 and rest[0] == "environments" and rest[2] == "deployment-branch-policies":
            return self._branch_policies(method, repo, rest[1], body)
        if len(rest) == 3 and rest[0] == "branches" and rest[2] == "protection" and method == "PUT":
            return self._put_protection(repo, rest[1], body)
        if rest and rest[0] == "issues":
            return self._issues(method, repo, rest[1:], parse_qs(query), body)
        if rest == ["dispatches"] and method == "POST":
            return self._post_dispatch(repo, body)
        return self._violation(404, f"{method} {path}: not an endpoint this fake knows")

    def _issues(  # noqa: PLR0911 (one answer per documented rule)
        self, method: str, repo: str, rest: list[str], query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        """List (GET ?state&labels&per_page), create (POST), update (PATCH /N), comment (POST /N/comments)."""
        issues = self.issues.setdefault(repo, [])
        if not rest and method == "GET":
            state = query.get("state", ["open"])[0]
            wanted = {n for n in query.get("labels", [""])[0].split(",") if n}
            per_page = int(query.get("per_page", ["30"])[0])
            if state not in {"open", "closed", "all"} or not 1 <= per_page <= 100:
                return self._violation(422, f"GET issues: state open|closed|all, per_page 1..100 ({query})")
            found = [
                i for i in issues if state in {"all", i["state"]} and wanted <= {label["name"] for label in i["labels"]}
            ]
            return 200, found[:per_page]
        if not rest and method == "POST":
            if not isinstance(body, dict) or not isinstance(body.get("title"), str) or not body["title"]:
                return self._violation(422, "POST issues: title is a required string")
            if set(body) - {"title", "body", "labels", "assignees", "milestone"}:
                return self._violation(422, f"POST issues: unknown keys {sorted(set(body))}")
            labels = body.get("labels", [])
            if not isinstance(labels, list) or not all(isinstance(n, str) for n in labels):
                return self._violation(422, "POST issues: labels is a list of names")
            issue = {
                "number": len(issues) + 1,
                "title": body["title"],
                "body": body.get("body"),
                "labels": [{"name": n} for n in labels],
                "state": "open",
                "comments": [],
            }
            issues.append(issue)
            return 201, issue
        found = [i for i in issues if rest and str(i["number"]) == rest[0]]
        if not found:
            return 404, {"message": "Not Found"}
        issue = found[0]
        if len(rest) == 1 and method == "PATCH":
            if not isinstance(body, dict) or set(body) - {"title", "body", "state", "labels", "assignees"}:
                return self._violation(422, "PATCH issues/N: body is an object of title, body, state, labels")
            issue.update({k: v for k, v in body.items() if k in {"title", "body", "state"}})
            return 200, issue
        if rest[1:] == ["comments"] and method == "POST":
            if not isinstance(body, dict) or set(body) != {"body"} or not isinstance(body["body"], str):
                return self._violation(422, "POST issues/N/comments: body is {body: string}")
            issue["comments"].append(body["body"])
            return 201, {"id": len(issue["comments"]), "body": body["body"]}
        return self._violation(404, f"{method} issues/{'/'.join(rest)}: not an endpoint this fake knows")

    def _post_dispatch(self, repo: str, body: Any) -> tuple[int, Any]:
        """Create a repository dispatch event: event_type (1..100 characters), client_payload (<= 10 keys)."""
        if not isinstance(body, dict) or set(body) - {"event_type", "client_payload"}:
            return self._violation(422, "POST dispatches: body is {event_type, client_payload?}")
        event = body.get("event_type")
        if not isinstance(event, str) or not 1 <= len(event) <= 100:
            return self._violation(422, "POST dispatches: event_type is a string of 1..100 characters")
        payload = body.get("client_payload", {})
        if not isinstance(payload, dict) or len(payload) > 10:
            return self._violation(422, "POST dispatches: client_payload is an object of at most 10 keys")
        self.dispatches.append((repo, body))
        return 204, None

    def _put_environment(self, repo: str, name: str, body: Any) -> tuple[int, Any]:  # noqa: PLR0911, PLR0912 (one answer per documented rule)
        where = f"PUT environments/{name}"
        if body is not None and not isinstance(body, dict):
            return self._violation(422, f"{where}: body is not an object")
        body = body or {}
        if set(body) - _ENV_KEYS:
            return self._violation(422, f"{where}: unknown keys {sorted(set(body) - _ENV_KEYS)}")
        wait = body.get("wait_timer", 0)
        if not isinstance(wait, int) or not 0 <= wait <= 43_200:
            return self._violation(422, f"{where}: wait_timer must be an integer 0..43200")
        if "prevent_self_review" in body and not isinstance(body["prevent_self_review"], bool):
            return self._violation(422, f"{where}: prevent_self_review must be a boolean")
        reviewers = body.get("reviewers")
        if reviewers is not None:
            if not isinstance(reviewers, list) or len(reviewers) > 6:
                return self._violation(422, f"{where}: reviewers must be a list of at most 6")
            for reviewer in reviewers:
                if set(reviewer) != {"type", "id"} or reviewer["type"] not in {"User", "Team"}:
                    return self._violation(422, f"{where}: a reviewer is {{type: User|Team, id: integer}}")
                if not isinstance(reviewer["id"], int) or reviewer["id"] not in self.users.values():
                    return self._violation(422, f"{where}: reviewer id {reviewer['id']!r} is not a user id")
        policy = body.get("deployment_branch_policy")
        if policy is not None:
            if set(policy) != {"protected_branches", "custom_branch_policies"} or not all(
                isinstance(v, bool) for v in policy.values()
            ):
                return self._violation(422, f"{where}: deployment_branch_policy needs both booleans")
            if policy["protected_branches"] == policy["custom_branch_policies"]:
                return self._violation(422, f"{where}: exactly one of protected_branches, custom_branch_policies")
        stored = {
            "name": name,
            "prevent_self_review": bool(body.get("prevent_self_review", False)),
            "reviewers": reviewers or [],
            "deployment_branch_policy": policy,
        }
        self.environments[repo, name] = stored
        if not (policy or {}).get("custom_branch_policies"):
            self.policies.pop((repo, name), None)  # GitHub drops custom policies with the setting
        return 200, stored

    def _branch_policies(self, method: str, repo: str, environment: str, body: Any) -> tuple[int, Any]:  # noqa: PLR0911 (one answer per documented rule)
        found = self.environments.get((repo, environment))
        if found is None or not (found["deployment_branch_policy"] or {}).get("custom_branch_policies"):
            return 404, {"message": "Not Found"}
        existing = self.policies.setdefault((repo, environment), [])
        if method == "GET":
            return 200, {"total_count": len(existing), "branch_policies": existing}
        if method != "POST":
            return self._violation(404, f"{method} deployment-branch-policies: not an endpoint")
        if not isinstance(body, dict) or set(body) - {"name", "type"} or not isinstance(body.get("name"), str):
            return self._violation(422, "POST deployment-branch-policies: body is {name: string, type?: branch|tag}")
        kind = body.get("type", "branch")
        if kind not in {"branch", "tag"}:
            return self._violation(422, "POST deployment-branch-policies: type is branch or tag")
        if any(p["name"] == body["name"] and p["type"] == kind for p in existing):
            return self._violation(303, "POST deployment-branch-policies: the same pattern already exists")
        created = {"id": 100 + len(existing), "name": body["name"], "type": kind}
        existing.append(created)
        return 200, created

    def _put_protection(self, repo: str, branch: str, body: Any) -> tuple[int, Any]:  # noqa: PLR0911 (one answer per documented rule)
        where = f"PUT branches/{branch}/protection"
        if branch not in self.branches.get(repo, set()):
            return 404, {"message": "Branch not found"}
        if not isinstance(body, dict):
            return self._violation(422, f"{where}: body is not an object")
        missing = _PROTECTION_REQUIRED - set(body)
        if missing:
            return self._violation(422, f"{where}: missing required keys {sorted(missing)}")
        if set(body) - _PROTECTION_REQUIRED - _PROTECTION_OPTIONAL:
            return self._violation(422, f"{where}: unknown keys")
        checks = body["required_status_checks"]
        if checks is not None:
            if not isinstance(checks.get("strict"), bool):
                return self._violation(422, f"{where}: required_status_checks.strict must be a boolean")
            listed = checks.get("checks")
            if not isinstance(listed, list) or not all(
                isinstance(c, dict) and isinstance(c.get("context"), str) and set(c) <= {"context", "app_id"}
                for c in listed
            ):
                return self._violation(422, f"{where}: checks is a list of {{context, app_id?}}")
        if body["enforce_admins"] is not None and not isinstance(body["enforce_admins"], bool):
            return self._violation(422, f"{where}: enforce_admins is a boolean or null")
        reviews = body["required_pull_request_reviews"]
        if reviews is not None:
            if set(reviews) - _REVIEW_KEYS:
                return self._violation(422, f"{where}: unknown review keys")
            count = reviews.get("required_approving_review_count", 1)
            if not isinstance(count, int) or not 0 <= count <= 6:
                return self._violation(422, f"{where}: required_approving_review_count is 0..6")
        if body["restrictions"] is not None:
            return self._violation(422, f"{where}: restrictions apply to organization repositories only")
        self.protection[repo, branch] = body
        return 200, {"url": f"{self.url}/repos/{repo}/branches/{branch}/protection"}


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload = fake.handle(self.command, self.path, headers, raw)
            data = b"" if status == 204 else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _answer  # noqa: N815 (http.server's names)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: ARG002 (quiet: the test reads `requests`)
            return

    return Handler


@contextmanager
def serve(fake: FakeGitHub) -> Iterator[FakeGitHub]:
    """Run `fake` on 127.0.0.1 (a free port) for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
