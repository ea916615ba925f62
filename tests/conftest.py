"""Shared fixtures (small params, small simulated data, a small served model) and the markers' rule.

Helpers a test imports live in tests/support/ (params.py: the shipped and small params); this file
holds only fixtures and hooks.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlops_template.core.config import Params, parse_params
from mlops_template.data.sources import generate_history
from mlops_template.data.sources.simulated import generate_week
from tests.support.markers import NEEDS_MARKERS
from tests.support.params import small_params_dict
from tests.support.served_model import build_served_artifact


@pytest.hookimpl(tryfirst=True)  # before -m deselects: the added `slow` must count
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs DVC, a server, Docker, act or an install is slow too (tests/support/markers.py)."""
    for item in items:
        if any(item.get_closest_marker(name) for name in NEEDS_MARKERS) and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


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


@pytest.fixture(scope="session")
def served_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small trained, exported and evaluated model, shared by the session (treat it as read-only)."""
    return build_served_artifact(tmp_path_factory.mktemp("served-project"))
