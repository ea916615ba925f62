"""The GitHub Actions workflows: hardening policy, the linters `make lint` runs, and real runs with act.

Fast: the policy (tests/support/workflow_policy.py) on the shipped files and on broken copies; each linter
passes on the shipped files and fails on a broken one. Slow: pr-report and retrain run end to end
(tune and monitor in their own files) with `act` in a temporary clone (tests/support/act_harness.py), with no network.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_template.release import audit
from tests.support.act_harness import ActHarness, make_harness, report_durations
from tests.support.workflow_policy import action_violations, load, uses_violations, workflow_violations
from tests.support.workspace import GIT_IDENTITY, REPO, VENV_BIN, copy_project, project_env

GITHUB = REPO / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ACTIONS = sorted((GITHUB / "actions").glob("*/action.yml"))
WATERMARK = "mlops-template PR report"


# --- policy ------------------------------------------------------------------------------------------


def test_the_six_workflows_and_dependabot_exist() -> None:
    expected = {"ci.yml", "pr-report.yml", "retrain.yml", "tune.yml", "deploy.yml", "monitor.yml"}
    assert {p.name for p in WORKFLOWS} == expected
    updates = load(GITHUB / "dependabot.yml")["updates"]
    assert {u["package-ecosystem"] for u in updates} == {"github-actions", "uv", "docker"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_shipped_workflows_follow_the_policy(path: Path) -> None:
    assert workflow_violations(path) == []


@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: p.parent.name)
def test_shipped_local_actions_follow_the_policy(path: Path) -> None:
    assert action_violations(path) == []


def _broken(tmp_path: Path, name: str, change: Any) -> Path:
    workflow = load(GITHUB / "workflows" / name)
    change(workflow)
    target = tmp_path / name
    target.write_text(yaml.safe_dump(workflow, sort_keys=False))
    return target


@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        ("deploy.yml", lambda w: w["jobs"]["production"].pop("environment"), "not on environment: production"),
        ("deploy.yml", lambda w: w["jobs"]["production"].update(environment="staging"), "environment: production"),
        ("ci.yml", lambda w: w["jobs"]["lint"].pop("permissions"), "job lint has no permissions"),
        ("retrain.yml", lambda w: w["jobs"]["retrain"].pop("timeout-minutes"), "no timeout-minutes"),
        ("pr-report.yml", lambda w: w.pop("concurrency"), "no concurrency group"),
        ("ci.yml", lambda w: w.update(permissions="write-all"), "top-level permissions"),
        (
            "pr-report.yml",
            lambda w: w["jobs"]["report"]["steps"][0]["with"].pop("persist-credentials"),
            "persist-credentials",
        ),
        (
            "pr-report.yml",
            lambda w: w["jobs"]["report"]["steps"].append({"run": "echo ${{ github.event.pull_request.title }}"}),
            "expression in run:",
        ),
        ("pr-report.yml", lambda w: w.update({"on": {"pull_request_target": None}}), "pull_request_target"),
    ],
)
def test_policy_fails_on_a_broken_workflow(tmp_path: Path, name: str, change: Any, expected: str) -> None:
    problems = workflow_violations(_broken(tmp_path, name, change))
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("      - uses: actions/checkout@v7", "not pinned to a full commit SHA"),
        ("      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1", "no version comment"),
        ("      - uses: actions/checkout@3d3c42e5 # v7.0.1", "not pinned to a full commit SHA"),
    ],
)
def test_policy_fails_on_an_unpinned_action(line: str, expected: str) -> None:
    problems = uses_violations(f"steps:\n{line}\n", "x.yml")
    assert len(problems) == 1
    assert expected in problems[0]


def test_cml_is_pinned_and_silent_and_the_comment_is_sticky_and_unpublished() -> None:
    setup_cml = (GITHUB / "actions" / "setup-cml" / "action.yml").read_text()
    assert "@dvcorg/cml@0.20.6" in setup_cml
    assert "ITERATIVE_DO_NOT_TRACK=true" in setup_cml
    report = load(GITHUB / "workflows" / "pr-report.yml")["jobs"]["report"]
    runs = "\n".join(str(step.get("run", "")) for step in report["steps"])
    assert f'cml comment update --target="pr/$PR_NUMBER" --watermark-title="{WATERMARK}"' in runs
    assert "--no-publish" in runs
    assert report["steps"][0]["with"]["fetch-depth"] == 0


def test_the_monitors_dispatch_starts_the_retrain_and_it_reads_the_whole_history() -> None:
    """The closed loop's one link between two files: a rename on either side would break it silently."""
    monitor = load(GITHUB / "workflows" / "monitor.yml")
    retrain = load(GITHUB / "workflows" / "retrain.yml")
    triggers = retrain.get("on", retrain.get(True))  # YAML 1.1 reads a bare `on` as True
    assert triggers["repository_dispatch"]["types"] == [monitor["env"]["DISPATCH_EVENT"]]
    steps = monitor["jobs"]["monitor"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0  # --profile-from-history reads older commits' profiles
    assert "--profile-from-history" in "\n".join(str(step.get("run", "")) for step in steps)


def test_slow_tier_keeps_the_offline_proof() -> None:
    """The slow tier lifts Ubuntu 24.04's user-namespace restriction instead of skipping `unshare -n`."""
    job = load(GITHUB / "workflows" / "ci.yml")["jobs"]["test-slow"]
    runs = "\n".join(str(step.get("run", "")) for step in job["steps"])
    assert "kernel.apparmor_restrict_unprivileged_userns=0" in runs
    assert "unshare -n true" in runs
    assert "pytest -m slow" in runs


def test_branch_protection_requires_exactly_the_ci_jobs() -> None:
    """`mlops-template github bootstrap` names the ci jobs as required checks: a renamed job would block merges."""
    from mlops_template.release.github.settings import REQUIRED_CHECKS  # noqa: PLC0415 (written beside this test)

    jobs = load(GITHUB / "workflows" / "ci.yml")["jobs"].values()
    assert sorted(REQUIRED_CHECKS) == sorted(job["name"] for job in jobs)


# --- the linters make lint runs -------------------------------------------------------------------------

BROKEN_WORKFLOW = """\
name: broken
on: [push]
permissions: {}
jobs:
  build:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@v7
      - run: echo "${{ github.event.head_commit.message }}" && echo ${{ matrix.nothing }}
"""


def _tool(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VENV_BIN / name), *args], cwd=cwd, capture_output=True, text=True, check=False)


