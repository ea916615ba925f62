"""The fairness audit: how the model's errors at its threshold fall on groups of people.

Groups are declared in params.yaml `evaluate.fairness.groups`: a column's values (a categorical
column, or any column with declared allowed values), or a numeric column cut into bands (`bands:
[30, 45, 60]` gives `< 30`, `[30, 45)`, `[45, 60)`, `>= 60`, and `missing` for a missing value). Per
group, at the threshold: the false positive rate, recall, flagged share, precision, rows and
positives, each with a bootstrap interval. A group with fewer than `min_rows` rows or `min_positives`
positives is too small to judge: it says so, with its counts, instead of giving rates.

The gaps, over the groups large enough to judge: recall and false positive rate (their larger one is
the equalized odds difference), each the highest group's rate minus the lowest's; and the
flagged-share ratio (lowest share over highest: 1 is parity, 0.8 the "four-fifths" rule of thumb).

A gap's interval is SIMULTANEOUS over the k(k-1)/2 pairs of judged groups (a max-statistic
bootstrap), because the two groups it names were picked as the extremes: the largest of several noisy
differences is inflated by selection, so the interval of that one pair alone (or any per-pair interval)
would put a fair model's lower bound above a small `max_gap` far more often than 1 - confidence. Per
resample, each judged group's rate error (resampled minus observed) is taken, and the largest error
among all pairwise differences, max over pairs |e_i - e_j| = max e - min e, is recorded; its
`confidence` quantile q bounds every pair's error at once, so the true largest gap (the largest over
all pairs, whichever they are) lies in [gap - q, gap + q] (clipped to [0, 1]) with `confidence`.
Equalized odds takes the larger of the recall and false positive rate errors per resample; the ratio
does the same on log shares (ratio * e^-q to ratio * e^q, at most 1). Why not Bonferroni (each pair at
1 - (1 - c)/m): it needs the far tail of each pair's replicates (2.5 of 1,000 resamples for 10 pairs at
95%), which is noisy, and it ignores that the pairs share groups, so it is wider than it needs to be; the
max statistic uses the bulk of one distribution and grows with m only as much as the data do.
A paired change (a model's gap minus the first model's, same resamples) has the same guarantee: the
gap is a seminorm N of the group rates (range, or the larger of two ranges), so the change's error is
at most min(N(e) + N(e_first), 2 N(observed rates - first's) + N(e - e_first)) per resample; its
quantile is the half-width. The second term is what pairing buys: two models that flag nearly the same
rows get a narrow interval, and a model against itself exactly zero. The ratio's change (a difference
of ratios) is bounded from the first model's log-range and the change of log-ranges, each at
1 - (1 - c)/2. Quantiles are taken at the next replicate up (conservative); resamples where a judged
group's rate is undefined are left out. The point estimates are unchanged (the observed extremes).

Where the numbers come from:
- Point estimates: fairlearn's `MetricFrame` (the library a fairness reviewer knows) per group, and
  `equalized_odds_difference` over the groups judged.
- Intervals: the project's one bootstrap (model/statistics.py), not `MetricFrame(n_boot=...)`.
  fairlearn resamples one model at a time and re-runs its group-by per resample (17 s for 200
  resamples of one column on the default test week), so it cannot give the PAIRED intervals the gate
  and `compare` need: the difference of two models' gaps on the same resample of rows. The project's
  bootstrap reweights rows (vectorised, under a second for 1,000 resamples) and applies each resample
  to every model at once, so one run gives each model's intervals and every paired difference.
  Percentile intervals are widened, when a skewed resample distribution leaves it out, to hold the
  point estimate.

The API (also used by the gate, the PR report and `compare`): `groupings(frame, specs)` turns the
declared groups into `Grouping`s; `audit(labels, {model: flagged}, groupings, settings, seed=...)`
returns an `Audit` with every model's per-group metrics and gaps and, for every model after the
first, the paired difference of each gap against the first; `Audit.as_json(model)` is the shape of
reports/fairness.json.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (  # type: ignore[import-untyped]
    MetricFrame,
    count,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import precision_score

from mlops_template.core.config import FairnessGrouping, FairnessParams
from mlops_template.model.statistics import Interval, Statistic, bootstrap, percentile_interval

MISSING = "missing"  # the group of rows whose column is missing
RATES = ("false_positive_rate", "recall", "flagged_share", "precision")  # per group, at the threshold
COUNTS = ("rows", "positives")
GAP_METRICS = ("recall", "false_positive_rate")  # equalized odds: highest minus lowest group
RATIO_METRIC = "flagged_share"  # demographic parity: lowest over highest group
GAPS = ("recall", "false_positive_rate", "equalized_odds", "flagged_share_ratio")
LOWER_IS_FAIRER = {"recall": True, "false_positive_rate": True, "equalized_odds": True, "flagged_share_ratio": False}

# A rate per group as (numerator, denominator) per row, from labels y and flags f (0/1 floats).
_PARTS: dict[str, Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray | None]]] = {
    "rows": lambda y, _: (np.ones_like(y), None),
    "positives": lambda y, _: (y, None),
    "false_positive_rate": lambda y, f: ((1 - y) * f, 1 - y),
    "recall": lambda y, f: (y * f, y),
    "flagged_share": lambda y, f: (f, np.ones_like(y)),
    "precision": lambda y, f: (y * f, f),
}


def _positives(y_true: np.ndarray, y_pred: np.ndarray) -> float:  # noqa: ARG001 - a MetricFrame metric's signature
    return float(np.sum(y_true))


# fairlearn's metric functions by our names (recall is its true positive rate, flagged share its selection rate).
FAIRLEARN_METRICS: dict[str, Callable[..., Any]] = {
    "false_positive_rate": false_positive_rate,
    "recall": true_positive_rate,
    "flagged_share": selection_rate,
    "precision": partial(precision_score, zero_division=np.nan),
    "rows": count,
    "positives": _positives,
}


# --- groups -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grouping:
    """The rows of one declared grouping: each row's group, as an index into `labels`."""

    column: str
    labels: tuple[str, ...]
    codes: np.ndarray = field(repr=False)
    bands: tuple[float, ...] | None = None

    def members(self) -> np.ndarray:
        """rows x groups, 1.0 where the row is in the group."""
        found: np.ndarray = (self.codes[:, None] == np.arange(len(self.labels))[None, :]).astype(np.float64)
        return found

    def names(self) -> pd.Series:
        """Each row's group name."""
        return pd.Series(np.asarray(self.labels, dtype=object)[self.codes], name=self.column)


