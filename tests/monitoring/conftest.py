"""A reference profile and log windows from the session's small served model and simulated weeks.

The reference is two held-out weeks scored by the real served artifact (as the profile stage does);
the quiet window is the next two weeks, drift-free, every label arrived. Seeds: 42 (the shipped one).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_template.core.config import MonitorParams, SimulatedSourceParams, parse_params
from mlops_template.data import schema
from mlops_template.data.sources.simulated import generate_week
from mlops_template.model.artifact import ServedModel
from mlops_template.model.scoring import served_scores
from mlops_template.monitoring import profile as profiles
from tests.conftest import shipped_params_dict, small_params_dict
from tests.support.monitoring_windows import log_frame

REFERENCE_WEEKS = ("2026-W45", "2026-W46")
LIVE_WEEKS = ("2026-W47", "2026-W48")
SEED = 42
ROWS_PER_WEEK = 3000


def monitor_source(scenario: str = "none", start_week: str = "2026-W47") -> SimulatedSourceParams:
    """The small test source (as the session model was trained on), at 3,000 rows a week."""
    raw = small_params_dict()
    raw["source"].update(rows_per_week=ROWS_PER_WEEK, drift={"scenario": scenario, "start_week": start_week})
    source = parse_params(raw).source
    assert isinstance(source, SimulatedSourceParams)
    return source


def weeks_rows(source: SimulatedSourceParams, weeks: tuple[str, ...]) -> pd.DataFrame:
    return pd.concat([generate_week(source, SEED, w) for w in weeks], ignore_index=True)


@pytest.fixture(scope="session")
def served(served_dir: Path) -> ServedModel:
    return ServedModel.load(served_dir)


@pytest.fixture(scope="session")
def monitor_params() -> MonitorParams:
    """The shipped `monitor:` thresholds."""
    return parse_params(shipped_params_dict()).monitor


def build_reference(served: ServedModel, params: MonitorParams) -> profiles.Profile:
    """The profile stage's work on the two reference weeks, with `params`' trending inputs."""
    rows = weeks_rows(monitor_source(), REFERENCE_WEEKS)
    scores = served_scores(served, rows)
    labels = rows[schema.LABEL].to_numpy(dtype=int)
    return profiles.build(rows, labels, scores, served, params.profile, trending=params.drift.trending)


@pytest.fixture(scope="session")
def reference_profile(served: ServedModel, monitor_params: MonitorParams) -> profiles.Profile:
    return build_reference(served, monitor_params)


def window(served: ServedModel, scenario: str = "none", now: pd.Timestamp | None = None) -> pd.DataFrame:
    rows = weeks_rows(monitor_source(scenario), LIVE_WEEKS)
    return log_frame(rows, served_scores(served, rows), served, seed=SEED, now=now)


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
