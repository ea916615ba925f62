"""The statistics the detectors use: pure functions of counts and arrays (scipy for the tests).

Distributions are compared on bins fixed by the reference (quantiles of the held-out weeks): the
population stability index gives the size of a shift, a chi-square test of homogeneity on the same
2 x k table gives its significance. A detector needs both (see detectors.py).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

PSI_FLOOR = 1e-4  # the least share a bin counts with, so an empty bin gives a finite index
BOOTSTRAP_CHUNK = 100  # replicates drawn at a time (memory: chunk x rows weights)


def bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value: 0 for values <= edges[0], i for edges[i-1] < v <= edges[i], len(edges) above."""
    return np.searchsorted(edges, values, side="left")


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of finite `values` in the len(edges) + 1 bins that `edges` define."""
    finite = values[np.isfinite(values)]
    return np.bincount(bin_index(finite, edges), minlength=len(edges) + 1).astype(np.int64)


def quantile_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the 1/bins ... (bins-1)/bins quantiles of the finite values, ties merged."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.empty(0, dtype=np.float64)
    inner = np.quantile(finite, np.linspace(0.0, 1.0, bins + 1)[1:-1], method="inverted_cdf")
    return np.unique(np.asarray(inner, dtype=np.float64))


def psi(reference: np.ndarray, live: np.ndarray) -> float:
    """Population stability index of two count vectors over the same bins: sum (p - q) ln(p / q).

    Symmetric and never negative (each term is); exactly 0 when the proportions are equal. A share
    floor keeps it finite when a bin is empty on one side.
    """
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(live, dtype=np.float64)
    p = np.maximum(ref / max(ref.sum(), 1.0), PSI_FLOOR)
    q = np.maximum(cur / max(cur.sum(), 1.0), PSI_FLOOR)
    return float(np.sum((p - q) * np.log(p / q)))


def homogeneity_p_value(reference: np.ndarray, live: np.ndarray) -> float:
    """p-value of the chi-square test that both count vectors come from one distribution."""
    table = np.vstack([np.asarray(reference, dtype=np.float64), np.asarray(live, dtype=np.float64)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():  # noqa: PLR2004 - at least two bins to compare
        return 1.0
    result = stats.chi2_contingency(table, correction=False)
    return float(result.pvalue)


def two_proportion_p_value(
    hits_a: int, total_a: int, hits_b: int, total_b: int, alternative: str = "two-sided"
) -> float:
    """Fisher's exact test of hits_a/total_a against hits_b/total_b ('less': a's rate is below b's)."""
    table = [[hits_a, total_a - hits_a], [hits_b, total_b - hits_b]]
    return float(stats.fisher_exact(table, alternative=alternative).pvalue)


def wilson_interval(hits: int, total: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (contains hits/total; (0, 1) when total is 0)."""
    if total == 0:
        return 0.0, 1.0
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    share = hits / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, min(centre - half, share)), min(1.0, max(centre + half, share))


def calibration_p_value(labels: np.ndarray, scores: np.ndarray) -> float:
    """Two-sided p-value that the observed positives match the scores (normal approximation).

    Under calibration the count of positives is a sum of Bernoulli(score) draws: mean sum(scores),
    variance sum(score * (1 - score)).
    """
    variance = float(np.sum(scores * (1.0 - scores)))
    if variance <= 0:
        return 1.0
    z = (float(labels.sum()) - float(scores.sum())) / math.sqrt(variance)
    return float(2 * stats.norm.sf(abs(z)))


def weighted_average_precision(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average precision (scikit-learn's definition, ties grouped) for each row of `weights`.

    `weights` is (resamples, rows): bootstrap counts give bootstrap replicates in one vectorised pass;
    a row of ones gives the plain average precision. NaN where a row has no weighted positive.
    """
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order].astype(np.float64)
    w = np.atleast_2d(weights)[:, order].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, np.diff(sorted_scores) != 0])  # one threshold per distinct score
    tp = np.cumsum(np.add.reduceat(w * sorted_labels, starts, axis=1), axis=1)
    fp = np.cumsum(np.add.reduceat(w * (1.0 - sorted_labels), starts, axis=1), axis=1)
    positives = tp[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = tp / positives
    steps = np.diff(np.hstack([np.zeros((len(w), 1)), recall]), axis=1)
    found = np.sum(steps * precision, axis=1)
    return np.where(positives[:, 0] > 0, found, np.nan)


def bootstrap_average_precision(
    labels: np.ndarray, scores: np.ndarray, resamples: int, seed: int
) -> tuple[float, np.ndarray]:
    """The average precision and `resamples` bootstrap replicates of it (rows drawn with replacement)."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    point = float(weighted_average_precision(labels, scores, np.ones((1, n)))[0])
    chunks = [
        weighted_average_precision(labels, scores, rng.multinomial(n, np.full(n, 1.0 / n), size=size))
        for size in np.diff(np.r_[0:resamples:BOOTSTRAP_CHUNK, resamples])
    ]
    replicates = np.concatenate(chunks) if chunks else np.empty(0)
    return point, replicates[np.isfinite(replicates)]
