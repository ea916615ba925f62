"""DVC experiments on a fresh copy of the project, run as the README ("Tuning and experiments") says.

`dvc exp run -S` in the workspace, a queued grid (`dvc exp run --queue`, `dvc queue start`) whose
runs execute in DVC's temporary copies under `.dvc/tmp/exps/` and still log to the project's one
MLflow store, `dvc exp show` cut down to what matters, `dvc exp branch` as the start of a pull
request, and failed experiments that lose nothing. The copy has five small simulated weeks and a
20-iteration model (MLflow logging on), so every experiment takes seconds, not minutes.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.params import small_params_dict, write_params
from tests.support.workspace import GIT_IDENTITY, copy_project, digest, offline_prefix, project_env

pytestmark = pytest.mark.dvc

GRID = (0.2, 0.3)  # the queued grid of train.model.learning_rate, one `-S` sweep: DVC names each experiment
BROKEN = "lr-negative"  # queued with learning_rate=-1: fails in train
QUEUE_DEADLINE_SECONDS = 240
# The view the README recommends: the experiment, its state, the train params that differ and
# the two metrics the promotion gate judges. `--drop` takes a regex matched at the start of each column
# name: a negative lookahead drops every column but these, `--only-changed` those that never vary.
MATTERS = r"Experiment$|State$|train\.|model\.(average_precision|recall)$"
SHOW_VIEW = ("--only-changed", "--drop", f"^(?!{MATTERS})")
WHY = "train.model.hist_gradient_boosting.learning_rate: Input should be greater than 0 (got -1)"
# What a failed experiment must leave as it was: the last good model, its served artifact, the reports.
KEPT = ("models/model.joblib", "models/served/served.json", "reports/metrics.json", "reports/model_card.md")


def _run(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    # Offline where permitted: an experiment needs nothing from the network.
    command = [*offline_prefix(), *args] if args[0] == "dvc" else list(args)
    found = subprocess.run(command, cwd=cwd, env=project_env(), capture_output=True, text=True, check=False)
    if check and found.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {found.returncode}:\n{found.stdout}\n{found.stderr}")
    return found


def _git(cwd: Path, *args: str) -> str:
    return _run(cwd, "git", *args).stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh copy with small data, reproduced and committed: the baseline every experiment starts from."""
    root = copy_project(tmp_path_factory.mktemp("experiments") / "repo")
    raw = small_params_dict()
    raw["tracking"]["enabled"] = True  # the point: where the experiments' MLflow runs land
    write_params(root / "params.yaml", raw)
    for option in GIT_IDENTITY[1::2]:  # DVC commits each experiment: the copy needs a committer
        _git(root, "config", *option.split("=", 1))
    _run(root, "mlops-template", "data", "generate", "--weeks", "5")
    _run(root, "dvc", "add", "data")
    _run(root, "dvc", "repro")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "baseline: small data and model")
    return root


def _experiments(root: Path) -> dict[str, dict[str, Any]]:
    """`dvc exp show --json` as {experiment name: state, params, metrics, outs} for the HEAD baseline."""
    shown = json.loads(_run(root, "dvc", "exp", "show", "--json").stdout)
    found: dict[str, dict[str, Any]] = {}
    for baseline in shown:
        for experiment in baseline.get("experiments") or []:
            rev = experiment["revs"][0]
            data = rev.get("data") or {}
            found[rev["name"]] = {
                "state": (experiment.get("executor") or {}).get("state", "success"),
                "params": data.get("params", {}).get("params.yaml", {}).get("data", {}),
                "metrics": data.get("metrics", {}).get("reports/metrics.json", {}).get("data", {}),
                "outs": data.get("outs", {}),
            }
    return found


def _tagged_runs(root: Path) -> dict[str, list[dict[str, Any]]]:
    """MLflow runs of the project's one store, by their `dvc_experiment` tag, with tags and metrics."""
    with sqlite3.connect(root / "mlruns.db") as store:
        tagged = store.execute("select run_uuid, value from tags where key = 'dvc_experiment'").fetchall()
        runs: dict[str, list[dict[str, Any]]] = {}
        for run_id, name in tagged:
            tags = dict(store.execute("select key, value from tags where run_uuid = ?", (run_id,)).fetchall())
            metrics = dict(store.execute("select key, value from metrics where run_uuid = ?", (run_id,)).fetchall())
            runs.setdefault(name, []).append({"tags": tags, "metrics": metrics})
    return runs


