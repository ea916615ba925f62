"""The scoreboard of `mlops-template compare`: models scored on the same rows, side by side, as data.

For every model: each metric of `evaluate` with its bootstrap interval, and the paired-bootstrap
interval of its difference against the first REF (one resample of rows applied to every model, the
project's one bootstrap in `model/statistics.py`, as the gate uses it). Per slice (`evaluate.slices`):
each model's metrics and the paired difference in average precision and recall against the first REF,
judged by `model/slice_changes.py`, the rule the gate's evidence and the PR report use: one resample of
all rows, the slice taken from it, and better or worse only for a slice of `gate.slices.min_positives`
positives or more (fewer: within noise, "too few positives to judge"). Per group (`evaluate.fairness`):
the fairness audit's rates and gaps for every model (`model/fairness.py`) with the paired change of
each gap. The rows where the models disagree most, with their inputs. ROC, precision-recall and
reliability curves per model, to overlay.

A difference is called better or worse only when its interval excludes zero (and, per slice, the slice
has enough positives); otherwise it is within noise. Everything is rounded as the reports round, so the
same inputs give the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from mlops_template.core.config import FairnessParams, Params
from mlops_template.data import schema
from mlops_template.experiments.compare.scoring import Scored
from mlops_template.model import fairness, slice_changes
from mlops_template.model.features import input_columns
from mlops_template.model.metric_statistics import LOWER_IS_BETTER, NO_DIRECTION, classification_statistics
from mlops_template.model.metrics import DIGITS, calibration_points, precision_recall_points, roc_points, slice_metrics
from mlops_template.model.statistics import Interval, paired_bootstrap

WITHIN_NOISE = "within noise"
IDENTICAL = "identical"


@dataclass(frozen=True)
class BoardSettings:
    """How the scoreboard is computed: the gate's bootstrap, evaluate's bins, curves and slices."""

    resamples: int
    confidence: float
    seed: int
    bins: int
    curve_points: int
    slices: tuple[str, ...]
    min_slice_rows: int
    slice_min_positives: int  # gate.slices.min_positives: fewer positives, a slice's change is within noise
    disagreements: int
    fairness: FairnessParams

    @classmethod
    def from_params(cls, params: Params, disagreements: int) -> BoardSettings:
        return cls(
            resamples=params.gate.resamples,
            confidence=params.gate.confidence,
            seed=params.gate.seed,
            bins=params.evaluate.calibration_bins,
            curve_points=params.evaluate.curve_points,
            slices=tuple(params.evaluate.slices),
            min_slice_rows=params.evaluate.min_slice_rows,
            slice_min_positives=params.gate.slices.min_positives,
            disagreements=disagreements,
            fairness=params.evaluate.fairness,
        )


def verdict(metric: str, interval: Interval) -> str:
    """better | worse | higher | lower | within noise | identical: only an interval that excludes zero
    says a direction (identical: the two models agree on every resample)."""
    if interval.low == interval.high == interval.value == 0:
        return IDENTICAL
    if interval.low <= 0 <= interval.high:
        return WITHIN_NOISE
    up = interval.low > 0
    if metric in NO_DIRECTION:
        return "higher" if up else "lower"
    return "better" if up != (metric in LOWER_IS_BETTER) else "worse"


def _difference(metric: str, interval: Interval) -> dict[str, Any]:
    return {**interval.as_dict(), "verdict": verdict(metric, interval)}


def _metrics(models: Sequence[Scored], labels: np.ndarray, settings: BoardSettings) -> list[dict[str, Any]]:
    rows = len(labels)
    statistics = [classification_statistics(labels, model.scores, model.cut, settings.bins) for model in models]
    own: dict[str, dict[str, Interval]] = {}
    differences: dict[str, dict[str, Interval] | None] = {models[0].ref: None}
    if len(models) == 1:
        own[models[0].ref] = paired_bootstrap(
            rows, statistics[0], None, resamples=settings.resamples, confidence=settings.confidence, seed=settings.seed
        ).candidate
    for model, found in zip(models[1:], statistics[1:], strict=True):
        # Each pair draws the same resamples (same rows, same seed): one bootstrap for all models.
        result = paired_bootstrap(
            rows, found, statistics[0], resamples=settings.resamples, confidence=settings.confidence, seed=settings.seed
        )
        own[model.ref], differences[model.ref] = result.candidate, result.difference
        own[models[0].ref] = result.champion or {}
    board = []
    for model in models:
        difference = differences[model.ref]
        board.append(
            {
                "ref": model.ref,
                "kind": model.kind,
                "source": model.source,
                "version": model.version,
                "threshold": model.threshold,
                "metrics": {name: interval.as_dict() for name, interval in own[model.ref].items()},
                "difference": None if difference is None else {n: _difference(n, i) for n, i in difference.items()},
            }
        )
    return board


def _slice_differences(
    models: Sequence[Scored], frame: pd.DataFrame, labels: np.ndarray, settings: BoardSettings
) -> dict[str, dict[tuple[str, str], dict[str, Any]]]:
    """Per model after the first, per (column, value): each slice metric's paired difference against the
    first model with the verdict and its reason, exactly as `model/slice_changes.py` gives them."""
    reference, found = models[0], {}
    for model in models[1:]:
        changes = slice_changes.slice_changes(
            frame,
            labels,
            {
                "reference": slice_changes.Scored(reference.scores, reference.cut),
                "model": slice_changes.Scored(model.scores, model.cut),
            },
            settings.slices,
            min_rows=settings.min_slice_rows,
            min_positives=settings.slice_min_positives,
            resamples=settings.resamples,
            confidence=settings.confidence,
            seed=settings.seed,
        )
        per_slice: dict[tuple[str, str], dict[str, Any]] = {}
        for change in changes:
            column, value = change["slice"].split("=", 1)
            interval = change["difference"] or dict.fromkeys(("value", "low", "high"))
            per_slice.setdefault((column, value), {})[change["metric"]] = {
                **interval,
                "verdict": change["verdict"],
                "why": change["why"],
            }
        found[model.ref] = per_slice
    return found


def _slices(
    models: Sequence[Scored], rows: pd.DataFrame, labels: np.ndarray, settings: BoardSettings
) -> dict[str, Any]:
    if not settings.slices:
        return {}
    frame = rows[list(settings.slices)]
    per_model = {
        model.ref: slice_metrics(
            frame, labels, model.scores, threshold=model.cut, bins=settings.bins, min_rows=settings.min_slice_rows
        )
        for model in models
    }
    differences = _slice_differences(models, frame, labels, settings)
    found: dict[str, Any] = {}
    for column in settings.slices:
        first = per_model[models[0].ref][column]
        found[column] = {}
        for value, measured in first.items():
            found[column][value] = {
                "rows": measured["rows"],
                "positives": measured["positives"],
                "judged": int(measured["positives"] or 0) >= settings.slice_min_positives,
                "models": {
                    model.ref: {
                        k: v for k, v in per_model[model.ref][column][value].items() if k not in {"rows", "positives"}
                    }
                    for model in models
                },
                "difference": {model.ref: differences[model.ref][column, value] for model in models[1:]},
            }
    return found


def _groups(
    models: Sequence[Scored], rows: pd.DataFrame, labels: np.ndarray, settings: BoardSettings
) -> dict[str, Any]:
    """The fairness audit's per-group metrics and gaps for every model (`model/fairness.py`, on the groups
    of `evaluate.fairness`), with each gap's paired difference against the first model. The baseline is
    left out: it flags no row, so every rate but precision is 0 and no gap is defined."""
    audited = [model for model in models if model.threshold is not None]
    if not settings.fairness.groups or not audited:
        return {}
    found = fairness.audit(
        labels,
        {model.ref: model.flagged for model in audited},
        fairness.groupings(rows, settings.fairness.groups),
        settings.fairness,
        seed=settings.seed,
        positive=schema.POSITIVE_CLASS,
        resamples=settings.resamples,
        confidence=settings.confidence,
    )
    board: dict[str, Any] = {}
    for spec in settings.fairness.groups:
        column = spec.column
        board[column] = {
            "models": {ref: per_column[column].as_json() for ref, per_column in found.models.items()},
            "difference": {
                ref: {gap: None if interval is None else interval.as_dict() for gap, interval in gaps[column].items()}
                for ref, gaps in found.differences.items()
            },
        }
    return board


def _plain(value: Any) -> Any:
    """A cell as JSON: numbers rounded, missing as null, times in ISO 8601."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float):
        return round(value, DIGITS)
    return value


