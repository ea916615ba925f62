"""The detectors: pure functions from a window of the prediction log and the reference profile to findings.

Each detector measures an effect size against a threshold from params.yaml (`monitor:`), its statistic
against the reference weeks' band (reference_bands: how far it already moved from week to week) and,
where a sampling test applies, a p-value. `decide` turns findings into breaches: a breach needs the
effect at or beyond its threshold AND the statistic outside the band (when the profile has one) AND a
p-value below family_alpha / m, where m is the number of tests the run made (Bonferroni): many
detectors over many weeks would otherwise raise false alarms, large windows would fire on shifts too
small to matter, and a pooled reference on changes its own weeks already showed.

Kinds, from the harm they point at:
- performance: ROC AUC and recall at the threshold on the labelled rows (only labels reveal a new
  fraud pattern: its scores, flagged share and inputs stay put). Both are conditional on the label,
  so a change of base rate alone does not move them; average precision, which follows the base
  rate, is shown beside them and not judged;
- calibration: observed positives against the sum of the scores (a change of base rate: prior shift);
- volume: the flagged share (analysts' workload) and the rows a week;
- input_drift: the score distribution and each input's distribution (PSI on reference bins);
- data_quality: contract violations and missing-value rates of nullable inputs.

Time-dependent inputs are handled on purpose: an input declared in `monitor.drift.trending` (units a
day) is profiled as at the reference rows' mean event time, and each live value is moved back to that
time at the same rate (`account_age_days` grows 7 days a week by construction: an unmoved reference
would alarm every week); a `monitor.drift.seasonal` input is compared within each week (standardised
by the week's median and interquartile range: the season moves its level and spread, not its shape);
`monitor.drift.ignored` inputs are not compared; the event time is compared as its hour of day. An
undeclared seasonal input is judged against the band of its reference weeks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from mlops_template.core.config import MonitorParams
from mlops_template.model import statistics
from mlops_template.monitoring import ranking, reference_bands
from mlops_template.monitoring.reference_bands import Limits
from mlops_template.monitoring.reference_profile import (
    OTHER,
    CategoricalInput,
    NumericInput,
    Performance,
    Profile,
    categorical_counts,
    categorical_values,
    comparable_values,
    missing_count,
)

Kind = Literal["performance", "calibration", "volume", "input_drift", "data_quality"]
Status = Literal["ok", "breach", "insufficient"]
KINDS: tuple[Kind, ...] = ("performance", "calibration", "data_quality", "volume", "input_drift")  # by harm
__all__ = ["OTHER", "Finding", "breaches", "decide", "run_all"]
LABEL = "label"
PROBABILITY = "probability"
PREDICTION = "prediction"


@dataclass(frozen=True)
class Finding:
    """One detector's result; `exceeds` says the effect reached its threshold (before the test)."""

    kind: Kind
    detector: str
    status: Status
    statistic: float | None
    threshold: float
    p_value: float | None
    reason: str
    exceeds: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "detector": self.detector,
            "status": self.status,
            "breach": self.status == "breach",
            "statistic": None if self.statistic is None else round(self.statistic, 6),
            "threshold": self.threshold,
            "p_value": None if self.p_value is None else float(f"{self.p_value:.6g}"),
            "reason": self.reason,
            "details": self.details,
        }


def _band(profile: Profile, params: MonitorParams, detector: str) -> Limits | str:
    return reference_bands.limits(profile.bands.get(detector), params.bands.k, params.bands.min_weeks)


def _against(band: Limits | str, value: float, exceeds: bool) -> tuple[bool, str, dict[str, Any]]:
    """The effect's verdict with the band: (exceeds and outside the band, the reason's tail, details)."""
    if isinstance(band, str):
        return exceeds, f"; {band}", {"band": None, "band_note": band, "value": round(value, 6)}
    outside = band.outside(value)
    where = "outside" if outside else "inside"
    return (
        exceeds and outside,
        f"; {value:.4g} {where} the {band.describe()}",
        {
            "band": band.as_json(),
            "value": round(value, 6),
        },
    )


