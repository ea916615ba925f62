"""The second example, end to end: a dataset of another shape and domain with zero code edits.

A fresh copy of the project takes the example's contract.yaml, params.yaml and weekly CSV files
(examples/loan_applications/), exactly the files the README's "Adapt it to your data" lists, and runs
every stage with `dvc repro`, offline. Nothing under src/ changes; the export's parity holds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.workspace import EXAMPLE, copy_project, offline_prefix, project_env

pytestmark = pytest.mark.dvc


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    found = subprocess.run(
        [*offline_prefix(), *args], cwd=cwd, env=project_env(), capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {found.returncode}:\n{found.stdout}\n{found.stderr}")
    return found


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project switched to the example's files, reproduced with `dvc repro`."""
    root = copy_project(tmp_path_factory.mktemp("example") / "repo")
    for name in ("contract.yaml", "params.yaml"):
        shutil.copyfile(EXAMPLE / name, root / name)
    shutil.rmtree(root / "data", ignore_errors=True)
    shutil.copytree(EXAMPLE / "data", root / "data")
    _run(root, "mlops-template", "params", "check")
    _run(root, "dvc", "add", "-q", "data")  # the user's own data version
    _run(root, "dvc", "repro")
    return root


def test_no_source_file_changed(example: Path) -> None:
    status = _run(example, "git", "status", "--porcelain", "--", "src", "dvc.yaml").stdout
    assert status == ""


def test_every_stage_ran_on_the_example_and_the_export_is_exact(example: Path) -> None:
    parity = _json(example / "reports/export.json")["parity"]
    assert parity["rows"] == 800  # the validation and test weeks, 400 applications each
    assert parity["max_abs_diff"] <= 1e-5
    metrics = _json(example / "reports/metrics.json")
    assert metrics["test"]["rows"] == 400
    assert metrics["model"]["roc_auc"] > 0.6  # the generator's signal is learned
    assert (example / "artifacts/registered.json").is_file()


def test_the_served_artifact_speaks_the_examples_contract(example: Path) -> None:
    contract = _json(example / "models/served/contract.json")
    assert (contract["name"], contract["id"], contract["timestamp"], contract["label"]) == (
        "loan_applications",
        "application_id",
        "submitted_at",
        "defaulted",
    )
    assert contract["row"] == "loan application"
    served = _json(example / "models/served/served.json")
    assert [(i["name"], i["kind"]) for i in served["inputs"]] == [
        ("submitted_at", "timestamp"),
        ("loan_amount", "numeric"),
        ("annual_income", "numeric"),
        ("term_months", "numeric"),
        ("credit_score", "numeric"),
        ("employment_years", "numeric"),
        ("purpose", "categorical"),
        ("housing", "categorical"),
    ]
    assert served["model_kind"] == "logistic_regression"


def test_the_reports_use_the_examples_slices_and_words(example: Path) -> None:
    slices = _json(example / "reports/slices.json")
    assert set(slices) >= {"purpose", "housing", "term_months"}
    card = _json(example / "reports/model_card.json")
    assert card["task"]["positive_class"] == "default"
    assert card["intended_use"].startswith("Ranks consumer loan applications")


def test_the_fairness_audit_uses_the_examples_own_groups(example: Path) -> None:
    # The example's params.yaml declares its groups (housing; stated income in bands): no code changed
    audit = _json(example / "reports/fairness.json")
    assert set(audit["groupings"]) == {"housing", "annual_income"}
    housing = audit["groupings"]["housing"]
    assert set(housing["groups"]) == {"mortgage", "own", "rent"}
    income = audit["groupings"]["annual_income"]
    assert income["bands"] == [40000.0, 70000.0]
    assert set(income["groups"]) <= {"< 40000", "[40000, 70000)", ">= 70000", "missing"}
    for grouping in audit["groupings"].values():
        for name, group in grouping["groups"].items():
            if group["too_small"] is None:
                assert group["recall"]["low"] <= group["recall"]["value"] <= group["recall"]["high"], name
            else:  # too small to judge: it says so, in the example's words, instead of a number
                assert "too small to judge" in group["too_small"]
                assert group["recall"] is None
        assert set(grouping["gaps"]) == {"recall", "false_positive_rate", "equalized_odds", "flagged_share_ratio"}
    card = (example / "reports/model_card.md").read_text(encoding="utf-8")
    assert "## Fairness (at the threshold)" in card
    assert "| group | rows | default | false positive rate | recall | flagged share | precision |" in card
