"""The statistics the gate and the monitor share: pure functions of labels, scores, counts and arrays.

Metrics over weighted rows. A `Statistic` maps a weight matrix (replicates x rows: how often each row
is drawn in a resample) to one value per replicate, and unit weights give the plain estimate. Weights,
not index arrays, keep a bootstrap vectorised: the rows are sorted once, a resample only reweights them.

The bootstrap draws each resample as multinomial counts (rows drawn with replacement), a chunk of
replicates at a time, and reads percentile intervals off the replicates. The gate's paired bootstrap
applies each resample to both models, so the interval of their difference leaves out the sampling
noise they share.

The monitor's tests compare distributions on bins fixed by the reference (quantiles of the held-out
weeks): the population stability index gives the size of a shift, a chi-square test of homogeneity on
the same 2 x k table gives its significance (a detector needs both, see monitoring/detectors.py);
Fisher's exact test, Wilson's interval and a calibration test judge proportions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from scipy import stats

from mlops_template.core.errors import MlopsTemplateError
from mlops_template.model.proportions import wilson_interval as wilson_interval  # noqa: PLC0414 (re-exported: one interval)

DIGITS = 6  # an interval's digits in a file: stable bytes across platforms
BOOTSTRAP_CHUNK = 100  # replicates drawn at a time (memory: chunk x rows weights)
MIN_DEFINED_SHARE = 0.95  # of the paired bootstrap's replicates with every statistic defined
PSI_FLOOR = 1e-4  # the least share a bin counts with, so an empty bin gives a finite index

Statistic = Callable[[np.ndarray], np.ndarray]
Key = TypeVar("Key", bound=Hashable)


class BootstrapError(MlopsTemplateError):
    """The rows cannot be bootstrapped: none, too few positives, or a metric undefined on them."""


def _classes() -> tuple[str, str]:
    """The task's class names (positive, negative) for messages, from the contract."""
    from mlops_template.data import schema  # noqa: PLC0415 - pandas/pandera, only when a message needs them

    return schema.POSITIVE_CLASS, schema.NEGATIVE_CLASS


# --- metrics over weighted rows ----------------------------------------------------------------------


def average_precision(labels: np.ndarray, scores: np.ndarray) -> Statistic:
    """Average precision as scikit-learn defines it (sum of recall steps x precision), with row weights.

    Tied scores form one threshold, so the order of tied rows does not matter; a replicate's value does
    not depend on the others in `weights` (no chunk size moves a bit). NaN where it has no weighted positive.
    """
    order = np.argsort(-scores, kind="stable")
    positive = labels[order].astype(np.float64)
    ranked = scores[order]
    starts = np.flatnonzero(np.r_[True, np.diff(ranked) != 0])  # the first row of each tie group

    def statistic(weights: np.ndarray) -> np.ndarray:
        sorted_weights = weights[:, order].astype(np.float64)
        true_positives = np.cumsum(np.add.reduceat(sorted_weights * positive, starts, axis=1), axis=1)
        flagged = np.cumsum(np.add.reduceat(sorted_weights, starts, axis=1), axis=1)
        total = true_positives[:, -1:]
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(flagged > 0, true_positives / flagged, 0.0)
            recall = true_positives / total
        steps = np.diff(recall, axis=1, prepend=0.0)
        found: np.ndarray = np.sum(steps * precision, axis=1)
        return np.where(total[:, 0] > 0, found, np.nan)

    return statistic


def recall(labels: np.ndarray, flagged: np.ndarray) -> Statistic:
    """Recall: weighted flagged positives over weighted positives (NaN when a replicate has none)."""
    positives = labels.astype(np.float64)
    hits = (labels.astype(bool) & flagged.astype(bool)).astype(np.float64)

    def statistic(weights: np.ndarray) -> np.ndarray:
        total = weights @ positives
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, (weights @ hits) / np.where(total > 0, total, 1.0), np.nan)

    return statistic


def estimate(statistic: Statistic, rows: int) -> float:
    """The statistic on the rows themselves (each row once)."""
    return float(statistic(np.ones((1, rows)))[0])


# --- the bootstrap ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap percentile interval."""

    value: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        """Rounded, so that files holding an interval are stable."""
        return {"value": round(self.value, DIGITS), "low": round(self.low, DIGITS), "high": round(self.high, DIGITS)}