def _insufficient(kind: Kind, detector: str, threshold: float, reason: str) -> Finding:
    return Finding(kind, detector, "insufficient", None, threshold, None, reason)


def _labelled(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    known = frame[LABEL].notna().to_numpy()
    labels = frame.loc[known, LABEL].astype("int64").to_numpy()
    scores = frame.loc[known, PROBABILITY].to_numpy(dtype=np.float64)
    predictions = frame.loc[known, PREDICTION].to_numpy(dtype=np.int64)
    return labels, scores, predictions


# --- performance -------------------------------------------------------------------------------------


def performance(frame: pd.DataFrame, profile: Profile, params: MonitorParams) -> list[Finding]:
    """ROC AUC (Hanley-McNeil) and recall at the threshold (Fisher) of the labelled rows, against their bands."""
    settings = params.performance
    labels, scores, predictions = _labelled(frame)
    positives = int(labels.sum())
    reference = profile.performance
    if positives < settings.min_labelled_positives or positives == len(labels):
        why = (
            f"{positives} labelled positives in {len(labels)} labelled rows "
            f"(rule: at least {settings.min_labelled_positives}, and some negatives)"
        )
        ranked = ("roc_auc", settings.roc_auc_max_drop)
        if reference.roc_auc is None:
            ranked = ("average_precision", settings.average_precision_max_drop)
        return [
            _insufficient("performance", *ranked, why),
            _insufficient("performance", "recall_at_threshold", settings.recall_max_drop, why),
        ]
    if reference.roc_auc is None:  # a profile written before ROC AUC (a rollback judges the old model by it)
        return [
            _average_precision(labels, scores, profile, params),
            _recall(labels, predictions, reference, profile, params),
        ]
    return [_roc_auc(labels, scores, profile, params), _recall(labels, predictions, reference, profile, params)]


def _average_precision(labels: np.ndarray, scores: np.ndarray, profile: Profile, params: MonitorParams) -> Finding:
    """The detector profiles without ROC AUC were judged by: average precision (bootstrap), as their params say."""
    settings = params.performance
    reference = profile.performance
    point, replicates = statistics.bootstrap_average_precision(labels, scores, settings.resamples, settings.seed)
    interval = statistics.percentile_interval(point, replicates, settings.confidence)
    spread = float(np.std(replicates))
    drop = reference.average_precision - point
    p_value = float(scipy_stats.norm.cdf(-drop / spread)) if spread > 0 else (0.0 if drop > 0 else 1.0)
    return Finding(
        "performance",
        "average_precision",
        "ok",
        drop,
        settings.average_precision_max_drop,
        p_value,
        f"average precision {point:.3f} [{interval.low:.3f}, {interval.high:.3f}] against "
        f"{reference.average_precision:.3f} on the held-out weeks: drop {drop:+.3f} (threshold "
        f"{settings.average_precision_max_drop:.3f}; a profile without ROC AUC: `dvc repro profile` writes it)",
        exceeds=drop >= settings.average_precision_max_drop,
        details={"live": round(point, 6), "interval": [round(interval.low, 6), round(interval.high, 6)]},
    )


def _roc_auc(labels: np.ndarray, scores: np.ndarray, profile: Profile, params: MonitorParams) -> Finding:
    settings = params.performance
    reference = profile.performance
    if reference.roc_auc is None or reference.roc_auc_se is None:
        why = "the profile has no ROC AUC (written before it was judged: `dvc repro profile`)"
        return _insufficient("performance", "roc_auc", settings.roc_auc_max_drop, why)
    live = ranking.roc_auc(labels, scores)
    if live is None:  # both classes were checked by the caller
        return _insufficient("performance", "roc_auc", settings.roc_auc_max_drop, "one class only")
    held = ranking.Auc(reference.roc_auc, reference.roc_auc_se, reference.positives, reference.labelled)
    drop = reference.roc_auc - live.value
    z = float(scipy_stats.norm.ppf(0.5 + settings.confidence / 2))
    low, high = max(0.0, live.value - z * live.standard_error), min(1.0, live.value + z * live.standard_error)
    exceeds, tail, band = _against(_band(profile, params, "roc_auc"), live.value, drop >= settings.roc_auc_max_drop)
    base_rate = live.positives / len(labels)
    ap = statistics.estimate(statistics.average_precision(labels, scores), len(labels))
    return Finding(
        "performance",
        "roc_auc",
        "ok",
        drop,
        settings.roc_auc_max_drop,
        ranking.drop_p_value(held, live),
        f"ROC AUC {live.value:.3f} [{low:.3f}, {high:.3f}] on {live.positives} labelled positives against "
        f"{reference.roc_auc:.3f} on the held-out weeks: drop {drop:+.3f} (threshold {settings.roc_auc_max_drop:.3f})"
        f"{tail} (average precision {ap:.3f} at a base rate of {base_rate:.4f}, against "
        f"{reference.average_precision:.3f} at {reference.positives / reference.labelled:.4f}: not judged, "
        "it follows the base rate)",
        exceeds=exceeds,
        details={
            "live": round(live.value, 6),
            "interval": [round(low, 6), round(high, 6)],
            "positives": live.positives,
            "average_precision": round(ap, 6),
            "base_rate": round(base_rate, 6),
            **band,
        },
    )


def _recall(
    labels: np.ndarray, predictions: np.ndarray, reference: Performance, profile: Profile, params: MonitorParams
) -> Finding:
    settings = params.performance
    positives = int(labels.sum())
    hits = int(predictions[labels == 1].sum())
    recall = hits / positives
    r_low, r_high = statistics.wilson_interval(hits, positives, settings.confidence)
    recall_drop = reference.recall - recall
    p_recall = statistics.two_proportion_p_value(hits, positives, reference.recalled, reference.positives, "less")
    exceeds, tail, band = _against(
        _band(profile, params, "recall_at_threshold"), recall, recall_drop >= settings.recall_max_drop
    )
    return Finding(
        "performance",
        "recall_at_threshold",
        "ok",
        recall_drop,
        settings.recall_max_drop,
        p_recall,
        f"recall at the threshold {recall:.3f} [{r_low:.3f}, {r_high:.3f}] ({hits} of {positives} positives "
        f"flagged) against {reference.recall:.3f} on the held-out weeks: drop {recall_drop:+.3f} "
        f"(threshold {settings.recall_max_drop:.3f}){tail}",
        exceeds=exceeds,
        details={
            "live": round(recall, 6),
            "interval": [round(r_low, 6), round(r_high, 6)],
            "positives": positives,
            **band,
        },
    )


# --- calibration -------------------------------------------------------------------------------------


def calibration(frame: pd.DataFrame, profile: Profile, params: MonitorParams) -> Finding:
    """Observed positives among the labelled rows against what their scores expect (a prior shift moves it)."""
    settings = params.calibration
    labels, scores, _ = _labelled(frame)
    expected = float(scores.sum())
    if expected < settings.min_expected_positives:
        return _insufficient(
            "calibration",
            "observed_vs_expected",
            settings.max_ratio_change,
            f"the {len(labels)} labelled rows' scores expect {expected:.1f} positives "
            f"(rule: at least {settings.min_expected_positives:g})",
        )
    observed = int(labels.sum())
    ratio = observed / expected
    change = abs(ratio - 1.0)
    direction = "under-predicts" if ratio > 1 else "over-predicts"
    exceeds, tail, band = _against(
        _band(profile, params, "observed_vs_expected"), ratio, change >= settings.max_ratio_change
    )
    return Finding(
        "calibration",
        "observed_vs_expected",
        "ok",
        change,
        settings.max_ratio_change,
        statistics.calibration_p_value(labels, scores),
        f"{observed} positives observed in {len(labels)} labelled rows where the scores expect {expected:.1f} "
        f"(x{ratio:.2f}: the model {direction}, a change of base rate when ROC AUC holds: prior shift; "
        f"threshold |ratio - 1| {settings.max_ratio_change:g}){tail}",
        exceeds=exceeds,
        details={"observed": observed, "expected": round(expected, 3), "labelled": len(labels), **band},
    )


# --- volume -----------------------------------------------------------------------------------------


def flagged_share(frame: pd.DataFrame, profile: Profile, params: MonitorParams) -> Finding:
    """The share of rows flagged, against the reference share (Fisher's exact test)."""
    tolerance = params.volume.flagged_share_max_relative_change
    rows = len(frame)
    if rows < params.min_rows:
        return _insufficient(
            "volume", "flagged_share", tolerance, f"{rows} rows in the window (rule: at least {params.min_rows})"
        )
    flagged = int(frame[PREDICTION].sum())
    share = flagged / rows
    reference = profile.flagged_share
    change = abs(share / reference - 1.0) if reference > 0 else math.inf
    exceeds, tail, band = _against(_band(profile, params, "flagged_share"), share, change >= tolerance)
    return Finding(
        "volume",
        "flagged_share",
        "ok",
        change,
        tolerance,
        statistics.two_proportion_p_value(flagged, rows, profile.scores.flagged, profile.scores.rows),
        f"{share:.4f} of {rows} rows flagged ({flagged}) against {reference:.4f} on the held-out weeks "
        f"(x{share / reference if reference else math.inf:.2f}; threshold |ratio - 1| {tolerance:g}){tail}",
        exceeds=exceeds,
        details={"live": round(share, 6), "reference": round(reference, 6), "flagged": flagged, **band},
    )


def rows_per_week(rows: int, weeks: float, profile: Profile, params: MonitorParams) -> Finding | None:
    """Traffic against the reference's rows a week (a rule, no test: traffic is not a sample)."""
    ratio_limit = params.volume.rows_per_week_max_ratio
    if ratio_limit is None:
        return None
    live = rows / weeks
    ratio = live / profile.rows_per_week
    exceeds, tail, band = _against(
        _band(profile, params, "rows_per_week"), live, ratio >= ratio_limit or ratio <= 1 / ratio_limit
    )
    return Finding(
        "volume",
        "rows_per_week",
        "ok",
        ratio,
        ratio_limit,
        None,
        f"{live:.0f} rows a week against {profile.rows_per_week:.0f} on the held-out weeks "
        f"(x{ratio:.2f}; rule: within x{1 / ratio_limit:.2f} .. x{ratio_limit:.2f}){tail}",
        exceeds=exceeds,
        details={"live": round(live, 3), "reference": profile.rows_per_week, **band},
    )


# --- drift ------------------------------------------------------------------------------------------


def _drift(  # noqa: PLR0917 (one place builds every PSI finding)
    detector: str,
    counts: tuple[np.ndarray, np.ndarray],
    threshold: float,
    what: str,
    bins: list[str],
    band: Limits | str,
) -> Finding:
    """PSI and the homogeneity test of (reference, live) counts over the same bins, against the PSI band."""
    reference, live = counts
    index = statistics.psi(reference, live)
    exceeds, tail, judged = _against(band, index, index >= threshold)
    return Finding(
        "input_drift",
        detector,
        "ok",
        index,
        threshold,
        statistics.homogeneity_p_value(reference, live),
        f"{what}: PSI {index:.3f} against the held-out weeks (threshold {threshold:g}){tail}",
        exceeds=exceeds,
        details={
            "bins": bins,
            "reference": [int(c) for c in reference],
            "live": [int(c) for c in live],
            **judged,
        },
    )


def _edges_labels(edges: list[float]) -> list[str]:
    if not edges:
        return ["all"]
    shown = [f"{e:.4g}" for e in edges]
    return [f"<= {shown[0]}", *(f"({a}, {b}]" for a, b in pairwise(shown)), f"> {shown[-1]}"]


def score_drift(frame: pd.DataFrame, profile: Profile, params: MonitorParams) -> Finding:
    threshold = params.drift.score_psi_threshold
    if len(frame) < params.min_rows:
        return _insufficient(
            "input_drift", "score_psi", threshold, f"{len(frame)} rows in the window (rule: at least {params.min_rows})"
        )
    edges = np.asarray(profile.scores.edges, dtype=np.float64)
    live = statistics.bin_counts(frame[PROBABILITY].to_numpy(dtype=np.float64), edges)
    reference = np.asarray(profile.scores.counts)
    return _drift(
        "score_psi",
        (reference, live),
        threshold,
        "score distribution",
        _edges_labels(profile.scores.edges),
        _band(profile, params, "score_psi"),
    )


def input_drift(frame: pd.DataFrame, profile: Profile, params: MonitorParams) -> list[Finding]:
    """One finding per compared input: PSI and a chi-square test on the reference's bins."""
    settings = params.drift
    found: list[Finding] = []
    for name, spec in sorted(profile.inputs.items()):
        if name in settings.ignored:
            continue
        detector = f"psi:{name}"
        if len(frame) < params.min_rows:
            why = f"{len(frame)} rows in the window (rule: at least {params.min_rows})"
            found.append(_insufficient("input_drift", detector, settings.psi_threshold, why))
            continue
        if name not in frame.columns:
            found.append(_insufficient("input_drift", detector, settings.psi_threshold, f"{name}: not in the log"))
            continue
        band = _band(profile, params, detector)
        if isinstance(spec, NumericInput):
            values = comparable_values(frame, name, spec, profile.reference_timestamp)
            live = statistics.bin_counts(values, np.asarray(spec.edges))
            found.append(
                _drift(
                    detector,
                    (np.asarray(spec.counts), live),
                    settings.psi_threshold,
                    _numeric_what(name, spec),
                    _edges_labels(spec.edges),
                    band,
                )
            )
        else:
            bins, live = categorical_counts(frame, name, spec)
            reference = np.array([*spec.counts.values(), 0])
            found.append(_drift(detector, (reference, live), settings.psi_threshold, name, bins, band))
    return found


def _numeric_what(name: str, spec: NumericInput) -> str:
    if spec.transform == "hour_of_day":
        return f"{name} (hour of day)"
    if spec.transform == "week_standardised":
        return f"{name} (seasonal: compared within each week, standardised by its median and IQR)"
    if spec.trend_per_day:
        return f"{name} (trending {spec.trend_per_day:g}/day, compared as at the reference time)"
    return name


# --- data quality ----------------------------------------------------------------------------------


def missing_rates(frame: pd.DataFrame, profile: Profile, params: MonitorParams) -> list[Finding]:
    """For each input the contract lets be missing: its missing rate against the reference's."""
    limit = params.quality.missing_rate_max_increase
    found: list[Finding] = []
    for name, rule in sorted(profile.contract.items()):
        spec = profile.inputs.get(name)
        if not rule.nullable or spec is None or name not in frame.columns:
            continue
        detector = f"missing:{name}"
        if len(frame) < params.min_rows:
            why = f"{len(frame)} rows in the window (rule: at least {params.min_rows})"
            found.append(_insufficient("data_quality", detector, limit, why))
            continue
        missing = missing_count(frame, name, spec)
        rate, reference = missing / len(frame), spec.missing / spec.rows
        increase = rate - reference
        exceeds, tail, band = _against(_band(profile, params, detector), rate, increase >= limit)
        found.append(
            Finding(
                "data_quality",
                detector,
                "ok",
                increase,
                limit,
                statistics.two_proportion_p_value(missing, len(frame), spec.missing, spec.rows, "greater"),
                f"{name}: {rate:.4f} missing against {reference:.4f} on the held-out weeks "
                f"(increase {increase:+.4f}; threshold {limit:g}){tail}",
                exceeds=exceeds,
                details={"live": round(rate, 6), "reference": round(reference, 6), **band},
            )
        )
    return found


def _violations(frame: pd.DataFrame, profile: Profile) -> tuple[np.ndarray, dict[str, int]]:
    broken = np.zeros(len(frame), dtype=bool)
    per_input: dict[str, int] = {}
    for name, rule in profile.contract.items():
        if name not in frame.columns:
            per_input[name] = len(frame)
            broken[:] = True
            continue
        spec = profile.inputs.get(name)
        if isinstance(spec, CategoricalInput) or (rule.allowed and not _numeric_allowed(rule.allowed)):
            values = categorical_values(frame, name)
            bad = values.isna().to_numpy() & (not rule.nullable)
            if rule.allowed is not None:
                bad |= values.notna().to_numpy() & ~values.isin(rule.allowed).to_numpy()
        elif spec is not None and isinstance(spec, NumericInput) and spec.transform == "hour_of_day":
            bad = pd.to_datetime(frame[name], utc=True, errors="coerce").isna().to_numpy()
        else:
            numbers = pd.to_numeric(frame[name], errors="coerce").astype("float64").to_numpy()
            missing = np.isnan(numbers)
            bad = missing & (not rule.nullable)
            if rule.min is not None:
                bad |= ~missing & (numbers < rule.min)
            if rule.max is not None:
                bad |= ~missing & (numbers > rule.max)
            if rule.allowed:
                bad |= ~missing & ~np.isin(numbers, [float(a) for a in rule.allowed])
        per_input[name] = int(bad.sum())
        broken |= bad
    return broken, {k: v for k, v in per_input.items() if v}


def _numeric_allowed(allowed: list[str]) -> bool:
    try:
        [float(a) for a in allowed]
    except ValueError:
        return False
    return True


def contract_violations(frame: pd.DataFrame, profile: Profile, params: MonitorParams) -> Finding:
    """The share of logged rows whose inputs break the contract (the API refuses those: expect 0)."""
    limit = params.quality.max_violation_share
    if len(frame) == 0:
        return _insufficient("data_quality", "contract_violations", limit, "no rows in the window")
    broken, per_input = _violations(frame, profile)
    share = float(broken.mean())
    worst = ", ".join(f"{k}: {v}" for k, v in sorted(per_input.items(), key=lambda kv: -kv[1])[:3]) or "none"
    return Finding(
        "data_quality",
        "contract_violations",
        "ok",
        share,
        limit,
        None,
        f"{int(broken.sum())} of {len(frame)} rows ({share:.4f}) break the contract (by input: {worst}; "
        f"threshold {limit:g})",
        exceeds=share > limit,
        details={"by_input": per_input},
    )


# --- all of them, and the decision -----------------------------------------------------------------


def run_all(
    frame: pd.DataFrame, *, total_rows: int, weeks: float, profile: Profile, params: MonitorParams
) -> list[Finding]:
    """Every detector on `frame` (rows of the profiled model version) and the window's traffic."""
    found = [
        *performance(frame, profile, params),
        calibration(frame, profile, params),
        flagged_share(frame, profile, params),
        score_drift(frame, profile, params),
        *input_drift(frame, profile, params),
        *missing_rates(frame, profile, params),
        contract_violations(frame, profile, params),
    ]
    volume = rows_per_week(total_rows, weeks, profile, params)
    if volume is not None:
        found.insert(4, volume)
    return decide(found, params.family_alpha)


def decide(findings: list[Finding], family_alpha: float) -> list[Finding]:
    """Breaches: effect beyond its threshold, and p below family_alpha / (tests made) (Bonferroni)."""
    tests = sum(1 for f in findings if f.status != "insufficient" and f.p_value is not None)
    alpha = family_alpha / max(tests, 1)
    decided: list[Finding] = []
    for finding in findings:
        if finding.status == "insufficient":
            decided.append(finding)
            continue
        significant = finding.p_value is None or finding.p_value < alpha
        breached = finding.exceeds and significant
        note = "" if finding.p_value is None else f"; p={finding.p_value:.2g} vs alpha {alpha:.2g}"
        decided.append(
            replace(
                finding,
                status="breach" if breached else "ok",
                reason=finding.reason + note,
                details={**finding.details, "alpha": alpha} if finding.p_value is not None else finding.details,
            )
        )
    return decided


def breaches(findings: list[Finding]) -> list[Finding]:
    """The breached findings, the most harmful kind first (see KINDS), then the largest effect."""
    found = [f for f in findings if f.status == "breach"]
    return sorted(found, key=lambda f: (KINDS.index(f.kind), -(f.statistic or 0.0) / (f.threshold or 1.0)))
