"""The app in process (Starlette's TestClient runs its lifespan), over the session's small exported model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mlops_template.serving.app import create_app
from mlops_template.serving.settings import ServingSettings
from tests.support.api_server import VALID_RECORD
from tests.support.serving_settings import MakeSettings, serving_settings


@pytest.fixture
def make_settings(tmp_path: Path, served_dir: Path) -> MakeSettings:
    """Settings as the environment would give them, with a key, the test model and a log in tmp_path."""

    def make(**overrides: Any) -> ServingSettings:
        return serving_settings(served_dir, tmp_path / "predictions.sqlite3", **overrides)

    return make


@pytest.fixture
def app(make_settings: MakeSettings) -> FastAPI:
    return create_app(make_settings())


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def record() -> dict[str, Any]:
    return dict(VALID_RECORD)