def _edge(value: float) -> str:
    return f"{value:g}"


def band_labels(edges: Sequence[float]) -> list[str]:
    """`< e0`, `[e0, e1)`, ..., `>= en`: the bands that inner edges cut a number line into."""
    inner = [f"[{_edge(low)}, {_edge(high)})" for low, high in pairwise(edges)]
    return [f"< {_edge(edges[0])}", *inner, f">= {_edge(edges[-1])}"]


def grouping(frame: pd.DataFrame, spec: FairnessGrouping) -> Grouping:
    """The groups of `spec` over `frame`'s rows; only groups that hold rows are kept, in a stable order
    (bands by value then `missing`; values sorted as text then `missing`)."""
    column = frame[spec.column]
    missing = column.isna().to_numpy()
    if spec.bands is not None:
        values = pd.to_numeric(column).to_numpy(dtype=np.float64, na_value=np.nan)
        band = np.searchsorted(np.asarray(spec.bands, dtype=np.float64), np.where(missing, 0.0, values), side="right")
        names = np.where(missing, MISSING, np.asarray(band_labels(spec.bands), dtype=object)[band])
        order = [*band_labels(spec.bands), MISSING]
    else:
        names = np.where(missing, MISSING, column.astype(object).astype(str).to_numpy(dtype=object))
        order = [*sorted({str(v) for v in names[~missing]}), MISSING]
    present = set(names.tolist())
    labels = tuple(label for label in order if label in present)
    index = {label: i for i, label in enumerate(labels)}
    codes = np.fromiter((index[name] for name in names), dtype=np.int64, count=len(names))
    return Grouping(spec.column, labels, codes, spec.bands)


