"""The `tune` workflow (.github/workflows/tune.yml): its budgets' check, its policy, and real runs with act.

Fast: the policy every workflow follows (tests/support/workflow_policy.py) and the step that checks the
two budgets, run as bash with the values a dispatch could carry. Slow (act, tests/support/act_harness.py,
no network): a study of three trials on the project's data, with a search space of two keys and today's
params in its worst corner, so that the study's best is not today's and one PR is opened from
`tune/<date>`, with the summary as its body and params.yaml changed in the searched keys only; the same
dispatch with `min_gain: 1.0` (no trial can beat today's by a whole point of average precision) opens
nothing; a budget that is not a whole number stops the run before anything is set up.
"""

from __future__ import annotations

import difflib
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.act_harness import ActHarness, make_harness, report_durations
from tests.support.workflow_policy import load, workflow_violations
from tests.support.workspace import REPO

WORKFLOW = REPO / ".github" / "workflows" / "tune.yml"
SEARCHED = ("learning_rate", "max_iter")  # the test's search space: two keys of train.model
NO_CHANGE = "tune: the study proposes no change to params.yaml; no PR opened"
REPRO_STEP = "dvc repro (the pipeline with the tuned params)"

# Today's params in the worst corner of the space (a slow rate and few trees: a coarse ranking of the
# transactions), so any other point the sampler draws beats them on the folds. Two folds and three
# trials keep the study to seconds; the other keys are not searched.
TODAY = {"learning_rate": 0.01, "max_iter": 10}
TUNE_SECTION = """\
tune:
  trials: 3
  timeout_minutes: 10
  seed: 42
  folds: 2
  families: null
  min_gain: 0.0
  pruner:
    kind: median
    startup_trials: 5
    warmup_folds: 0
  hist_gradient_boosting:
    learning_rate: {low: 0.01, high: 0.3, log: true}
    max_iter: {low: 10, high: 40}
    max_leaf_nodes: null
    min_samples_leaf: null
    l2_regularization: null
"""


# --- fast ----------------------------------------------------------------------------------------------


def test_tune_follows_the_policy_of_every_workflow() -> None:
    assert workflow_violations(WORKFLOW) == []


def test_tune_is_dispatched_by_hand_only_and_opens_prs_with_the_retrain_token() -> None:
    """The PR must trigger ci and pr-report: the same secret as retrain's, never a new one to set up."""
    workflow = load(WORKFLOW)
    assert set(workflow.get("on", workflow.get(True))) == {"workflow_dispatch"}
    steps = workflow["jobs"]["tune"]["steps"]
    tokens = {step["env"][key] for step in steps for key in ("PUSH_TOKEN", "GH_TOKEN") if key in step.get("env", {})}
    assert tokens == {"${{ secrets.RETRAIN_TOKEN || secrets.GITHUB_TOKEN }}"}


def _check_budgets(trials: str, timeout_minutes: str) -> subprocess.CompletedProcess[str]:
    """The workflow's first step, run as the runner runs it (bash -e), with the two inputs in its env."""
    step = load(WORKFLOW)["jobs"]["tune"]["steps"][0]
    assert step["name"] == "Check the budgets"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env={"PATH": "/usr/bin:/bin", "TRIALS": trials, "TIMEOUT_MINUTES": timeout_minutes},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(("trials", "timeout_minutes"), [("2", "1"), ("1000", "180"), ("50", "30"), ("08", "09")])
def test_the_budget_check_takes_whole_numbers_in_range(trials: str, timeout_minutes: str) -> None:
    done = _check_budgets(trials, timeout_minutes)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("trials", "timeout_minutes", "expected"),
    [
        ("1", "30", "input trials is 1: it must be a whole number from 2 to 1000"),
        ("1001", "30", "input trials is 1001: it must be a whole number from 2 to 1000"),
        ("2.5", "30", "input trials is 2.5: it must be a whole number from 2 to 1000"),
        ("-3", "30", "input trials is -3: it must be a whole number from 2 to 1000"),
        ("", "30", "input trials is '': it must be a whole number from 2 to 1000"),
        ("50", "0", "input timeout_minutes is 0: it must be a whole number from 1 to 180"),
        ("50", "1e3", "input timeout_minutes is 1e3: it must be a whole number from 1 to 180"),
        ("50", "99999999999999999999", "input timeout_minutes is 99999999999999999999: it must be"),
    ],
)
def test_the_budget_check_refuses_anything_else_naming_the_input(
    trials: str, timeout_minutes: str, expected: str
) -> None:
    done = _check_budgets(trials, timeout_minutes)
    assert done.returncode == 1
    assert done.stdout.startswith("::error::tune: ")
    assert expected in done.stdout


