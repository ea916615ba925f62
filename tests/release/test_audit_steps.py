"""deploy.yml's audit steps, run as a runner would (bash -eo pipefail, GITHUB_OUTPUT, the step's env).

`act` cannot run deploy here (GHCR, a cluster), so its audit steps are taken from the workflow file
and run one by one against a bare "GitHub" repository: a release's build, staging and approved
production, then a rollback through both. `gh` is a stand-in that answers the run's approvals as
GitHub documents them and applies the step's own --jq filter with the real jq.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_template.release import audit
from tests.support.workspace import GIT_IDENTITY, REPO

WORKFLOW = yaml.safe_load((REPO / ".github" / "workflows" / "deploy.yml").read_text(encoding="utf-8"))
NEW = "ghcr.io/acme/fraud-model@sha256:" + "1" * 64
OLD = "ghcr.io/acme/fraud-model@sha256:" + "0" * 64
# GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals: one review per environment approval.
# The newest review is not production's, so a filter that ignored the environment would name bob.
APPROVALS = [
    {"state": "approved", "comment": "ok", "environments": [{"name": "production"}], "user": {"login": "alice"}},
    {"state": "rejected", "comment": "", "environments": [{"name": "production"}], "user": {"login": "mallory"}},
    {"state": "approved", "comment": "", "environments": [{"name": "staging"}], "user": {"login": "bob"}},
]
GH = """#!/bin/sh
# gh api PATH --jq FILTER: the recorded approvals, through the step's own filter
[ "$1" = api ] && [ "$3" = --jq ] || { echo "gh stand-in: unsupported call $*" >&2; exit 1; }
exec jq -r "$4" "$APPROVALS_FILE"
"""


def _step(job: str, prefix: str) -> dict[str, Any]:
    steps = WORKFLOW["jobs"][job]["steps"]
    found = [step for step in steps if str(step.get("name", "")).startswith(prefix)]
    assert len(found) == 1, f"{job}: no single step named {prefix!r}"
    return found[0]


@pytest.fixture
def runner(tmp_path: Path) -> dict[str, Path]:
    if shutil.which("jq") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("jq is missing (GitHub's runners have it)")
        pytest.skip("jq is not installed")
    origin, checkout, stubs = tmp_path / "github.git", tmp_path / "checkout", tmp_path / "stubs"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    for name in ("src", ".github"):
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).symlink_to(REPO / name)
    served = checkout / "models" / "served"
    served.mkdir(parents=True)
    (served / "served.json").write_text(json.dumps({"version": "1111aaaa2222"}))
    (checkout / "reports").mkdir()
    metrics = {"threshold": 0.2, "test": {"rows": 100}, "model": dict.fromkeys(audit.METRICS, 0.5)}
    (checkout / "reports" / "metrics.json").write_text(json.dumps(metrics))
    gate = {"decision": "pass", "reason": "ok", "candidate": {"version": "1111aaaa2222"}, "champion": None}
    (checkout / "reports" / "gate.json").write_text(json.dumps(gate))
    (checkout / "params.yaml").write_text("base:\n  seed: 7\n")
    (checkout / "data.dvc").write_text("outs:\n- md5: 466db64d.dir\n  path: data\n")
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], [*GIT_IDENTITY, "commit", "-qm", "release"]):
        subprocess.run(["git", *command], cwd=checkout, check=True, capture_output=True)
    subprocess.run(["git", "remote", "add", "origin", str(origin)], cwd=checkout, check=True)
    stubs.mkdir()
    (stubs / "gh").write_text(GH)
    (stubs / "gh").chmod(0o755)
    (tmp_path / "approvals.json").write_text(json.dumps(APPROVALS))
    return {"origin": origin, "checkout": checkout, "stubs": stubs, "root": tmp_path}


def _run(runner: dict[str, Path], job: str, prefix: str, values: dict[str, str]) -> dict[str, str]:
    """Run one step's script with its env (values by variable name); return what it wrote to GITHUB_OUTPUT."""
    step = _step(job, prefix)
    missing = set(step.get("env", {})) - set(values) - {"AUDIT_TOKEN"}
    assert not missing, f"{job} / {prefix}: the test gives no value for {sorted(missing)}"
    root = runner["root"]
    output, summary = root / f"output-{job}", root / "summary.md"
    output.write_text("")
    env = {
        "PATH": f"{runner['stubs']}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
        "HOME": str(root),
        "RUNNER_TEMP": str(root),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_RUN_ID": "900",
        "GITHUB_REPOSITORY": "acme/fraud-model",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_WORKFLOW": "deploy",
        "GITHUB_JOB": job,
        "GITHUB_SHA": "f" * 40,
        "GITHUB_TRIGGERING_ACTOR": "bob",
        "APPROVALS_FILE": str(root / "approvals.json"),
        "AUDIT_TOKEN": "",
        **values,
    }
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=runner["checkout"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)