def _disagreements(
    models: Sequence[Scored], rows: pd.DataFrame, labels: np.ndarray, count: int
) -> list[dict[str, Any]]:
    """The `count` rows whose probabilities spread most across the models (the baseline left out when
    two models or more remain: its one probability says nothing about a row), ties by row id; rows
    every model scores alike are left out."""
    judged = [model for model in models if model.threshold is not None]
    judged = judged if len(judged) >= 2 else list(models)  # noqa: PLR2004 - a spread needs two
    if len(judged) < 2 or count == 0:  # noqa: PLR2004
        return []
    probabilities = np.vstack([model.scores for model in judged])
    spread = probabilities.max(axis=0) - probabilities.min(axis=0)
    ids = rows[schema.ID].astype(str).to_numpy()
    order = [i for i in np.lexsort((ids, -np.round(spread, DIGITS))) if round(float(spread[i]), DIGITS) > 0][:count]
    classes = (schema.NEGATIVE_CLASS, schema.POSITIVE_CLASS)
    inputs = list(input_columns(schema.active()))
    found = []
    for index in order:
        row = rows.iloc[int(index)]
        found.append(
            {
                "id": ids[index],
                "spread": round(float(spread[index]), DIGITS),
                "true": classes[int(labels[index])],
                "models": {
                    model.ref: {
                        "probability": round(float(model.scores[index]), DIGITS),
                        "label": classes[int(model.flagged[index])],
                    }
                    for model in models
                },
                "inputs": {name: _plain(row[name]) for name in inputs},
            }
        )
    return found


