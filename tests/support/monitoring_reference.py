"""The monitoring tests' weeks: a reference profile and live log windows from the small served model.

The reference is two held-out weeks scored by the real served artifact (as the profile stage does);
a live window is the next two weeks, all labels arrived, drift-free unless a scenario is named.
Seeds: 42 (the shipped one). `monitor_main` runs `mlops-template monitor` over such a window.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlops_template.core.config import MonitorParams, SimulatedSourceParams, parse_params
from mlops_template.data import schema
from mlops_template.data.sources.simulated import generate_week
from mlops_template.model.artifact import ServedModel
from mlops_template.model.scoring import served_scores
from mlops_template.monitoring import monitor, reference_profile
from tests.support.monitoring_windows import log_frame, read_frame
from tests.support.params import small_params_dict

REFERENCE_WEEKS = ("2026-W45", "2026-W46")
LIVE_WEEKS = ("2026-W47", "2026-W48")
START, END = "2026-11-16T00:00:00Z", "2026-11-30T00:00:00Z"  # LIVE_WEEKS' bounds
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


def build_reference(served: ServedModel, params: MonitorParams) -> reference_profile.Profile:
    """The profile stage's work on the two reference weeks, with `params`' trending inputs."""
    rows = weeks_rows(monitor_source(), REFERENCE_WEEKS)
    scores = served_scores(served, rows)
    labels = rows[schema.LABEL].to_numpy(dtype=int)
    return reference_profile.build(rows, labels, scores, served, params.profile, trending=params.drift.trending)


def window(served: ServedModel, scenario: str = "none", now: pd.Timestamp | None = None) -> pd.DataFrame:
    rows = weeks_rows(monitor_source(scenario), LIVE_WEEKS)
    return log_frame(rows, served_scores(served, rows), served, seed=SEED, now=now)


def monitor_main(frame: pd.DataFrame, profile_path: Path, params_path: Path, out: Path, *extra: str) -> int:
    """`mlops-template monitor` over `frame` (in memory), from START to END unless `extra` says otherwise."""
    argv = ["--log", "memory", "--profile", str(profile_path), "--out", str(out), "--params", str(params_path)]
    window_args = list(extra) if extra else ["--start", START, "--end", END]
    return monitor.main([*argv, *window_args], reader=read_frame(frame))