def _queue_status(root: Path) -> str:
    return _run(root, "dvc", "queue", "status").stdout


def _wait_for_the_queue(root: Path) -> str:
    deadline = time.monotonic() + QUEUE_DEADLINE_SECONDS
    while re.search(r"\b(Queued|Running)\b", status := _queue_status(root)):
        if time.monotonic() > deadline:
            pytest.fail(f"the queue did not finish in {QUEUE_DEADLINE_SECONDS} s:\n{status}")
        time.sleep(2)
    return status


@dataclass(frozen=True)
class Queued:
    """After the queue ran: `dvc exp show --json` by experiment name, and the grid's names by learning rate."""

    shown: dict[str, dict[str, Any]]
    grid: dict[float, str]


@pytest.fixture(scope="module")
def queued(project: Path) -> Iterator[Queued]:
    """The grid and a broken experiment queued, then run by `dvc queue start` (one worker)."""
    before = set(_experiments(project))
    sweep = ",".join(map(str, GRID))
    _run(project, "dvc", "exp", "run", "--queue", "-S", f"train.model.learning_rate={sweep}")
    _run(project, "dvc", "exp", "run", "--queue", "-n", BROKEN, "-S", "train.model.learning_rate=-1")
    kept = {path: digest(project / path) for path in KEPT}
    try:
        _run(project, "dvc", "queue", "start")
        status = _wait_for_the_queue(project)
        assert {path: digest(project / path) for path in KEPT} == kept  # queued runs never touch the workspace
        assert re.search(rf"{BROKEN}\s.*Failed", status), status
        shown = _experiments(project)
        new = set(shown) - before - {BROKEN}
        yield Queued(shown, {shown[name]["params"]["train"]["model"]["learning_rate"]: name for name in new})
    finally:
        _run(project, "dvc", "queue", "stop", check=False)  # the worker would stop itself 10 s after idling
        deadline = time.monotonic() + 30
        while "0 active, 0 idle" not in _queue_status(project) and time.monotonic() < deadline:
            time.sleep(1)


def _back_to_head(root: Path) -> None:
    """Discard an experiment applied to the workspace (or a failed one's params) as the README says."""
    _git(root, "checkout", "--", "params.yaml", "dvc.lock", "reports")
    _run(root, "dvc", "checkout")
    assert _git(root, "status", "--porcelain") == ""


def test_exp_run_sets_a_param_runs_what_it_changes_and_logs_to_the_project_store(project: Path) -> None:
    before = _tagged_runs(project)
    try:
        found = _run(project, "dvc", "exp", "run", "-S", "train.model.learning_rate=0.1")
        name = re.search(r"Ran experiment\(s\): (\S+)", found.stdout)
        assert name, found.stdout
        assert "Stage 'featurize' didn't change, skipping" in found.stdout  # only train and what follows re-run
        assert "Running stage 'train'" in found.stdout
        params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
        assert params["train"]["model"]["learning_rate"] == 0.1  # applied to the workspace, for a look
        shown = _experiments(project)[name.group(1)]
        assert shown["params"]["train"]["model"]["learning_rate"] == 0.1
        assert 0.0 < shown["metrics"]["model"]["average_precision"] <= 1.0
        runs = _tagged_runs(project)
        assert len(runs[name.group(1)]) == 1
        assert set(runs) - set(before) == {name.group(1)}
        assert runs[name.group(1)][0]["tags"]["dvc_baseline_rev"] == _git(project, "rev-parse", "HEAD").strip()
    finally:
        _back_to_head(project)


