"""What the benchmarks' tests need: the shipped params shrunk for speed, and for serve-parts the API in
process over a small model. The benchmarks import only the package; their tests use tests/support/ like
every other test (and no test imports a benchmark but these, which test the benchmarks' bookkeeping)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from mlops_template.core.config import Params, parse_params
from mlops_template.data.sources.simulated import generate_week
from mlops_template.serving.app import create_app
from mlops_template.serving.settings import ServingSettings
from mlops_template.tools.simulate.api import request_records
from tests.support.params import small_params_dict
from tests.support.served_model import build_served_artifact

API_KEY = "bench-tests-key-0123456789abcdef"


@pytest.fixture
def small_params() -> Params:
    return parse_params(small_params_dict())


@pytest.fixture(scope="session")
def served_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model trained and exported as dvc.yaml lays it out (the served directory; read-only)."""
    return build_served_artifact(tmp_path_factory.mktemp("served-project"))


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