@pytest.fixture
def broken_repo(tmp_path: Path) -> Path:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "broken.yml").write_text(BROKEN_WORKFLOW)
    return tmp_path


def test_actionlint_passes_the_shipped_workflows_and_fails_a_broken_one(broken_repo: Path) -> None:
    assert _tool("actionlint", cwd=REPO).returncode == 0
    failed = _tool("actionlint", ".github/workflows/broken.yml", cwd=broken_repo)
    assert failed.returncode == 1
    assert "matrix" in failed.stdout  # `matrix.nothing`: no matrix in this job


def test_check_jsonschema_workflows_fails_a_broken_one(tmp_path: Path) -> None:
    shipped = _tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS), cwd=REPO)
    assert shipped.returncode == 0, shipped.stdout
    broken = tmp_path / "broken.yml"
    broken.write_text("name: broken\non: [push]\njobs:\n  build:\n    steps: []\n")  # no runs-on, no uses
    failed = _tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(broken), cwd=tmp_path)
    assert failed.returncode == 1
    assert "broken.yml" in failed.stdout + failed.stderr


def test_check_jsonschema_dependabot_fails_a_broken_one(tmp_path: Path) -> None:
    dependabot = str(GITHUB / "dependabot.yml")
    shipped = _tool("check-jsonschema", "--builtin-schema", "vendor.dependabot", dependabot, cwd=REPO)
    assert shipped.returncode == 0, shipped.stdout
    broken = tmp_path / "dependabot.yml"
    broken.write_text("version: 2\nupdates:\n  - package-ecosystem: pipenvx\n    directory: /\n")  # no schedule
    failed = _tool("check-jsonschema", "--builtin-schema", "vendor.dependabot", str(broken), cwd=tmp_path)
    assert failed.returncode == 1


