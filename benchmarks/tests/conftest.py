"""What the benchmarks' tests need, built from the package alone (they never import tests/): the shipped
params shrunk for speed, and for serve-parts the API in process over a small model trained here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from pydantic import SecretStr

from mlops_template.core.config import Params, parse_params
from mlops_template.data.sources import generate_history
from mlops_template.data.sources.simulated import generate_week
from mlops_template.serving.app import create_app
from mlops_template.serving.settings import ServingSettings
from mlops_template.tools.simulate.api import request_records

REPO = Path(__file__).resolve().parents[2]
API_KEY = "bench-tests-key-0123456789abcdef"


def _small_params() -> Params:
    """The shipped params, shrunk: a few hundred rows a week, a small model, no MLflow."""
    raw: dict[str, Any] = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    raw["source"].update(rows_per_week=600, fraud_rate=0.05, customers=500)
    raw["train"]["model"].update(max_iter=20)
    raw["tracking"]["enabled"] = False
    return parse_params(raw)


@pytest.fixture
def small_params() -> Params:
    return _small_params()


@pytest.fixture(scope="session")
def served_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model trained and exported as dvc.yaml lays it out (the served directory; read-only)."""
    from mlops_template.stages import export, featurize, ingest, train  # noqa: PLC0415

    params, root = _small_params(), tmp_path_factory.mktemp("served-project")
    generate_history(params, root / "data", weeks=5)
    ingest.run(params, root / "data", root / "artifacts/ingest", root / "reports/data_quality.json")
    featurize.run(params, root / "artifacts/ingest", root / "artifacts/features")
    train.run(params, root / "artifacts/features", root / "artifacts/ingest/weeks.json", root / "models/model.joblib")
    served = root / "models/served"
    export.run(params, root / "models/model.joblib", root / "artifacts/ingest", served, root / "reports/export.json")
    return served


@pytest.fixture
def settings(tmp_path: Path, served_dir: Path) -> ServingSettings:
    """The API's settings: the small model, one key, a prediction log in tmp_path."""
    return ServingSettings(
        model_dir=served_dir, api_keys=SecretStr(API_KEY), prediction_log=tmp_path / "predictions.sqlite3"
    )


@pytest.fixture
def client(settings: ServingSettings) -> Iterator[TestClient]:
    """The app in process (its lifespan runs), every request carrying the key."""
    with TestClient(create_app(settings), raise_server_exceptions=False, headers={"X-API-Key": API_KEY}) as test:
        yield test


@pytest.fixture
def record(small_params: Params) -> dict[str, Any]:
    """One simulated transaction as the API receives it."""
    rows = generate_week(small_params.source, 7, "2026-W40")
    return request_records(rows.head(1))[0]