def test_the_budget_check_keeps_a_multiline_value_on_its_one_error_line() -> None:
    """A dispatch through the API can carry any string: it must not start a workflow command of its own."""
    done = _check_budgets("3\n::add-mask::x", "30")
    assert done.returncode == 1
    assert done.stdout.count("\n") == 1
    assert done.stdout.startswith("::error::tune: input trials is $'3\\n::add-mask::x'")


# --- act runs ------------------------------------------------------------------------------------------


def _dispatch(trials: str, timeout_minutes: str) -> dict[str, Any]:
    return {
        "inputs": {"trials": trials, "timeout_minutes": timeout_minutes},
        "ref": "refs/heads/main",
        "repository": {"full_name": "acme/mlops-template", "name": "mlops-template", "owner": {"login": "acme"}},
    }


def _edit(clone: Path, edits: dict[str, str]) -> None:
    """Replace whole lines of params.yaml (`^old$` -> new), each exactly once."""
    path = clone / "params.yaml"
    text = path.read_text()
    for old, new in edits.items():
        text, count = re.subn(rf"^{old}$", new, text, count=1, flags=re.MULTILINE)
        assert count == 1, f"{old!r} is not a line of params.yaml"
    path.write_text(text)


def _small_project(clone: Path) -> None:
    """The test's params on `main`: today's model in the corner of a two-key space, quick to train."""
    path = clone / "params.yaml"
    text = path.read_text()
    section = re.search(r"^tune:\n(?:[ \t].*\n|\n)*", text, re.MULTILINE)
    assert section is not None, "params.yaml has no tune: section"
    path.write_text(text.replace(section.group(0), TUNE_SECTION))
    _edit(
        clone,
        {
            r"    learning_rate: \S+": f"    learning_rate: {TODAY['learning_rate']}",
            r"    max_iter: \S+": f"    max_iter: {TODAY['max_iter']}",
            r"    folds: 3": "    folds: 2",  # train.calibration.folds (the first `folds:` of the file)
            r"  importance_repeats: \S+": "  importance_repeats: 1",
        },
    )


def _leaves(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix: tree}
    found: dict[str, Any] = {}
    for key, value in tree.items():
        found |= _leaves(value, f"{prefix}.{key}" if prefix else str(key))
    return found


def _show(harness: ActHarness, commit: str, path: str) -> str:
    return harness.git("show", f"{commit}:{path}", cwd=harness.bare)