def groupings(frame: pd.DataFrame, specs: Sequence[FairnessGrouping]) -> list[Grouping]:
    return [grouping(frame, spec) for spec in specs]


# --- results ----------------------------------------------------------------------------------------


def _interval_dict(interval: Interval | None) -> dict[str, float] | None:
    """Rounded like every interval in a file, and never `-0.0` (a bound rounded from a tiny negative)."""
    return None if interval is None else {key: value + 0.0 for key, value in interval.as_dict().items()}


def _count_dict(interval: Interval) -> dict[str, float | int]:
    """A count: the rows' own count as an integer, its resampled interval as drawn."""
    return {**(_interval_dict(interval) or {}), "value": int(interval.value)}


@dataclass(frozen=True)
class GroupResult:
    """One group's counts and, when it is large enough to judge, its rates at the threshold."""

    name: str
    counts: dict[str, Interval]  # rows, positives (value: the count in the rows; interval: resampled)
    rates: dict[str, Interval | None]  # empty when too small; a rate undefined on the rows is None
    too_small: str | None  # why the group is not judged (None: it is)

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {name: _count_dict(self.counts[name]) for name in COUNTS}
        for name in RATES:
            found[name] = _interval_dict(self.rates.get(name))
        found["too_small"] = self.too_small
        return found


@dataclass(frozen=True)
class Gap:
    """The largest gap of one metric: the highest and lowest judged groups, and its interval."""

    metric: str
    interval: Interval | None  # None: not enough judged groups (see `reason`)
    highest: str | None = None
    lowest: str | None = None
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        if self.interval is None:
            return {"value": None, "reason": self.reason}
        return {**(_interval_dict(self.interval) or {}), "highest": self.highest, "lowest": self.lowest}


@dataclass(frozen=True)
class GroupingResult:
    column: str
    bands: tuple[float, ...] | None
    groups: dict[str, GroupResult]
    gaps: dict[str, Gap]

    def as_json(self) -> dict[str, Any]:
        return {
            "bands": list(self.bands) if self.bands is not None else None,
            "groups": {name: group.as_json() for name, group in self.groups.items()},
            "gaps": {name: gap.as_json() for name, gap in self.gaps.items()},
        }


@dataclass(frozen=True)
class Audit:
    """Every model's per-group results and gaps; every later model's gaps minus the first's (paired)."""

    models: dict[str, dict[str, GroupingResult]]  # model -> column -> result
    differences: dict[str, dict[str, dict[str, Interval | None]]]  # model -> column -> gap -> paired difference
    settings: FairnessParams
    seed: int
    resamples: int
    confidence: float

    def as_json(self, model: str) -> dict[str, Any]:
        """One model's audit: the shape of reports/fairness.json."""
        return {
            "rules": {
                "min_rows": self.settings.min_rows,
                "min_positives": self.settings.min_positives,
                "resamples": self.resamples,
                "confidence": self.confidence,
                "seed": self.seed,
            },
            "groupings": {column: result.as_json() for column, result in self.models[model].items()},
        }


# --- the audit --------------------------------------------------------------------------------------


def metric_frame(labels: np.ndarray, flagged: np.ndarray, names: pd.Series) -> MetricFrame:
    """fairlearn's per-group metrics (point estimates) at the threshold, under this module's names."""
    return MetricFrame(
        metrics=FAIRLEARN_METRICS,
        y_true=np.asarray(labels, dtype=np.int64),
        y_pred=np.asarray(flagged, dtype=np.int64),
        sensitive_features=names.reset_index(drop=True),
    )


def _group_statistic(labels: np.ndarray, flagged: np.ndarray, member: np.ndarray, metric: str) -> Statistic:
    """A group's rate (or count) over weighted rows (replicates x rows): NaN where its denominator is 0."""
    numerator, denominator = _PARTS[metric](labels, flagged)
    top = numerator * member
    bottom = None if denominator is None else denominator * member

    def statistic(weights: np.ndarray) -> np.ndarray:
        found = weights @ top
        if bottom is None:
            return np.asarray(found, dtype=np.float64)
        under = weights @ bottom
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(under > 0, found / np.where(under > 0, under, 1.0), np.nan)

    return statistic


