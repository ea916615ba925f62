"""A small model trained, exported and evaluated in process, laid out as dvc.yaml lays it out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops_template.core.config import parse_params
from mlops_template.data.sources import generate_history
from tests.support.params import small_params_dict


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
