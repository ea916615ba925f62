"""Pure metric computations for a binary classifier with calibrated probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

DIGITS = 6  # metrics are rounded so that files are stable and diffs readable


def _round(value: float) -> float:
    return round(float(value), DIGITS)


def expected_calibration_error(y_true: np.ndarray, scores: np.ndarray, bins: int) -> float:
    """Weighted mean |observed rate - mean probability| over equal-width probability bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(y_true[members].mean() - scores[members].mean())
    return float(error)


def classification_metrics(
    y_true: np.ndarray, scores: np.ndarray, threshold: float, bins: int
) -> dict[str, float | None]:
    """Ranking, threshold and calibration quality. Undefined values (one class present) are None."""
    predicted = (scores >= threshold).astype(int)
    both = len(np.unique(y_true)) == 2  # noqa: PLR2004 - both classes
    precision = precision_score(y_true, predicted, zero_division=0)
    recall = recall_score(y_true, predicted, zero_division=0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {
        "roc_auc": _round(roc_auc_score(y_true, scores)) if both else None,
        "average_precision": _round(average_precision_score(y_true, scores)) if both else None,
        "precision": _round(precision),
        "recall": _round(recall),
        "f1": _round(f1),
        "flagged_share": _round(predicted.mean()),
        "brier": _round(brier_score_loss(y_true, scores, pos_label=1)),
        "calibration_error": _round(expected_calibration_error(y_true, scores, bins)),
    }


def _thin(frame: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """Keep at most `max_points` rows, evenly spaced, always keeping the first and the last."""
    if len(frame) <= max_points:
        return frame.reset_index(drop=True)
    keep = np.unique(np.linspace(0, len(frame) - 1, max_points).round().astype(int))
    return frame.iloc[keep].reset_index(drop=True)


def roc_points(y_true: np.ndarray, scores: np.ndarray, max_points: int) -> pd.DataFrame:
    fpr, tpr, thresholds = roc_curve(y_true, scores)
    frame = pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.minimum(thresholds, 1.0)})
    return _thin(frame, max_points).round(DIGITS)


def precision_recall_points(y_true: np.ndarray, scores: np.ndarray, max_points: int) -> pd.DataFrame:
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    frame = pd.DataFrame({"recall": recall[:-1], "precision": precision[:-1], "threshold": thresholds})
    return _thin(frame, max_points).round(DIGITS)


def calibration_points(y_true: np.ndarray, scores: np.ndarray, bins: int) -> pd.DataFrame:
    """Reliability diagram: per non-empty bin, mean predicted probability and observed positive rate."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    frame = pd.DataFrame({"bin": which, "predicted": scores, "observed": y_true})
    table = frame.groupby("bin").agg(
        mean_predicted=("predicted", "mean"), fraction_positive=("observed", "mean"), rows=("observed", "size")
    )
    return table.reset_index().round(DIGITS)


def slice_metrics(
    slices: pd.DataFrame, y_true: np.ndarray, scores: np.ndarray, *, threshold: float, bins: int, min_rows: int
) -> dict[str, dict[str, dict[str, float | int | None]]]:
    """Metrics per value of each slicing column; values with fewer than `min_rows` rows are skipped."""
    out: dict[str, dict[str, dict[str, float | int | None]]] = {}
    for column in slices.columns:
        values = slices[column].astype(object).where(slices[column].notna(), "missing")
        per_value: dict[str, dict[str, float | int | None]] = {}
        for value in sorted(values.unique(), key=str):
            members = (values == value).to_numpy()
            if members.sum() < min_rows:
                continue
            found = classification_metrics(y_true[members], scores[members], threshold, bins)
            per_value[str(value)] = {
                "rows": int(members.sum()),
                "positives": int(y_true[members].sum()),
                **{k: found[k] for k in ("roc_auc", "average_precision", "precision", "recall")},
            }
        out[str(column)] = per_value
    return out