def test_zizmor_passes_the_shipped_files_and_fails_a_broken_one(broken_repo: Path) -> None:
    arguments = ("--offline", "--min-severity", "medium", "--quiet", ".github/")
    shipped = _tool("zizmor", *arguments, cwd=REPO)
    assert shipped.returncode == 0, shipped.stdout
    failed = _tool("zizmor", *arguments, cwd=broken_repo)
    assert failed.returncode != 0
    assert "template-injection" in failed.stdout
    assert "unpinned-uses" in failed.stdout


def test_the_workflow_scripts_pass_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run shellcheck (scripts/system-deps.sh installs it)")
        pytest.skip("shellcheck is not installed (scripts/system-deps.sh installs it as root)")
    scripts = sorted(str(p) for p in (GITHUB / "scripts").glob("*.sh"))
    assert scripts
    done = subprocess.run([shellcheck, *scripts], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


def test_make_lint_runs_every_workflow_linter() -> None:
    recipe = re.search(r"^lint:.*?(?=^\S|\Z)", (REPO / "Makefile").read_text(), re.MULTILINE | re.DOTALL)
    assert recipe is not None
    for command in (
        "actionlint",
        "check-jsonschema --builtin-schema vendor.github-workflows",
        "check-jsonschema --builtin-schema vendor.dependabot",
        "zizmor --offline --min-severity medium",
    ):
        assert command in recipe.group(0)


# --- act runs -------------------------------------------------------------------------------------------


def _pull_request_event(harness: ActHarness, base: str, head: str) -> dict[str, Any]:
    repo = {"full_name": "acme/mlops-template", "name": "mlops-template", "owner": {"login": "acme"}}
    return {
        "action": "synchronize",
        "number": 1,
        "pull_request": {
            "number": 1,
            "base": {"ref": "main", "sha": base, "repo": repo},
            "head": {"ref": "tune", "sha": head, "repo": repo},
        },
        "repository": repo,
    }


def _set_param(clone: Path, section: str, key: str, value: object) -> None:
    """Edit one line of params.yaml in place (keeps its comments, as a user's edit would)."""
    path = clone / "params.yaml"
    text = path.read_text()
    block = re.search(rf"^{section}:\n(?:[ \t].*\n|\n)*", text, re.MULTILINE)
    assert block is not None
    edited, count = re.subn(rf"^(\s+{key}:\s*)\S+", rf"\g<1>{value}", block.group(0), count=1, flags=re.MULTILINE)
    assert count == 1, f"{section}.{key} not found in params.yaml"
    path.write_text(text.replace(block.group(0), edited))


def _push_commit(harness: ActHarness, message: str, branch: str) -> str:
    harness.git("commit", "-qam", message)
    harness.git("push", "-q", "--force", str(harness.bare), f"HEAD:refs/heads/{branch}")
    return harness.git("rev-parse", "HEAD")


def _assert_report(call: dict[str, Any], base_metrics: dict[str, Any], params: list[tuple[str, str, str]]) -> None:
    """The recorded comment holds the real metrics diff (base and head values) and the gate's real decision."""
    body = call["body"]
    gate, metrics = call["workspace"]["reports/gate.json"], call["workspace"]["reports/metrics.json"]
    assert gate["decision"] in ("pass", "fail")
    assert f"**{gate['decision']}**: {gate['reason']}" in body
    for name in ("average_precision", "recall", "roc_auc"):
        old, new = base_metrics["model"][name], metrics["model"][name]
        row = re.search(rf"^\| {name} \(.*$", body, re.MULTILINE)
        assert row is not None, f"no {name} row in the comment"
        assert f"{old:.4f}" in row.group(0), f"the base {name} is not in its row"
        assert f"{new:.4f}" in row.group(0), f"the head {name} is not in its row"
        change = "→ 0" if new == old else f"{new - old:+.4f}"  # the file's 6 digits, as dvc metrics diff reads them
        assert change in row.group(0), f"the {name} change is not in its row"
    for key, old_value, new_value in params:
        row = re.search(rf"^\| `[\w.]*{key}` \|.*$", body, re.MULTILINE)
        assert row is not None, f"no {key} row in the params diff"
        assert f"`{old_value}`" in row.group(0)
        assert f"`{new_value}`" in row.group(0)


@pytest.mark.act
def test_pr_report_with_act_posts_one_sticky_comment(tmp_path: Path, say: Callable[[str], None]) -> None:
    harness = make_harness(tmp_path)
    base = harness.git("rev-parse", "HEAD")
    harness.git("switch", "-qc", "tune")
    _set_param(harness.clone, "train", "max_leaf_nodes", 31)
    first_head = _push_commit(harness, "Tune: more leaves", "tune")

    first = harness.run("pull_request", "pr-report.yml", _pull_request_event(harness, base, first_head))
    say(report_durations("pr-report (first push)", first))
    calls = harness.calls("cml-calls.jsonl")
    assert calls, first.output[-6000:]
    gate_failed = calls[-1]["workspace"]["reports/gate.json"]["decision"] == "fail"
    assert (first.returncode != 0) == gate_failed, first.output[-6000:]
    assert len(calls) == 1
    assert calls[0]["command"] == "update"
    assert calls[0]["options"]["watermark-title"] == WATERMARK
    assert calls[0]["options"]["no-publish"] is True
    assert calls[0]["options"]["target"] == "pr/1"
    assert calls[0]["telemetry_off"]
    base_metrics = json.loads(harness.git("show", f"{base}:reports/metrics.json"))
    _assert_report(calls[0], base_metrics, [("max_leaf_nodes", "15", "31")])
    assert (harness.artifacts / "plots-diff").is_dir()
    assert any(p.suffix == ".html" for p in (harness.artifacts / "plots-diff").rglob("*"))

    _set_param(harness.clone, "train", "learning_rate", 0.08)
    second_head = _push_commit(harness, "Tune: faster learning", "tune")
    second = harness.run("pull_request", "pr-report.yml", _pull_request_event(harness, base, second_head))
    say(report_durations("pr-report (second push)", second))
    calls = harness.calls("cml-calls.jsonl")
    assert len(calls) == 2, second.output[-6000:]
    assert [c["command"] for c in calls] == ["update", "update"]
    _assert_report(calls[1], base_metrics, [("max_leaf_nodes", "15", "31"), ("learning_rate", "0.05", "0.08")])
    comments = harness.records_of("pr-comments.json")
    assert len(comments) == 1, "a second push added a comment instead of updating the sticky one"
    assert comments[0]["watermark"] == WATERMARK
    assert comments[0]["updates"] == 1
    assert comments[0]["body"] == calls[1]["body"]
    say("--- the PR comment recorded from the act run ---\n" + comments[0]["body"])


def _landing_batch(harness: ActHarness, landing: Path) -> str:
    """The next simulated week, written as a file batch in `landing/` (what a team's export would drop)."""
    env_bin = str(VENV_BIN)
    staging = harness.root / "staging-data"
    subprocess.run([f"{env_bin}/dvc", "pull", "-q", "-r", "seed", "data.dvc"], cwd=harness.clone, check=True)
    shutil.copytree(harness.clone / "data", staging)
    done = subprocess.run(
        [f"{env_bin}/mlops-template", "data", "next-batch", "--data", str(staging)],
        cwd=harness.clone,
        capture_output=True,
        text=True,
        check=True,
    )
    written = Path(done.stdout.strip().splitlines()[-1])
    landing.mkdir()
    shutil.copy2(written, landing / written.name)
    shutil.rmtree(harness.clone / "data")
    return written.stem


@pytest.mark.act
def test_retrain_with_act_prepares_a_pr_and_does_nothing_without_a_new_batch(
    tmp_path: Path, say: Callable[[str], None]
) -> None:
    harness = make_harness(tmp_path)
    landing = tmp_path / "landing"
    week = _landing_batch(harness, landing)
    params = (harness.clone / "params.yaml").read_text()
    source = re.search(r"^source:\n(?:[ \t].*\n|\n)*", params, re.MULTILINE)
    assert source is not None
    (harness.clone / "params.yaml").write_text(
        params.replace(source.group(0), f'source:\n  kind: files\n  path: "{landing}/*.csv"\n\n')
    )
    main = _push_commit(harness, "Take batches from the landing directory", "main")
    weeks_before = _weeks_in_git(harness, main)
    event = {"schedule": "17 5 * * 1", "repository": {"full_name": "acme/mlops-template"}}

    first = harness.run("schedule", "retrain.yml", event)
    say(report_durations("retrain (new batch)", first))
    assert first.returncode == 0, first.output[-6000:]
    branch = f"retrain/{week}"
    pushed = harness.git("rev-parse", branch, cwd=harness.bare)
    assert _weeks_in_git(harness, pushed) == [*weeks_before, week]
    assert harness.git("rev-parse", "main", cwd=harness.bare) == main, "retrain must never touch main"
    prs = harness.records_of("pull-requests.json")
    assert len(prs) == 1
    assert prs[0]["head"] == branch
    assert prs[0]["base"] == "main"
    assert week in prs[0]["body"]
    assert "the new week is in git" in prs[0]["body"]
    gate = json.loads(harness.git("show", f"{pushed}:reports/gate.json", cwd=harness.bare))
    assert gate["decision"] in prs[0]["body"].lower()
    changed = harness.git("diff", "--name-only", main, pushed, cwd=harness.bare).splitlines()
    assert "data.dvc" in changed
    assert any(name.startswith(".dvc/storage/") for name in changed)
    entries = _assert_retrain_audited(harness, pushed, gate)

    # A person merges the PR; the next scheduled run finds no new batch: one line, nothing else.
    harness.git("push", "-q", str(harness.bare), f"{pushed}:refs/heads/main", cwd=harness.bare)
    harness.git("fetch", "-q", str(harness.bare), "main")
    harness.git("reset", "-q", "--hard", "FETCH_HEAD")
    branches = harness.git("branch", "--list", cwd=harness.bare)
    gh_calls = harness.calls("gh-calls.jsonl")
    again = harness.run("schedule", "retrain.yml", event)
    say(report_durations("retrain (no new batch)", again))
    assert again.returncode == 0, again.output[-6000:]
    assert len(re.findall(r"retrain: no new batch", again.output)) == 1, again.output[-6000:]
    assert harness.calls("gh-calls.jsonl") == gh_calls
    assert harness.git("branch", "--list", cwd=harness.bare) == branches
    assert _audit_entries(harness) == entries, "a run with no new batch recorded something"
    assert "dvc repro" not in _steps_run(again.output)


def _assert_retrain_audited(harness: ActHarness, pushed: str, gate: dict[str, Any]) -> list[dict[str, Any]]:
    """The "GitHub" audit branch holds the model trained on the new week and the gate's decision."""
    entries = _audit_entries(harness)
    assert [e["kind"] for e in entries] == ["trained", "gate"]
    assert {e["model_version"] for e in entries} == {gate["candidate"]["version"]}
    assert {e["commit"] for e in entries} == {pushed}
    data_dvc = yaml.safe_load(harness.git("show", f"{pushed}:data.dvc", cwd=harness.bare))
    assert entries[0]["data_version"] == data_dvc["outs"][0]["md5"]
    metrics = json.loads(harness.git("show", f"{pushed}:reports/metrics.json", cwd=harness.bare))
    assert entries[0]["metrics"]["average_precision"] == metrics["model"]["average_precision"]
    assert entries[1]["decision"] == gate["decision"]
    assert entries[1]["evidence"] == gate
    assert {e["run"]["workflow"] for e in entries} == {"retrain"}
    return entries


def _audit_entries(harness: ActHarness) -> list[dict[str, Any]]:
    """The audit trail on the bare repository's `audit` branch, its chain and history verified."""
    verified = subprocess.run(
        [str(VENV_BIN / "mlops-template"), "audit", "verify", "--ref", "audit"],
        cwd=harness.bare,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    shown = subprocess.run(
        ["git", "show", "audit:audit.jsonl"], cwd=harness.bare, capture_output=True, text=True, check=True
    )
    return audit.verify(shown.stdout)


def _weeks_in_git(harness: ActHarness, commit: str) -> list[str]:
    """The weeks data.dvc at `commit` points to, read from the seed remote committed in that commit."""
    spec = yaml.safe_load(harness.git("show", f"{commit}:data.dvc", cwd=harness.bare))
    md5 = spec["outs"][0]["md5"]
    listing = harness.git("show", f"{commit}:.dvc/storage/files/md5/{md5[:2]}/{md5[2:]}", cwd=harness.bare)
    return sorted(Path(entry["relpath"]).stem for entry in json.loads(listing))


def _steps_run(output: str) -> list[str]:
    return re.findall(r"✅  Success - Main (.+?) \[", output)


# --- the workflows' data step (.github/scripts/dvc-data.sh) -----------------------------------------------


def _data_step(clone: Path, action: str, team: Path | None) -> dict[str, str]:
    """Run the data step as a job would; return what it wrote to GITHUB_OUTPUT."""
    outputs = clone.parent / f"output-{action}"
    outputs.write_text("")
    env = project_env(GITHUB_OUTPUT=str(outputs), **({"DVC_REMOTE_URL": str(team)} if team else {}))
    subprocess.run(["bash", ".github/scripts/dvc-data.sh", action], cwd=clone, env=env, check=True, capture_output=True)
    return dict(line.split("=", 1) for line in outputs.read_text().splitlines())


def _dvc_file_remote(clone: Path) -> str | None:
    remote: str | None = yaml.safe_load((clone / "data.dvc").read_text())["outs"][0].get("remote")
    return remote


@pytest.mark.dvc
def test_data_step_uses_the_seed_without_a_team_remote_and_moves_new_weeks_to_it(tmp_path: Path) -> None:
    clone = copy_project(tmp_path / "clone")
    assert _data_step(clone, "pull", team=None) == {"remote": "seed"}
    weeks = sorted(p.name for p in (clone / "data").iterdir())

    # A team remote that is still empty: the shipped history comes from the seed data.dvc names.
    team = tmp_path / "team-remote"
    team.mkdir()
    shutil.rmtree(clone / "data")
    assert _data_step(clone, "pull", team=team) == {"remote": "team"}
    assert sorted(p.name for p in (clone / "data").iterdir()) == weeks

    # What retrain does with a new week: data.dvc unpinned from the seed, the data on the team remote.
    subprocess.run(["mlops-template", "data", "next-batch"], cwd=clone, env=project_env(), check=True)
    subprocess.run(["dvc", "add", "-q", "data"], cwd=clone, env=project_env(), check=True)
    assert _dvc_file_remote(clone) == "seed"
    assert _data_step(clone, "publish", team=team) == {"remote": "team"}
    assert _dvc_file_remote(clone) is None
    subprocess.run(["git", *GIT_IDENTITY, "commit", "-qam", "new week"], cwd=clone, check=True)

    fresh = tmp_path / "fresh"
    subprocess.run(["git", "clone", "-q", str(clone), str(fresh)], check=True)
    assert _data_step(fresh, "pull", team=team) == {"remote": "team"}
    assert len(list((fresh / "data").iterdir())) == len(weeks) + 1
