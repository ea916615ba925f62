"""Prediction-log windows in memory: `log_frame` builds one from scored rows (mlops_template.monitoring.simulated_log,
shared with benchmarks/bench_monitor.py), `read_frame` reads it as `read_window` reads a real log."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from mlops_template.monitoring.simulated_log import log_frame

__all__ = ["log_frame", "read_frame"]


def read_frame(frame: pd.DataFrame) -> Callable[[str, object, object], pd.DataFrame]:
    """A reader with `read_window`'s signature over an in-memory window (start inclusive, end exclusive)."""

    def read(source: str, start: object, end: object) -> pd.DataFrame:
        keep = (frame["ts"] >= pd.Timestamp(start)) & (frame["ts"] < pd.Timestamp(end))  # type: ignore[arg-type]
        return frame[keep].reset_index(drop=True)

    return read