def _entries_text(runner: dict[str, Path]) -> str:
    shown = subprocess.run(
        ["git", "show", f"{audit.BRANCH}:{audit.FILE}"],
        cwd=runner["origin"],
        capture_output=True,
        text=True,
        check=True,
    )
    return shown.stdout


def _entries(runner: dict[str, Path]) -> list[dict[str, Any]]:
    return audit.verify(_entries_text(runner))


def test_a_release_and_a_rollback_leave_their_whole_history_in_the_audit_trail(runner: dict[str, Path]) -> None:
    labels = {"MODEL_VERSION": "1111aaaa2222", "DATA_VERSION": "466db64d.dir", "REVISION": "a" * 40}
    # A push to main: the build gates the model; staging; then production after alice approves
    _run(runner, "build", "Audit trail", {})
    _run(runner, "staging", "Audit trail", {"IMAGE": NEW, "MODEL_VERSION": "1111aaaa2222", "ROLLBACK": ""})
    (runner["checkout"] / "deployment").mkdir()
    recorded = _run(runner, "production", "Deployment record", {"IMAGE": NEW, "GH_TOKEN": "", "ROLLBACK": "", **labels})
    assert recorded == {"approver": "alice"}  # the production reviewer, not bob who approved staging
    production = {"IMAGE": NEW, "APPROVER": recorded["approver"], "ROLLBACK": "", **labels}
    _run(runner, "production", "Audit trail", production)
    # Later, a rollback to that digest: no build; nobody approved production this time (approver none)
    (runner["root"] / "approvals.json").write_text("[]")
    digest = NEW.rsplit("@", 1)[1]
    _run(runner, "staging", "Audit trail", {"IMAGE": NEW, "MODEL_VERSION": "", "ROLLBACK": digest})
    rollback = {"IMAGE": NEW, "APPROVER": "none", "ROLLBACK": digest, **labels}
    _run(runner, "production", "Audit trail", rollback)

    entries = _entries(runner)
    assert [(e["kind"], e.get("environment")) for e in entries] == [
        ("trained", None),
        ("gate", None),
        ("deploy", "staging"),
        ("deploy", "production"),
        ("rollback", "staging"),
        ("rollback", "production"),
    ]
    assert {e["model_version"] for e in entries} == {"1111aaaa2222"}
    assert [e["approver"] for e in entries[2:]] == [None, "alice", None, None]
    assert entries[3]["commit"] == "a" * 40
    assert entries[3]["data_version"] == "466db64d.dir"
    assert entries[4]["data_version"] == "466db64d.dir"  # the rollback's model, found by its digest
    assert {e["digest"] for e in entries[2:]} == {digest}
    assert all(e["run"]["url"] == "https://github.com/acme/fraud-model/actions/runs/900" for e in entries)
    summary = (runner["root"] / "summary.md").read_text()
    assert summary.count("**Audit trail:** entry") == 6
    assert f"--expect {audit.head(_entries_text(runner))}" in summary


def test_the_build_records_a_failed_gate_too() -> None:
    """The build's audit step runs when the gate decided, pass or fail; not when it could not decide."""
    step = _step("build", "Audit trail")
    assert step["if"] == "${{ !cancelled() && steps.gate.outputs.decided == 'true' }}"
    gate = _step("build", "Promotion gate")
    assert gate["id"] == "gate"
    assert 'echo "decided=true" >>"$GITHUB_OUTPUT"' in gate["run"]
    assert gate["run"].index("decided=true") < gate["run"].index("exit 1")