@dataclass(frozen=True)
class Bootstrap:
    """The paired bootstrap's intervals by statistic: each model's, and candidate - champion."""

    candidate: dict[str, Interval]
    champion: dict[str, Interval] | None
    difference: dict[str, Interval] | None
    replicates: int  # replicates where every statistic was defined


def resample_weights(rows: int, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """`replicates` x `rows` counts: how often each row is drawn in a resample of `rows` rows."""
    return rng.multinomial(rows, np.full(rows, 1.0 / rows), size=replicates)


def bootstrap(rows: int, statistics: Mapping[Key, Statistic], resamples: int, seed: int) -> dict[Key, np.ndarray]:
    """`resamples` replicates of every statistic, each resample applied to all of them (NaN kept)."""
    rng = np.random.default_rng(seed)
    drawn: dict[Key, list[np.ndarray]] = {key: [np.empty(0)] for key in statistics}
    for size in np.diff(np.r_[0:resamples:BOOTSTRAP_CHUNK, resamples]):
        weights = resample_weights(rows, int(size), rng)
        for key, statistic in statistics.items():
            drawn[key].append(statistic(weights))
    return {key: np.concatenate(parts) for key, parts in drawn.items()}


def percentile_interval(point: float, replicates: np.ndarray, confidence: float) -> Interval:
    """The bootstrap percentile interval around `point` (bounds ordered)."""
    tail = (1.0 - confidence) / 2.0
    low, high = (float(bound) for bound in np.quantile(replicates, [tail, 1.0 - tail]))
    return Interval(float(point), min(low, high), max(low, high))


def bootstrap_average_precision(
    labels: np.ndarray, scores: np.ndarray, resamples: int, seed: int
) -> tuple[float, np.ndarray]:
    """The average precision and its bootstrap replicates (those of resamples holding a positive)."""
    statistic = average_precision(labels, scores)
    replicates = bootstrap(len(labels), {"average_precision": statistic}, resamples, seed)["average_precision"]
    return estimate(statistic, len(labels)), replicates[np.isfinite(replicates)]


def paired_bootstrap(
    rows: int,
    candidate: Mapping[str, Statistic],
    champion: Mapping[str, Statistic] | None,
    *,
    resamples: int,
    confidence: float,
    seed: int,
) -> Bootstrap:
    """Percentile intervals of each statistic and, with a champion, of candidate - champion.

    Every replicate applies the same resample of rows to both models. Replicates where a statistic is
    undefined (a resample without positives) are dropped; if more than 5% are (fewer than ~3 positives),
    the rows are too few to compare models.
    """
    if rows < 1:
        msg = "rows: the gate needs at least one row to compare models"
        raise BootstrapError(msg)
    names = sorted(candidate)
    if champion is not None and sorted(champion) != names:
        msg = f"champion statistics {sorted(champion)} differ from the candidate's {names}"
        raise BootstrapError(msg)
    sides = {"candidate": candidate} if champion is None else {"candidate": candidate, "champion": champion}
    statistics = {(side, name): sides[side][name] for side in sides for name in names}
    replicates = bootstrap(rows, statistics, resamples, seed)
    defined = np.logical_and.reduce([np.isfinite(values) for values in replicates.values()])
    if defined.sum() < MIN_DEFINED_SHARE * resamples:
        msg = (
            f"rows: only {int(defined.sum())} of {resamples} bootstrap resamples hold a positive; "
            f"the test rows hold too few {_classes()[0]} cases to compare models"
        )
        raise BootstrapError(msg)
    point = {key: estimate(statistic, rows) for key, statistic in statistics.items()}
    if not np.isfinite(list(point.values())).all():
        positive, negative = _classes()
        msg = f"rows: the test rows must hold both classes ({positive} and {negative}) to measure the models"
        raise BootstrapError(msg)

    def intervals(side: str) -> dict[str, Interval]:
        return {
            name: percentile_interval(point[side, name], replicates[side, name][defined], confidence) for name in names
        }

    difference = None
    if champion is not None:
        difference = {
            name: percentile_interval(
                point["candidate", name] - point["champion", name],
                (replicates["candidate", name] - replicates["champion", name])[defined],
                confidence,
            )
            for name in names
        }
    return Bootstrap(
        candidate=intervals("candidate"),
        champion=intervals("champion") if champion is not None else None,
        difference=difference,
        replicates=int(defined.sum()),
    )


# --- the monitor's tests -----------------------------------------------------------------------------------


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