def _pairs(frame: pd.DataFrame, x: str, y: str) -> list[list[float]]:
    return [[float(a), float(b)] for a, b in zip(frame[x], frame[y], strict=True)]


def _curves(models: Sequence[Scored], labels: np.ndarray, settings: BoardSettings) -> dict[str, dict[str, Any]]:
    return {
        "roc": {m.ref: _pairs(roc_points(labels, m.scores, settings.curve_points), "fpr", "tpr") for m in models},
        "precision_recall": {
            m.ref: _pairs(precision_recall_points(labels, m.scores, settings.curve_points), "recall", "precision")
            for m in models
        },
        "calibration": {
            m.ref: _pairs(calibration_points(labels, m.scores, settings.bins), "mean_predicted", "fraction_positive")
            for m in models
        },
    }


def build(
    models: Sequence[Scored], rows: pd.DataFrame, weeks: Sequence[str], settings: BoardSettings
) -> dict[str, Any]:
    """The scoreboard as a JSON-ready dict (the shape of compare.json)."""
    labels = rows[schema.LABEL].to_numpy(dtype=int)
    return {
        "rows": {
            "rows": len(labels),
            "positives": int(labels.sum()),
            "weeks": list(weeks),
            "row_noun": schema.ROW_NOUN,
            "positive_class": schema.POSITIVE_CLASS,
            "negative_class": schema.NEGATIVE_CLASS,
        },
        "bootstrap": {"resamples": settings.resamples, "confidence": settings.confidence, "seed": settings.seed},
        "slice_min_positives": settings.slice_min_positives,
        "reference": models[0].ref,
        "models": _metrics(models, labels, settings),
        "slices": _slices(models, rows, labels, settings),
        "groups": _groups(models, rows, labels, settings),
        "disagreements": _disagreements(models, rows, labels, settings.disagreements),
        "curves": _curves(models, labels, settings),
    }