def _extremes(values: Mapping[str, float]) -> tuple[str, str]:
    """(highest, lowest) group by value; ties go to the earlier group for the lowest, the later for the
    highest, so two groups are always named (equal groups give a gap of zero between two groups)."""
    ranked = sorted(range(len(values)), key=lambda i: (list(values.values())[i], i))
    names = list(values)
    return names[ranked[-1]], names[ranked[0]]


def _too_small(rows: int, positives: int, settings: FairnessParams, positive: str) -> str | None:
    if rows < settings.min_rows:
        return f"{rows} rows, fewer than min_rows {settings.min_rows}: too small to judge"
    if positives < settings.min_positives:
        return f"{positives} {positive} rows, fewer than min_positives {settings.min_positives}: too small to judge"
    return None


@dataclass
class _Plan:
    """What one model's audit of one grouping computes: point values and the statistics to resample."""

    groups: dict[str, dict[str, float]]  # group -> metric -> point value
    too_small: dict[str, str | None]
    gaps: dict[str, tuple[float | None, str | None, str | None, str | None]]  # value, highest, lowest, reason
    statistics: dict[tuple[str, str], Statistic]  # (group, metric) -> statistic
    judged: list[str] = field(default_factory=list)  # the groups large enough to judge, in the gaps


def _plan(labels: np.ndarray, flagged: np.ndarray, split: Grouping, settings: FairnessParams, positive: str) -> _Plan:
    y = labels.astype(np.float64)
    f = flagged.astype(np.float64)
    frame = metric_frame(labels, flagged, split.names())
    by_group = frame.by_group
    members = split.members()
    groups: dict[str, dict[str, float]] = {}
    too_small: dict[str, str | None] = {}
    statistics: dict[tuple[str, str], Statistic] = {}
    for index, name in enumerate(split.labels):
        row = by_group.loc[name]
        groups[name] = {metric: float(row[metric]) for metric in (*COUNTS, *RATES)}
        too_small[name] = _too_small(int(row["rows"]), int(row["positives"]), settings, positive)
        for metric in (*COUNTS, *RATES):
            statistics[name, metric] = _group_statistic(y, f, members[:, index], metric)
    judged = [name for name in split.labels if too_small[name] is None]
    gaps: dict[str, tuple[float | None, str | None, str | None, str | None]] = {}
    if len(judged) < 2:  # noqa: PLR2004 - a gap is between two groups
        reason = f"{len(judged)} group(s) large enough to judge: a gap needs two"
        return _Plan(groups, too_small, dict.fromkeys(GAPS, (None, None, None, reason)), statistics, judged)
    for metric in GAP_METRICS:
        high, low = _extremes({name: groups[name][metric] for name in judged})
        gaps[metric] = (groups[high][metric] - groups[low][metric], high, low, None)
    recall_gap, fpr_gap = gaps["recall"][0], gaps["false_positive_rate"][0]
    worse = "recall" if (recall_gap or 0.0) >= (fpr_gap or 0.0) else "false_positive_rate"
    rows = np.isin(split.codes, [split.labels.index(name) for name in judged])
    odds = float(equalized_odds_difference(labels[rows], flagged[rows], sensitive_features=split.names()[rows]))
    gaps["equalized_odds"] = (odds, gaps[worse][1], gaps[worse][2], None)
    high, low = _extremes({name: groups[name][RATIO_METRIC] for name in judged})
    if groups[high][RATIO_METRIC] > 0:
        ratio = groups[low][RATIO_METRIC] / groups[high][RATIO_METRIC]
        gaps["flagged_share_ratio"] = (ratio, high, low, None)
    else:
        gaps["flagged_share_ratio"] = (None, None, None, "no row of a judged group is flagged: no ratio")
    return _Plan(groups, too_small, gaps, statistics, judged)


# --- simultaneous intervals of the gaps (see the module docstring) ------------------------------------

