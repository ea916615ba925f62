"""The real thing: `dvc pull` + `dvc repro` in a fresh clone, offline, as a user runs it.

Run with `make test` (or `pytest -m slow`). The clone is made from the working tree, so
uncommitted changes are tested too; `git status` must stay clean afterwards, which means the
clone reproduced the committed dvc.lock, metrics, plots and model card byte for byte.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.support.workspace import copy_project, digest, offline_prefix, project_env

pytestmark = pytest.mark.dvc


def _offline_prefix() -> list[str]:
    prefix = offline_prefix()
    if not prefix and os.environ.get("CI") == "true":
        pytest.fail("CI must prove the pipeline runs offline, but `unshare -n` is not permitted here")
    return prefix


def _run(cwd: Path, *args: str, offline: bool = True, check: bool = True) -> subprocess.CompletedProcess[str]:
    prefix = _offline_prefix() if offline else []
    found = subprocess.run([*prefix, *args], cwd=cwd, env=project_env(), capture_output=True, text=True, check=False)
    if check and found.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {found.returncode}:\n{found.stdout}\n{found.stderr}")
    return found


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of the working tree, with `dvc pull data.dvc && dvc repro` run offline."""
    target = copy_project(tmp_path_factory.mktemp("clone") / "repo")
    _run(target, "dvc", "pull", "data.dvc")
    _run(target, "dvc", "repro")
    return target


def test_fresh_clone_reproduces_the_committed_results(clone: Path) -> None:
    status = _run(clone, "git", "status", "--porcelain", offline=False).stdout
    assert status == "", f"the clone's repro changed tracked files (stale dvc.lock or nondeterminism):\n{status}"
    assert "up to date" in _run(clone, "dvc", "status").stdout


def test_outputs_exist_and_metrics_are_sane(clone: Path) -> None:
    metrics = yaml.safe_load((clone / "reports/metrics.json").read_text(encoding="utf-8"))
    assert metrics["model"]["roc_auc"] > 0.75
    assert metrics["model"]["average_precision"] > 5 * metrics["baseline"]["average_precision"]
    assert (clone / "models/model.joblib").stat().st_size > 10_000
    for split in ("train", "valid", "test"):
        assert len(pd.read_parquet(clone / f"artifacts/ingest/{split}.parquet")) > 1000
    shown = _run(clone, "dvc", "metrics", "show").stdout
    assert "reports/metrics.json" in shown
    assert "model.roc_auc" in shown


def test_the_metrics_are_those_of_the_served_artifact(clone: Path) -> None:
    served = json.loads((clone / "models/served/served.json").read_text(encoding="utf-8"))
    metrics = json.loads((clone / "reports/metrics.json").read_text(encoding="utf-8"))
    card = json.loads((clone / "reports/model_card.json").read_text(encoding="utf-8"))
    exported = json.loads((clone / "reports/export.json").read_text(encoding="utf-8"))
    assert metrics["model_version"] == served["version"] == card["served"]["version"] == exported["version"]
    assert metrics["threshold"] == served["threshold"]
    assert exported["parity"]["max_abs_diff"] <= 1e-5
    assert exported["parity"]["rows"] > 5000
    for name, expected in served["files"].items():
        assert digest(clone / "models/served" / name) == expected
    shown = _run(clone, "dvc", "metrics", "show").stdout
    assert "parity.max_abs_diff" in shown


def test_repro_logged_one_mlflow_run_in_the_repository(clone: Path) -> None:
    database = clone / "mlruns.db"
    assert database.is_file()
    with sqlite3.connect(database) as connection:
        runs = connection.execute("select count(*) from runs").fetchone()[0]
        versions = connection.execute("select name, version from model_versions").fetchall()
    assert runs == 1
    assert versions == [("fraud-detector", 1)]
    assert (clone / "mlartifacts").is_dir()
    assert not (clone / "mlruns").exists()


def test_noop_repro_runs_nothing(clone: Path) -> None:
    found = _run(clone, "dvc", "repro")
    assert "Data and pipelines are up to date." in found.stdout
    assert "Running stage" not in found.stdout


def test_a_bad_batch_fails_clearly_and_loses_nothing(clone: Path) -> None:
    model = digest(clone / "models/model.joblib")
    lock = digest(clone / "dvc.lock")
    splits = {n: digest(clone / f"artifacts/ingest/{n}.parquet") for n in ("train", "valid", "test")}
    latest = sorted((clone / "data").glob("*.csv"))[-1]
    bad = pd.read_csv(latest, dtype=str)
    bad["transaction_id"] = "bad-" + bad["transaction_id"]
    bad.loc[bad.index[::2], "channel"] = "telex"
    bad_path = clone / "data" / "2099-W01.csv"
    bad.to_csv(bad_path, index=False)
    try:
        found = _run(clone, "dvc", "repro", check=False)
        assert found.returncode != 0
        assert "error: ingest:" in found.stderr
        assert "above ingest.max_rejected_share=1.00%" in found.stderr
        assert "channel: one of ['pos', 'online', 'atm']" in found.stderr
        assert digest(clone / "models/model.joblib") == model  # the last good model
        assert digest(clone / "dvc.lock") == lock
        assert splits == {n: digest(clone / f"artifacts/ingest/{n}.parquet") for n in splits}  # the last good data
        assert (clone / "reports/data_quality.json").is_file()
        report = (clone / "artifacts/ingest/quarantine/report.md").read_text(encoding="utf-8")
        assert "FAILED" in report  # explains the failure
    finally:
        bad_path.unlink()
    # The user's way back: fix the data, repro. Ingest re-runs to the same outputs; nothing else runs.
    again = _run(clone, "dvc", "repro")
    assert "Running stage 'train'" not in again.stdout
    assert "up to date" in _run(clone, "dvc", "status").stdout
    assert _run(clone, "git", "status", "--porcelain", offline=False).stdout == ""


def test_bad_params_fail_with_the_key_path_and_lose_nothing(clone: Path) -> None:
    params = clone / "params.yaml"
    original = params.read_text(encoding="utf-8")
    model = digest(clone / "models/model.joblib")
    params.write_text(original.replace("learning_rate: 0.05", "learning_rate: -0.05"), encoding="utf-8")
    try:
        found = _run(clone, "dvc", "repro", check=False)
        assert found.returncode != 0
        assert "train.model.hist_gradient_boosting.learning_rate: Input should be greater than 0" in found.stderr
        assert digest(clone / "models/model.joblib") == model
    finally:
        params.write_text(original, encoding="utf-8")
    assert "up to date" in _run(clone, "dvc", "status").stdout


def test_next_batch_then_repro_retrains_on_the_new_week(clone: Path, tmp_path: Path) -> None:
    work = tmp_path / "next"
    shutil.copytree(clone, work, symlinks=True)
    added = _run(work, "mlops-template", "data", "next-batch").stdout.strip()
    assert added == "data/2026-W47.csv"
    _run(work, "dvc", "repro")
    weeks = yaml.safe_load((work / "artifacts/ingest/weeks.json").read_text(encoding="utf-8"))
    assert weeks["test"] == ["2026-W47"]
    assert weeks["valid"] == ["2026-W46"]
    _run(work, "dvc", "add", "data")  # what the weekly workflow commits
    assert "data.dvc" in _run(work, "git", "status", "--porcelain", offline=False).stdout
