"""Shared fixtures: the shipped params shrunk for speed, small simulated data in tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from mlops_template.core.config import Params, parse_params
from mlops_template.data import schema
from mlops_template.data.sources import generate_history
from mlops_template.data.sources.simulated import generate_week

REPO = Path(__file__).resolve().parents[1]


def shipped_params_dict() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    return raw


def small_params_dict() -> dict[str, Any]:
    """The shipped params, shrunk: a few hundred rows a week, a small model, no MLflow."""
    raw = shipped_params_dict()
    raw["source"].update(rows_per_week=600, fraud_rate=0.05, customers=500)
    raw["train"]["model"].update(max_iter=20)
    raw["evaluate"].update(min_slice_rows=20, importance_repeats=1, importance_max_rows=300)
    raw["tracking"]["enabled"] = False
    return raw


@pytest.fixture
def small_params() -> Params:
    return parse_params(small_params_dict())


@pytest.fixture
def data_dir(tmp_path: Path, small_params: Params) -> Path:
    """Five weeks of small simulated batches (with dirty and re-delivered rows) in tmp_path/data."""
    target = tmp_path / "data"
    generate_history(small_params, target, weeks=5)
    return target


@pytest.fixture
def clean_week(small_params: Params) -> pd.DataFrame:
    """One clean simulated week as raw text, as a CSV reader would see it."""
    assert small_params.source.kind == "simulated"
    rows = generate_week(small_params.source, 7, "2026-W40")
    return rows.astype(dict.fromkeys(rows.columns, object)).where(rows.notna(), None)


def write_params(path: Path, raw: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def contract_columns() -> list[str]:
    return list(schema.COLUMNS)


def build_served_artifact(root: Path, raw_params: dict[str, Any] | None = None) -> Path:
    """Train a small model under `root` as dvc.yaml lays it out, export it and evaluate it.

    Returns the served directory (model.onnx, contract.json, served.json) with the model card beside
    it as `model_card.json`, the way the image carries it.
    """
    from mlops_template.stages import evaluate, export, featurize, ingest, train  # noqa: PLC0415

    params = parse_params(raw_params or small_params_dict())
    generate_history(params, root / "data", weeks=5)
    ingest.run(params, root / "data", root / "artifacts/ingest", root / "reports/data_quality.json")
    featurize.run(params, root / "artifacts/ingest", root / "artifacts/features")
    train.run(params, root / "artifacts/features", root / "artifacts/ingest/weeks.json", root / "models/model.joblib")
    served = root / "models/served"
    export.run(params, root / "models/model.joblib", root / "artifacts/ingest", served, root / "reports/export.json")
    evaluate.run(
        params,
        served_dir=served,
        ingest_dir=root / "artifacts/ingest",
        data_dvc=root / "data.dvc",
        quality_path=root / "reports/data_quality.json",
        reports_dir=root / "reports",
    )
    (served / "model_card.json").write_bytes((root / "reports/model_card.json").read_bytes())
    return served


@pytest.fixture(scope="session")
def served_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small trained, exported and evaluated model, shared by the session (treat it as read-only)."""
    return build_served_artifact(tmp_path_factory.mktemp("served-project"))
