"""How a change moved each slice: two models on the same rows, per slice, with paired intervals.

A slice is a value of a column of `evaluate.slices` (at least `min_rows` rows, as in
reports/slices.json). For each slice and metric (average precision, recall at each model's own
threshold), the difference candidate - champion gets a paired bootstrap percentile interval: one
resample of ALL rows per replicate, applied to both models, each metric computed on the slice's rows
of the resample (the project's one bootstrap, model/statistics.py).

A change is called `better` or `worse` only when the slice holds at least `min_positives` positives
AND the interval excludes zero; everything else is `within noise` (with the reason). A slice of 4
positives whose average precision "fell by 0.20" is one case moving in the ranking, not a regression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlops_template.model.statistics import Statistic, average_precision, bootstrap, estimate, recall

METRICS = ("average_precision", "recall")
BETTER, WORSE, NOISE = "better", "worse", "within noise"


@dataclass(frozen=True)
class Scored:
    """One model's scores on the rows, and its threshold."""

    scores: np.ndarray
    threshold: float


def _within(members: np.ndarray, statistic: Statistic) -> Statistic:
    """`statistic` (built on the slice's rows) over the slice's columns of a weight matrix of all rows."""
    return lambda weights: statistic(weights[:, members])


def _statistics(labels: np.ndarray, model: Scored, members: np.ndarray) -> dict[str, Statistic]:
    y, scores = labels[members], model.scores[members]
    return {
        "average_precision": _within(members, average_precision(y, scores)),
        "recall": _within(members, recall(y, scores >= model.threshold)),
    }


def _slices(frame: pd.DataFrame, columns: Sequence[str], min_rows: int) -> list[tuple[str, str, np.ndarray]]:
    """(column, value, row indices) of every slice with at least `min_rows` rows (missing: `missing`)."""
    found = []
    for column in columns:
        values = frame[column].astype(object).where(frame[column].notna(), "missing").astype(str).to_numpy()
        for value in sorted(set(values.tolist())):
            members = np.flatnonzero(values == value)
            if len(members) >= min_rows:
                found.append((column, value, members))
    return found


def slice_changes(
    frame: pd.DataFrame,
    labels: np.ndarray,
    models: Mapping[str, Scored],
    columns: Sequence[str],
    *,
    min_rows: int,
    min_positives: int,
    resamples: int,
    confidence: float,
    seed: int,
) -> list[dict[str, Any]]:
    """Per slice and metric: each model's value, the paired difference (second model - first) with its
    interval, and the verdict. `models` holds exactly two models: the reference first (the champion)."""
    (first, reference), (second, other) = models.items()
    labels = np.asarray(labels).astype(np.int64)
    slices = _slices(frame, columns, min_rows)
    statistics: dict[tuple[str, str, str, str], Statistic] = {}
    for column, value, members in slices:
        for side, model in ((first, reference), (second, other)):
            for metric, statistic in _statistics(labels, model, members).items():
                statistics[column, value, metric, side] = statistic
    drawn = bootstrap(len(labels), statistics, resamples, seed) if slices else {}
    tail = (1.0 - confidence) / 2.0
    found = []
    for column, value, members in slices:
        positives = int(labels[members].sum())
        for metric in METRICS:
            before = estimate(statistics[column, value, metric, first], len(labels))
            after = estimate(statistics[column, value, metric, second], len(labels))
            change = drawn[column, value, metric, second] - drawn[column, value, metric, first]
            change = change[np.isfinite(change)]
            entry: dict[str, Any] = {
                "slice": f"{column}={value}",
                "metric": metric,
                "rows": len(members),
                "positives": positives,
                first: None if np.isnan(before) else round(before, 6),
                second: None if np.isnan(after) else round(after, 6),
                "difference": None,
            }
            if change.size and np.isfinite(before) and np.isfinite(after):
                low, high = (float(bound) for bound in np.quantile(change, [tail, 1.0 - tail]))
                point = after - before
                entry["difference"] = {
                    "value": round(point, 6) + 0.0,
                    "low": round(min(low, point), 6) + 0.0,
                    "high": round(max(high, point), 6) + 0.0,
                }
            entry["verdict"], entry["why"] = _verdict(entry["difference"], positives, min_positives)
            found.append(entry)
    return found


def _verdict(difference: Mapping[str, float] | None, positives: int, min_positives: int) -> tuple[str, str]:
    if positives < min_positives:
        return NOISE, f"{positives} positives, fewer than {min_positives}"
    if difference is None:
        return NOISE, "undefined on these rows"
    if difference["low"] > 0:
        return BETTER, "interval above zero"
    if difference["high"] < 0:
        return WORSE, "interval below zero"
    return NOISE, "interval includes zero"
