"""Fixtures of the tuning tests: a small project (simulated weeks, ingested) to run studies on."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from mlops_template.core.config import parse_params
from mlops_template.data.sources import generate_history
from tests.support.params import small_params_dict, write_params

TUNING_WEEKS = 6  # 4 to train, 1 to validate, 1 to test: 5 weeks for walk-forward folds


def tiny_tune_params() -> dict[str, Any]:
    """The small params with a tune section that makes a study of a few seconds."""
    raw = small_params_dict()
    raw["tune"].update(
        trials=6,
        folds=2,
        timeout_minutes=None,
        pruner={"kind": "median", "startup_trials": 2, "warmup_folds": 0},
    )
    raw["tune"]["hist_gradient_boosting"]["max_iter"] = {"low": 10, "high": 30}
    return raw


@pytest.fixture(scope="session")
def ingested_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project root (.dvc/, params.yaml, data/, artifacts/ingest/) built once; copy it to change it."""
    from mlops_template.stages import ingest  # noqa: PLC0415 - tests may run a stage to lay out its outputs

    root = tmp_path_factory.mktemp("tuning-project")
    (root / ".dvc").mkdir()
    raw = tiny_tune_params()
    write_params(root / "params.yaml", raw)
    params = parse_params(raw)
    generate_history(params, root / "data", weeks=TUNING_WEEKS)
    ingest.run(params, root / "data", root / "artifacts/ingest", root / "reports/data_quality.json")
    return root


@pytest.fixture
def tiny_params() -> dict[str, Any]:
    """The tiny study's params as a fresh dict (a test changes it freely)."""
    return tiny_tune_params()


@pytest.fixture
def tuning_project(ingested_project: Path, tmp_path: Path) -> Path:
    """A fresh copy of the ingested project, for a test that writes in it (.tune/, reports/, params.yaml)."""
    root = tmp_path / "project"
    shutil.copytree(ingested_project, root)
    return root
