"""The workflows' hardening rules, as a function the tests apply to the real files and to broken copies.

Rules (GitHub's security guide for Actions): a top-level `permissions: {}` and least-privilege
`permissions` on every job, `timeout-minutes` on every job, a `concurrency` group per workflow, every
remote action pinned to a full commit SHA with its version in a comment, `persist-credentials: false`
on every checkout, no `pull_request_target`, no `${{ }}` expression inside a `run:` script (values go
through `env:`), and the production deploy job on the protected `environment: production`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)\s*(?P<comment>#.*)?$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(\.\d+)*\b")


def load(path: Path) -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load(path.read_text())
    return found


def _triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # PyYAML reads the bare key `on` as the boolean True.
    found = workflow.get("on", workflow.get(True, {}))
    if isinstance(found, str):
        return {found: None}
    if isinstance(found, list):
        return dict.fromkeys(found)
    return dict(found or {})


def _steps(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(job or action name, step) for every step of a workflow's jobs or a composite action."""
    if "jobs" in document:
        return [(name, step) for name, job in document["jobs"].items() for step in job.get("steps", [])]
    return [("action", step) for step in document.get("runs", {}).get("steps", [])]


def uses_violations(text: str, where: str) -> list[str]:
    """Every remote `uses:` pinned to a full SHA with a `# vX.Y.Z` comment on the same line."""
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        matched = USES_LINE.match(line)
        if not matched or matched["ref"].startswith("./"):
            continue
        ref = matched["ref"].strip("'\"")
        if not PINNED.match(ref):
            problems.append(f"{where}:{number}: {ref} is not pinned to a full commit SHA")
        elif not VERSION_COMMENT.search(matched["comment"] or ""):
            problems.append(f"{where}:{number}: {ref} has no version comment (# vX.Y.Z)")
    return problems


def _step_violations(document: dict[str, Any], where: str) -> list[str]:
    problems = []
    for owner, step in _steps(document):
        uses = str(step.get("uses", ""))
        if uses.startswith("actions/checkout@") and (step.get("with") or {}).get("persist-credentials") is not False:
            problems.append(f"{where}: {owner}: actions/checkout without persist-credentials: false")
        if "${{" in str(step.get("run", "")):
            problems.append(f"{where}: {owner}: step {step.get('name', uses)!r} has an expression in run: (use env:)")
    return problems


def workflow_violations(path: Path) -> list[str]:
    """What is wrong with one workflow file, one line each; empty when it follows the rules."""
    workflow, where = load(path), path.name
    problems = uses_violations(path.read_text(), where) + _step_violations(workflow, where)
    if "pull_request_target" in _triggers(workflow):
        problems.append(f"{where}: uses pull_request_target")
    if workflow.get("permissions") != {}:
        problems.append(f"{where}: top-level permissions must be {{}} (each job asks for its own)")
    if "concurrency" not in workflow:
        problems.append(f"{where}: no concurrency group")
    for name, job in workflow.get("jobs", {}).items():
        if not isinstance(job.get("permissions"), dict):
            problems.append(f"{where}: job {name} has no permissions")
        elif "write-all" in job["permissions"].values() or job["permissions"].get("contents") == "admin":
            problems.append(f"{where}: job {name} asks for broad permissions")
        if "timeout-minutes" not in job:
            problems.append(f"{where}: job {name} has no timeout-minutes")
    if path.name == "deploy.yml":
        production = workflow.get("jobs", {}).get("production", {})
        environment = production.get("environment")
        if isinstance(environment, dict):
            environment = environment.get("name")
        if environment != "production":
            problems.append(f"{where}: the production job is not on environment: production")
    return problems


def action_violations(path: Path) -> list[str]:
    """What is wrong with one local composite action."""
    where = f"{path.parent.name}/{path.name}"
    return uses_violations(path.read_text(), where) + _step_violations(load(path), where)
