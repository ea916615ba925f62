"""The monitoring tests' fixtures: the session's served model, the shipped monitor thresholds, a
reference profile and a quiet live window (built by tests/support/monitoring_reference.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_template.core.config import MonitorParams, parse_params
from mlops_template.model.artifact import ServedModel
from mlops_template.monitoring import reference_profile as profiles
from tests.support.monitoring_reference import SEED, build_reference, window
from tests.support.params import shipped_params_dict


@pytest.fixture(scope="session")
def served(served_dir: Path) -> ServedModel:
    return ServedModel.load(served_dir)


@pytest.fixture(scope="session")
def monitor_params() -> MonitorParams:
    """The shipped `monitor:` thresholds."""
    return parse_params(shipped_params_dict()).monitor


@pytest.fixture(scope="session")
def reference_profile(served: ServedModel, monitor_params: MonitorParams) -> profiles.Profile:
    return build_reference(served, monitor_params)


@pytest.fixture(scope="session")
def quiet_window_cached(served: ServedModel) -> pd.DataFrame:
    return window(served)


@pytest.fixture
def quiet_window(quiet_window_cached: pd.DataFrame) -> pd.DataFrame:
    """Two drift-free weeks after the reference, all labels arrived (a copy each test may change)."""
    return quiet_window_cached.copy()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(SEED)
