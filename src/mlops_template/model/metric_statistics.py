"""Every metric of `model/metrics.py` as a bootstrap `Statistic` over weighted rows.

`model/statistics.py` defines the bootstrap and the gate's two statistics (average precision and
recall at the threshold); this module adds the others `evaluate` reports (ROC AUC, precision, F1, the
flagged share, the Brier score and the expected calibration error), in the same shape: a function of
a replicates x rows weight matrix, one value per replicate, the plain metric at unit weights (equal
to `metrics.classification_metrics` before its rounding). Precision and F1 are 0 where a replicate
flags no row, as `classification_metrics` says (`zero_division=0`), so a model that flags nothing
still has an interval.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mlops_template.model.statistics import Statistic, average_precision, recall

# The order every report lists them in, as `evaluate` does (flagged_share after the threshold metrics).
METRICS = (
    "roc_auc",
    "average_precision",
    "precision",
    "recall",
    "f1",
    "flagged_share",
    "brier",
    "calibration_error",
)
LOWER_IS_BETTER = frozenset({"brier", "calibration_error"})
NO_DIRECTION = frozenset({"flagged_share"})  # neither higher nor lower is better in itself


def _ratio(numerator: np.ndarray, denominator: np.ndarray, empty: float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), empty)


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> Statistic:
    """The area under the ROC curve: the weighted chance that a positive outscores a negative, ties
    counting one half (scikit-learn's value). NaN where a replicate lacks either class."""
    order = np.argsort(scores, kind="stable")
    positive = labels[order].astype(np.float64)
    ranked = scores[order]
    starts = np.flatnonzero(np.r_[True, np.diff(ranked) != 0])  # the first row of each tie group

    def statistic(weights: np.ndarray) -> np.ndarray:
        sorted_weights = weights[:, order].astype(np.float64)
        positives = np.add.reduceat(sorted_weights * positive, starts, axis=1)
        negatives = np.add.reduceat(sorted_weights * (1.0 - positive), starts, axis=1)
        below = np.cumsum(negatives, axis=1) - negatives  # negatives scored strictly lower
        pairs = np.sum(positives * (below + 0.5 * negatives), axis=1)
        total = positives.sum(axis=1) * negatives.sum(axis=1)
        return _ratio(pairs, total, np.nan)

    return statistic


def precision(labels: np.ndarray, flagged: np.ndarray) -> Statistic:
    """Weighted flagged positives over weighted flagged rows (0 where nothing is flagged)."""
    hits = (labels.astype(bool) & flagged.astype(bool)).astype(np.float64)
    marked = flagged.astype(np.float64)
    return lambda weights: _ratio(weights @ hits, weights @ marked, 0.0)


def f1(labels: np.ndarray, flagged: np.ndarray) -> Statistic:
    """2 x true positives over (flagged + positives): the harmonic mean of precision and recall (0 if none)."""
    hits = (labels.astype(bool) & flagged.astype(bool)).astype(np.float64)
    both = flagged.astype(np.float64) + labels.astype(np.float64)
    return lambda weights: _ratio(2.0 * (weights @ hits), weights @ both, 0.0)


def flagged_share(flagged: np.ndarray) -> Statistic:
    """The weighted share of rows flagged."""
    marked = flagged.astype(np.float64)
    return lambda weights: _ratio(weights @ marked, weights.sum(axis=1).astype(np.float64), np.nan)


def brier(labels: np.ndarray, scores: np.ndarray) -> Statistic:
    """The weighted mean squared difference between the probability and the label."""
    squared = (scores.astype(np.float64) - labels.astype(np.float64)) ** 2
    return lambda weights: _ratio(weights @ squared, weights.sum(axis=1).astype(np.float64), np.nan)


def calibration_bin(scores: np.ndarray, bins: int) -> np.ndarray:
    """Each score's equal-width probability bin, 0 ... bins - 1 (as `metrics.expected_calibration_error`)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    found: np.ndarray = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    return found


def calibration_error(labels: np.ndarray, scores: np.ndarray, bins: int) -> Statistic:
    """Expected calibration error: sum over bins of |weighted positives - weighted probabilities|, over
    the total weight (the bins' weighted mean of |observed rate - mean probability|)."""
    members = np.eye(bins)[calibration_bin(scores, bins)]  # rows x bins, one 1 per row
    observed = members * labels.astype(np.float64)[:, None]
    expected = members * scores.astype(np.float64)[:, None]

    def statistic(weights: np.ndarray) -> np.ndarray:
        gaps: np.ndarray = np.abs(weights @ observed - weights @ expected).sum(axis=1)
        return _ratio(gaps, weights.sum(axis=1).astype(np.float64), np.nan)

    return statistic


def classification_statistics(
    labels: np.ndarray, scores: np.ndarray, threshold: float, bins: int
) -> Mapping[str, Statistic]:
    """Every metric of `METRICS` for one model's scores at its own threshold."""
    flagged = scores >= threshold
    return {
        "roc_auc": roc_auc(labels, scores),
        "average_precision": average_precision(labels, scores),
        "precision": precision(labels, flagged),
        "recall": recall(labels, flagged),
        "f1": f1(labels, flagged),
        "flagged_share": flagged_share(flagged),
        "brier": brier(labels, scores),
        "calibration_error": calibration_error(labels, scores, bins),
    }