def test_a_queued_grid_runs_in_temporary_copies_and_logs_to_the_project_store(project: Path, queued: Queued) -> None:
    head = _git(project, "rev-parse", "HEAD").strip()
    runs = _tagged_runs(project)
    assert sorted(queued.grid) == sorted(GRID)  # one experiment per value of the sweep
    for name in queued.grid.values():
        shown = queued.shown[name]
        assert shown["state"] == "success"
        logged = runs.get(name, [])
        assert len(logged) == 1, f"{name}: MLflow runs in the project's mlruns.db: {len(logged)}"
        assert logged[0]["tags"]["dvc_baseline_rev"] == head
        assert logged[0]["tags"]["git_commit"] == head  # the copy's commit: the baseline, params changed
        assert logged[0]["tags"]["git_dirty"] == "true"
        metric = shown["metrics"]["model"]["average_precision"]
        assert logged[0]["metrics"]["model.average_precision"] == pytest.approx(metric, rel=1e-9)
    models = {queued.shown[name]["outs"]["models/model.joblib"]["hash"] for name in queued.grid.values()}
    assert len(models) == len(GRID)  # each learning rate trained its own model
    # The copies are gone, and none kept a store of its own.
    assert not list((project / ".dvc").rglob("mlruns.db"))


def test_exp_show_cut_down_to_the_params_and_metrics_that_matter(project: Path, queued: Queued) -> None:
    table = _run(project, "dvc", "exp", "show", *SHOW_VIEW, "--md").stdout
    lines = [line for line in table.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header[:2] == ["Experiment", "State"]
    assert {"model.average_precision", "train.model.learning_rate"} <= set(header)
    assert all(re.match(MATTERS, column) for column in header), header  # no deps, hashes, slices, other params
    assert "train.model.max_iter" not in header  # the same in every experiment
    rows = {found.group(1): line for line in lines[2:] if (found := re.search(r"\[(\S+)\]", line))}
    for learning_rate, name in queued.grid.items():
        assert "Success" in rows[name]
        assert f"| {learning_rate} " in rows[name]
    assert "Failed" in rows[BROKEN]


def test_a_failed_queued_experiment_says_why_in_its_log(project: Path, queued: Queued) -> None:
    assert queued.shown[BROKEN]["state"] == "failed"
    log = _run(project, "dvc", "queue", "logs", BROKEN).stdout
    assert WHY in log
    assert "error: train:" in log


def test_a_failed_experiment_keeps_the_last_good_model_and_reports(project: Path) -> None:
    kept = {path: digest(project / path) for path in KEPT}
    try:
        found = _run(project, "dvc", "exp", "run", "-S", "train.model.learning_rate=-1", check=False)
        assert found.returncode != 0
        # The reason, in one line naming the key, the value and the rule.
        assert f"error: train: params.yaml: {WHY}" in found.stderr.splitlines()
        assert "ERROR: failed to reproduce 'train'" in found.stderr
        assert {path: digest(project / path) for path in KEPT} == kept
        assert _git(project, "status", "--porcelain").split() == ["M", "params.yaml"]  # only the bad value
    finally:
        _back_to_head(project)  # the way back: `git checkout params.yaml`
    assert "up to date" in _run(project, "dvc", "status").stdout


def test_exp_branch_makes_a_branch_a_reviewer_checks_out_complete(
    project: Path, queued: Queued, tmp_path: Path
) -> None:
    name = queued.grid[GRID[-1]]
    _run(project, "dvc", "exp", "branch", name, f"exp/{name}")
    changed = _git(project, "diff", "--name-only", "HEAD", f"exp/{name}").split()
    assert {"params.yaml", "dvc.lock", "reports/metrics.json"} <= set(changed)
    assert _git(project, "rev-list", "--count", f"HEAD..exp/{name}").strip() == "1"  # one commit on the baseline
    committed = json.loads(_git(project, "show", f"exp/{name}:reports/metrics.json"))
    assert committed["model"] == pytest.approx(queued.shown[name]["metrics"]["model"])
    # A reviewer's clone of the branch, with the outputs DVC cached: everything is there and up to date.
    reviewer = tmp_path / "reviewer"
    _run(tmp_path, "git", "clone", "-q", "--branch", f"exp/{name}", str(project), str(reviewer))
    _run(reviewer, "dvc", "cache", "dir", "--local", str(project / ".dvc" / "cache"))
    _run(reviewer, "dvc", "checkout")
    assert "Data and pipelines are up to date." in _run(reviewer, "dvc", "status").stdout
    params = yaml.safe_load((reviewer / "params.yaml").read_text(encoding="utf-8"))
    assert params["train"]["model"]["learning_rate"] == GRID[-1]