# The rates whose range over the judged groups is each gap (the ratio's on log shares).
GAP_RATES: dict[str, tuple[str, ...]] = {
    "recall": ("recall",),
    "false_positive_rate": ("false_positive_rate",),
    "equalized_odds": ("recall", "false_positive_rate"),
    "flagged_share_ratio": (RATIO_METRIC,),
}


def _log(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        found: np.ndarray = np.log(values)
    return found


def _rates(plan: _Plan, drawn: Mapping[tuple[str, str], np.ndarray], gap: str) -> tuple[np.ndarray, np.ndarray]:
    """(observed, errors) of the gap's rates: blocks x groups, and blocks x resamples x groups (resampled
    minus observed; on log shares for the ratio, where a share observed 0 stays 0 in every resample)."""
    metrics = GAP_RATES[gap]
    observed = np.array([[plan.groups[name][metric] for name in plan.judged] for metric in metrics])
    resampled = np.stack([np.stack([drawn[name, metric] for name in plan.judged], axis=-1) for metric in metrics])
    if gap != "flagged_share_ratio":
        return observed, resampled - observed[:, None, :]
    logged = _log(observed)
    with np.errstate(invalid="ignore"):
        errors = np.where(observed[:, None, :] > 0, _log(resampled) - logged[:, None, :], 0.0)
    return np.where(observed > 0, logged, 0.0), errors


def _norm(values: np.ndarray) -> np.ndarray:
    """The gap's seminorm: the largest, over its blocks (first axis), of the range over groups (last axis)."""
    spread: np.ndarray = np.max(np.ptp(values, axis=-1), axis=0)
    return spread


def _quantile(spreads: np.ndarray, confidence: float) -> float | None:
    """The `confidence` quantile of the per-resample bounds, at the next replicate up (None: none defined)."""
    kept = spreads[~np.isnan(spreads)]
    return None if kept.size == 0 else float(np.quantile(kept, confidence, method="higher"))


def _gap_interval(gap: str, point: float, errors: np.ndarray, confidence: float) -> Interval | None:
    half = _quantile(_norm(errors), confidence)
    if half is None:
        return None
    if gap == "flagged_share_ratio":
        high = min(1.0, point * np.exp(half)) if point > 0 and np.isfinite(half) else (1.0 if point > 0 else 0.0)
        return Interval(point, point * float(np.exp(-half)), max(point, high))
    return Interval(point, max(0.0, point - half), min(1.0, point + half))


def _holding(point: float, replicates: np.ndarray, confidence: float) -> Interval | None:
    """The percentile interval of the finite replicates, widened to hold `point` (None: no replicate)."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0 or not np.isfinite(point):
        return None
    found = percentile_interval(point, finite, confidence)
    return Interval(found.value, min(found.low, point), max(found.high, point))


def _result(
    split: Grouping, plan: _Plan, drawn: Mapping[tuple[str, str], np.ndarray], confidence: float
) -> GroupingResult:
    """One model's result for one grouping: `drawn` holds the replicates of the plan's statistics."""

    def interval(key: tuple[str, str], point: float) -> Interval | None:
        found = drawn.get(key)
        return None if found is None else _holding(point, found, confidence)

    def count(key: tuple[str, str], point: float) -> Interval:
        return interval(key, point) or Interval(point, point, point)

    groups = {
        name: GroupResult(
            name=name,
            counts={metric: count((name, metric), values[metric]) for metric in COUNTS},
            rates={}
            if plan.too_small[name]
            else {metric: interval((name, metric), values[metric]) for metric in RATES},
            too_small=plan.too_small[name],
        )
        for name, values in plan.groups.items()
    }
    gaps = {
        metric: (
            Gap(metric, None, reason=reason)
            if value is None
            else Gap(metric, _gap_interval(metric, value, _rates(plan, drawn, metric)[1], confidence), high, low)
        )
        for metric, (value, high, low, reason) in plan.gaps.items()
    }
    return GroupingResult(split.column, split.bands, groups, gaps)


def audit(
    labels: np.ndarray,
    flagged: Mapping[str, np.ndarray],
    splits: Sequence[Grouping],
    settings: FairnessParams,
    *,
    seed: int,
    positive: str = "positives",
    resamples: int | None = None,
    confidence: float | None = None,
) -> Audit:
    """Audit each model's flags (0/1 or bool per row, at its own threshold) on the same rows.

    Every model is resampled with the same resamples (a paired bootstrap), so `differences[model]`
    holds, for every model after the first, its gap minus the first model's gap with a paired interval.
    `positive` names the positive class in a too-small group's reason. `resamples` and `confidence`
    default to the settings' (the gate passes its own).
    """
    resamples = settings.resamples if resamples is None else resamples
    confidence = settings.confidence if confidence is None else confidence
    labels = np.asarray(labels).astype(np.int64)
    names = list(flagged)
    plans = {
        (model, split.column): _plan(labels, np.asarray(flagged[model]).astype(np.int64), split, settings, positive)
        for model in names
        for split in splits
    }
    statistics: dict[tuple[str, ...], Statistic] = {
        (model, column, *key): statistic
        for (model, column), plan in plans.items()
        for key, statistic in plan.statistics.items()
    }
    replicates = bootstrap(len(labels), statistics, resamples, seed) if len(labels) else {}
    models = {
        model: {
            split.column: _result(
                split,
                plans[model, split.column],
                _drawn(replicates, model, split.column),
                confidence,
            )
            for split in splits
        }
        for model in names
    }
    differences = {
        model: {
            split.column: {
                metric: _paired(plans, replicates, (names[0], model), (split.column, metric), confidence)
                for metric in GAPS
            }
            for split in splits
        }
        for model in names[1:]
    }
    return Audit(models, differences, settings, seed, resamples, confidence)


def _drawn(
    replicates: Mapping[tuple[str, ...], np.ndarray], model: str, column: str
) -> dict[tuple[str, str], np.ndarray]:
    """One model's replicates for one grouping, by (group, metric)."""
    return {(key[2], key[3]): found for key, found in replicates.items() if key[:2] == (model, column)}


def _paired(
    plans: Mapping[tuple[str, str], _Plan],
    replicates: Mapping[tuple[str, ...], np.ndarray],
    pair: tuple[str, str],
    gap: tuple[str, str],
    confidence: float,
) -> Interval | None:
    """The gap (column, metric) of `pair[1]` minus that of `pair[0]`, with its paired simultaneous interval
    (None: a gap is undefined)."""
    column, metric = gap
    first, other = (plans[model, column].gaps[metric][0] for model in pair)
    if first is None or other is None or plans[pair[0], column].judged != plans[pair[1], column].judged:
        return None
    (seen, errors), (seen_first, errors_first) = (
        _rates(plans[model, column], _drawn(replicates, model, column), metric) for model in reversed(pair)
    )
    each = _norm(errors) + _norm(errors_first)
    with np.errstate(invalid="ignore"):  # a share resampled to 0 by both models: log errors equal, apart by 0
        apart = np.where(errors == errors_first, 0.0, errors - errors_first)
    spreads = np.fmin(each, 2.0 * float(_norm(seen - seen_first)) + _norm(apart))
    spreads[np.isnan(each)] = np.nan  # a rate undefined in the resample
    point = other - first
    if metric != "flagged_share_ratio":
        half = _quantile(spreads, confidence)
        return None if half is None else Interval(point, point - half, point + half)
    # ratio = exp(-log-range): bound the first's log-range and the change of log-ranges, each at 1 - (1 - c)/2
    split = 1.0 - (1.0 - confidence) / 2.0
    level, change = _quantile(_norm(errors_first), split), _quantile(spreads, split)
    if level is None or change is None:
        return None
    base = float(_norm(seen_first))
    moved = float(_norm(seen)) - base
    with np.errstate(invalid="ignore", over="ignore"):
        corners = [
            float(np.exp(-max(0.0, g + d)) - np.exp(-g))
            for g in (max(0.0, base - level), base + level)
            for d in (moved - change, moved + change)
        ]
    if not all(np.isfinite(corners)):
        return Interval(point, -1.0, 1.0)
    return Interval(point, min(point, *corners), max(point, *corners))
