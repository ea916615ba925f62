"""`mlops-template github bootstrap`: the deploy approval gate and the protected `main`, in one command.

It sets, through GitHub's REST API (version 2022-11-28):
- environment `staging`: deployable from any branch, no reviewers;
- environment `production`: required reviewers (the `--reviewer` logins, resolved to user ids), no
  self-review, deployments only from branches matching the custom policy `main`;
- branch protection on `main`: the ci workflow's jobs as required checks (reported by GitHub
  Actions, branch up to date), one approving review, stale approvals dismissed on a new push;
- branch protection on `audit` (the audit trail, src/mlops_template/release/audit.py): no force push, no
  deletion, for admins too; plain pushes stay allowed, since the workflows append to it. GitHub
  protects only a branch that exists: the first workflow that records an entry creates it, so until
  then bootstrap says so, and protects it when run again.

Every request is declarative (PUT the whole setting; the branch policy is added only when missing),
so running it twice is fine. `--dry-run` prints the requests and sends nothing.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from mlops_template.core.command import run_command
from mlops_template.core.errors import ConfigError, GitHubApiError
from mlops_template.release.github import settings
from mlops_template.release.github.client import Api, Call, DryRunApi, HttpApi

logger = logging.getLogger(__name__)

_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")


@dataclass(frozen=True)
class Reviewer:
    login: str
    id: Any  # an int from GitHub; a placeholder string in a dry run


def repository(value: str) -> str:
    """argparse type for OWNER/NAME."""
    if not _REPO.match(value) or value.endswith((".git", "/.", "/..")):
        msg = f"--repo {value!r}: expected OWNER/NAME, e.g. acme/my-model"
        raise argparse.ArgumentTypeError(msg)
    return value


def login(value: str) -> str:
    """argparse type for a GitHub user login (a leading @ is dropped)."""
    name = value.removeprefix("@")
    if not _LOGIN.match(name):
        msg = f"--reviewer {value!r}: not a GitHub login (letters, digits and single hyphens, at most 39)"
        raise argparse.ArgumentTypeError(msg)
    return name


def token_from(environ: dict[str, str] | os._Environ[str]) -> str:
    for name in settings.TOKEN_VARIABLES:
        value = environ.get(name, "").strip()
        if value:
            return value
    msg = (
        f"no GitHub token: set {' or '.join(settings.TOKEN_VARIABLES)} to a token with admin rights on the "
        "repository (fine-grained: Administration read and write), or use --dry-run"
    )
    raise ConfigError(msg)


def _path(*parts: str) -> str:
    return "/" + "/".join(quote(part, safe="") for part in parts)


def environment_body(reviewers: list[Reviewer] | None) -> dict[str, Any]:
    """The PUT body of an environment: `production` with reviewers and the main-only policy."""
    if reviewers is None:
        return {"wait_timer": 0, "reviewers": None, "deployment_branch_policy": None}
    return {
        "wait_timer": 0,
        "prevent_self_review": True,
        "reviewers": [{"type": "User", "id": r.id} for r in reviewers],
        # protected_branches and custom_branch_policies are exclusive: custom, with a `main` policy.
        "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
    }


def protection_body(checks: tuple[str, ...] = settings.REQUIRED_CHECKS) -> dict[str, Any]:
    """The PUT body of branch protection: every top-level key is required by the API."""
    return {
        "required_status_checks": {
            "strict": True,
            "checks": [{"context": name, "app_id": settings.GITHUB_ACTIONS_APP_ID} for name in checks],
        },
        "enforce_admins": False,
        "required_pull_request_reviews": {
            "dismiss_stale_reviews": True,
            "require_code_owner_reviews": False,
            "required_approving_review_count": settings.REQUIRED_APPROVALS,
            "require_last_push_approval": False,
        },
        "restrictions": None,
        "allow_force_pushes": False,
        "allow_deletions": False,
    }


def audit_protection_body() -> dict[str, Any]:
    """The audit branch: append-only (no force push, no deletion, admins included), no checks or reviews."""
    return {
        "required_status_checks": None,
        "enforce_admins": True,
        "required_pull_request_reviews": None,
        "restrictions": None,
        "allow_force_pushes": False,
        "allow_deletions": False,
    }


def protect_audit_branch(api: Api, base: str, say: Callable[[str], None]) -> None:
    missing = f"no branch {settings.AUDIT_BRANCH!r} yet"
    try:
        api.send(
            Call("PUT", base + _path("branches", settings.AUDIT_BRANCH, "protection"), audit_protection_body()),
            not_found=missing,
        )
    except GitHubApiError as exc:
        if missing not in str(exc):
            raise
        say(
            f"branch {settings.AUDIT_BRANCH}: not created yet (the first workflow that records an audit entry "
            "creates it); run bootstrap again then to protect it"
        )
        return
    say(f"branch {settings.AUDIT_BRANCH}: protected (no force push, no deletion, admins included)")


def bootstrap(api: Api, repo: str, logins: list[str], say: Callable[[str], None]) -> None:
    """Resolve the reviewers, then set both environments, the branch policy and the protection."""
    owner, name = repo.split("/")
    base = _path("repos", owner, name)
    api.send(Call("GET", base), not_found=f"no repository {repo}, or the token cannot see it")
    reviewers = []
    for user in logins:
        found = api.send(Call("GET", _path("users", user)), not_found=f"no GitHub user {user!r} (--reviewer)")
        reviewers.append(Reviewer(login=user, id=found.get("id", f"<id of {user}>")))

    staging = base + _path("environments", settings.STAGING)
    api.send(Call("PUT", staging, environment_body(None)))
    say(f"environment {settings.STAGING}: set (any branch may deploy, no reviewers)")

    production = base + _path("environments", settings.PRODUCTION)
    api.send(Call("PUT", production, environment_body(reviewers)))
    who = ", ".join(f"{r.login} (id {r.id})" for r in reviewers)
    say(f"environment {settings.PRODUCTION}: set (required reviewers {who}; self-review prevented; custom branches)")

    policies = production + "/deployment-branch-policies"
    listed = api.send(Call("GET", policies)) or {}
    present = {(p.get("name"), p.get("type", "branch")) for p in listed.get("branch_policies", [])}
    if (settings.PROTECTED_BRANCH, "branch") in present:
        say(
            f"environment {settings.PRODUCTION}: deployment branch policy {settings.PROTECTED_BRANCH!r} already present"
        )
    else:
        api.send(Call("POST", policies, {"name": settings.PROTECTED_BRANCH, "type": "branch"}))
        say(f"environment {settings.PRODUCTION}: deployment branch policy {settings.PROTECTED_BRANCH!r} added")

    protection = base + _path("branches", settings.PROTECTED_BRANCH, "protection")
    api.send(
        Call("PUT", protection, protection_body()),
        not_found=f"no branch {settings.PROTECTED_BRANCH!r} in {repo} (push it first), or the token cannot see it",
    )
    say(
        f"branch {settings.PROTECTED_BRANCH}: protected (required checks: {', '.join(settings.REQUIRED_CHECKS)}; "
        f"{settings.REQUIRED_APPROVALS} approving review; stale reviews dismissed)"
    )
    protect_audit_branch(api, base, say)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops-template github",
        description="Set up the repository's approval gate on GitHub.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    boot = commands.add_parser(
        "bootstrap",
        help="create the staging and production environments and protect main",
        description=(
            "Create the `staging` and `production` environments (production: the reviewers must approve, "
            "not their own runs, deployments from main only) and protect `main` (the ci jobs "
            f"{', '.join(settings.REQUIRED_CHECKS)} must pass; one approving review). The token comes from "
            f"{' or '.join(settings.TOKEN_VARIABLES)} (admin rights on the repository) and is never printed. "
            "Safe to run again. Exit 0 when done, 2 when GitHub refuses a request (the line says which)."
        ),
    )
    boot.add_argument("--repo", required=True, type=repository, help="OWNER/NAME")
    boot.add_argument(
        "--reviewer",
        required=True,
        nargs="+",
        type=login,
        action="extend",
        metavar="USER",
        help=f"GitHub login(s) who approve production deploys (up to {settings.MAX_REVIEWERS})",
    )
    boot.add_argument("--dry-run", action="store_true", help="print the requests only; send nothing")
    boot.add_argument(
        "--api-url",
        default=os.environ.get("GITHUB_API_URL", settings.DEFAULT_API_URL),
        help="the REST API root (default: $GITHUB_API_URL or %(default)s)",
    )
    return parser


def run(args: argparse.Namespace, say: Callable[[str], None]) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per change is ours to print
    logins = list(dict.fromkeys(args.reviewer))
    if len(logins) > settings.MAX_REVIEWERS:
        msg = f"--reviewer: {len(logins)} logins given; GitHub allows at most {settings.MAX_REVIEWERS}"
        raise ConfigError(msg)
    if args.dry_run:
        say(f"dry run: nothing is sent to {args.api_url}")
        bootstrap(DryRunApi(args.api_url, say), args.repo, logins, say=lambda _line: None)
        return
    api = HttpApi(args.api_url, token_from(os.environ))
    try:
        bootstrap(api, args.repo, logins, say)
    finally:
        api.close()


def main(argv: list[str] | None = None) -> int:
    return run_command("github bootstrap", _parser(), argv, lambda args: run(args, print))