def _assert_params_changed_in_the_searched_keys(before: str, after: str) -> dict[str, Any]:
    """Only lines of searched keys differ (comments and every other line kept); return the new values."""
    changed_lines = [
        line[1:]
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed_lines, "the PR's params.yaml is today's"
    searched_line = re.compile(rf"^    ({'|'.join(SEARCHED)}): \S+$")
    assert all(searched_line.match(line) for line in changed_lines), changed_lines
    old, new = _leaves(yaml.safe_load(before)), _leaves(yaml.safe_load(after))
    differing = {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
    assert differing, "the PR's params.yaml is today's"
    assert differing <= {f"train.model.{key}" for key in SEARCHED}, differing
    return {key.removeprefix("train.model."): new[key] for key in differing}


def _steps_run(output: str) -> list[str]:
    return re.findall(r"✅  Success - Main (.+?) \[", output)


def _today_utc() -> str:
    return datetime.now(UTC).date().isoformat()


def _heads(harness: ActHarness) -> set[str]:
    return set(harness.git("for-each-ref", "--format=%(refname:short)", "refs/heads", cwd=harness.bare).split())


def _assert_one_pr_from_tune_date(harness: ActHarness, main: str, days: set[str]) -> tuple[str, str]:
    """ONE PR, from tune/<date> (one commit on main) to main, whose body carries the study's summary."""
    tune_branches = _heads(harness) - {"main"}
    assert len(tune_branches) == 1, tune_branches
    branch = tune_branches.pop()
    assert branch in {f"tune/{day}" for day in days}
    assert harness.git("rev-parse", "main", cwd=harness.bare) == main, "tune must never touch main"
    pushed = harness.git("rev-parse", branch, cwd=harness.bare)
    assert harness.git("rev-parse", f"{pushed}^", cwd=harness.bare) == main
    prs = harness.records_of("pull-requests.json")
    assert len(prs) == 1, prs
    assert prs[0]["head"] == branch
    assert prs[0]["base"] == "main"
    summaries = list((harness.artifacts / "tuning").rglob("summary.md"))
    assert len(summaries) == 1, "the tuning reports were not uploaded"
    summary = summaries[0].read_text()
    assert summary.strip()
    assert summary in prs[0]["body"]
    assert _show(harness, pushed, "reports/tuning/summary.md") == summary.strip()  # the study's record, on the branch
    assert "set the RETRAIN_TOKEN secret" in prs[0]["body"]  # no secret here: ci will not start by itself
    reports = {p.name for p in summaries[0].parent.iterdir()}
    assert {"history.svg", "importance.svg", "params.diff", "trials.csv", "summary.json"} <= reports
    return branch, pushed


def _assert_tuned_and_reproduced(harness: ActHarness, main: str, pushed: str) -> None:
    """params.yaml changed in the searched keys only, inside the space; dvc.lock is the run with them."""
    tuned = _assert_params_changed_in_the_searched_keys(
        _show(harness, main, "params.yaml"), _show(harness, pushed, "params.yaml")
    )
    assert tuned != {key: TODAY[key] for key in tuned}
    assert 0.01 <= tuned.get("learning_rate", 0.01) <= 0.3
    assert 10 <= tuned.get("max_iter", 10) <= 40
    lock = yaml.safe_load(_show(harness, pushed, "dvc.lock"))
    trained_with = lock["stages"]["train"]["params"]["params.yaml"]["train"]["model"]
    assert {key: trained_with[key] for key in tuned} == tuned, "dvc.lock is not the pipeline run with the tuned params"
    changed = set(harness.git("diff", "--name-only", main, pushed, cwd=harness.bare).splitlines())
    assert {"params.yaml", "dvc.lock", "reports/metrics.json"} <= changed
    assert all(name in {"params.yaml", "dvc.lock"} or name.startswith("reports/") for name in changed), changed


@pytest.mark.act
def test_tune_with_act_opens_one_pr_from_tune_date_and_none_when_today_stays_best(
    tmp_path: Path, say: Callable[[str], None]
) -> None:
    harness = make_harness(tmp_path)
    _small_project(harness.clone)
    harness.git("commit", "-qam", "A small study: two searched keys, today's params in their corner")
    harness.git("push", "-q", str(harness.bare), "HEAD:refs/heads/main")
    main = harness.git("rev-parse", "HEAD")

    # A budget that is not a whole number: the first step says which, before anything is set up.
    refused = harness.run("workflow_dispatch", "tune.yml", _dispatch("2.5", "5"))
    say(report_durations("tune (trials 2.5)", refused))
    assert refused.returncode != 0
    assert "input trials is 2.5: it must be a whole number from 2 to 1000" in refused.output, refused.output[-6000:]
    assert _steps_run(refused.output) == []
    assert harness.records_of("pull-requests.json") is None

    day_before = _today_utc()
    first = harness.run("workflow_dispatch", "tune.yml", _dispatch("3", "5"))
    say(report_durations("tune (3 trials, a change)", first))
    assert first.returncode == 0, first.output[-6000:]
    branch, pushed = _assert_one_pr_from_tune_date(harness, main, {day_before, _today_utc()})
    _assert_tuned_and_reproduced(harness, main, pushed)
    assert REPRO_STEP in _steps_run(first.output)

    # Nothing can beat today's params by a whole point of average precision: no branch, no PR.
    _edit(harness.clone, {r"  min_gain: 0.0": "  min_gain: 1.0"})
    harness.git("commit", "-qam", "Propose params only for a gain of 1.0")
    harness.git("push", "-q", str(harness.bare), "HEAD:refs/heads/main")
    heads, gh_calls = _heads(harness), harness.calls("gh-calls.jsonl")
    again = harness.run("workflow_dispatch", "tune.yml", _dispatch("3", "5"))
    say(report_durations("tune (3 trials, min_gain 1.0: no change)", again))
    assert again.returncode == 0, again.output[-6000:]
    assert again.output.count(NO_CHANGE) == 1, again.output[-6000:]
    assert harness.calls("gh-calls.jsonl") == gh_calls
    assert _heads(harness) == heads
    assert harness.git("rev-parse", branch, cwd=harness.bare) == pushed
    assert REPRO_STEP not in _steps_run(again.output)
