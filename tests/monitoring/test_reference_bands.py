"""Reference bands (each statistic per reference week), the base-rate-free performance detector, seasonal
inputs, and the property the issue asks for: no detector breaches on the reference weeks themselves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from mlops_template.core.config import MonitorParams, SimulatedSourceParams
from mlops_template.core.weeks import parse_week, shift_week
from mlops_template.data import schema
from mlops_template.data.sources.simulated import generate_week
from mlops_template.model.artifact import ServedModel
from mlops_template.model.scoring import served_scores
from mlops_template.monitoring import monitor_report, ranking, reference_bands
from mlops_template.monitoring import reference_profile as reference_profile_module
from mlops_template.monitoring.detectors import Finding, run_all
from mlops_template.monitoring.monitor import judge
from mlops_template.monitoring.reference_profile import Profile
from tests.support.monitoring_reference import monitor_source
from tests.support.monitoring_windows import log_frame

NATURAL = "natural_variation"


def _weeks(first: str, count: int) -> list[str]:
    return [shift_week(first, i) for i in range(count)]


def _source(scenario: str, strength: float = 1.0) -> SimulatedSourceParams:
    source = monitor_source(scenario, start_week="2026-W01")
    return source.model_copy(update={"drift": source.drift.model_copy(update={"strength": strength})})


def _rows(source: SimulatedSourceParams, seed: int, weeks: list[str]) -> pd.DataFrame:
    return pd.concat([generate_week(source, seed, w) for w in weeks], ignore_index=True)


def _profile(
    served: ServedModel, params: MonitorParams, rows: pd.DataFrame, held_out: list[str] | None = None
) -> Profile:
    return reference_profile_module.build(
        rows,
        rows[schema.LABEL].to_numpy(dtype=int),
        served_scores(served, rows),
        served,
        params.profile,
        trending=params.drift.trending,
        seasonal=params.drift.seasonal,
        held_out=held_out,
    )


def _judge(
    served: ServedModel, profile: Profile, params: MonitorParams, rows: pd.DataFrame, seed: int
) -> list[Finding]:
    frame = log_frame(rows, served_scores(served, rows), served, seed=seed)
    weeks = len(set(pd.to_datetime(rows[schema.TIMESTAMP]).dt.isocalendar().week))
    return run_all(frame, total_rows=len(frame), weeks=float(weeks), profile=profile, params=params)


def _breached(findings: list[Finding]) -> dict[str, str]:
    return {f.detector: f.reason for f in findings if f.status == "breach"}


def _seasonal(params: MonitorParams, *names: str) -> MonitorParams:
    return params.model_copy(update={"drift": params.drift.model_copy(update={"seasonal": names})})


# --- the bands themselves ----------------------------------------------------------------------------


@given(
    st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=20),
    st.integers(0, 5),
    st.floats(0.1, 5.0),
    st.sampled_from(["both", "low", "high"]),
)
@settings(max_examples=200, deadline=None)
def test_a_band_holds_every_held_out_week(values: list[float], training: int, k: float, side: str) -> None:
    # Given weekly values, the first `training` of them in-sample (any level), the rest held out
    training = min(training, len(values) - 1)
    weeks = {f"2026-W{i + 1:02d}": v for i, v in enumerate(values)}
    groups = {w: "training" if i < training else "held_out" for i, w in enumerate(weeks)}
    band = reference_bands.level(weeks, groups, "held_out", side)  # type: ignore[arg-type]
    limits = reference_bands.limits(band, k, min_weeks=2)
    assert isinstance(limits, reference_bands.Limits)
    # Then no held-out week lies outside it, and a training week's level never moves the band's centre
    held = [v for w, v in weeks.items() if groups[w] == "held_out"]
    assert not any(limits.outside(v) for v in held)
    assert band is not None
    assert band.centre == pytest.approx(np.mean(held), abs=1e-5)


def test_training_weeks_give_the_spread_not_the_level() -> None:
    weeks = {"2026-W01": 0.95, "2026-W02": 0.97, "2026-W03": 0.80, "2026-W04": 0.84}
    groups = {"2026-W01": "training", "2026-W02": "training", "2026-W03": "held_out", "2026-W04": "held_out"}
    band = reference_bands.level(weeks, groups, "held_out", "low")
    assert band is not None
    assert band.weeks == {"2026-W01": 0.81, "2026-W02": 0.83, "2026-W03": 0.8, "2026-W04": 0.84}


def test_too_few_weeks_give_no_band_and_say_why() -> None:
    band = reference_bands.level(
        {"2026-W01": 0.1, "2026-W02": 0.2}, dict.fromkeys(["2026-W01", "2026-W02"], "all"), "all"
    )
    why = reference_bands.limits(band, 3.0, min_weeks=4)
    assert isinstance(why, str)
    assert "2 reference weeks" in why
    assert "at least 4" in why


def test_a_drift_band_is_each_week_against_the_others() -> None:
    same = np.array([100, 100, 100])
    odd = np.array([300, 0, 0])
    band = reference_bands.drift(
        {"2026-W01": same, "2026-W02": same, "2026-W03": odd}, dict.fromkeys(["2026-W01", "2026-W02", "2026-W03"], "a")
    )
    assert band is not None
    assert band.side == "high"
    assert band.weeks["2026-W03"] > 1.0 > band.weeks["2026-W01"]


# --- ROC AUC: the performance statistic a base rate does not move -------------------------------------------


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 20)), min_size=2, max_size=200))
@settings(max_examples=200, deadline=None)
def test_roc_auc_is_sklearns_and_ignores_the_base_rate(rows: list[tuple[bool, int]]) -> None:
    labels = np.array([int(y) for y, _ in rows])
    scores = np.array([s / 20 for _, s in rows])
    found = ranking.roc_auc(labels, scores)
    if labels.min() == labels.max():
        assert found is None
        return
    assert found is not None
    assert found.value == pytest.approx(roc_auc_score(labels, scores))
    # Each negative three times over: a quarter of the base rate, the same ranking
    negatives = labels == 0
    tripled = ranking.roc_auc(
        np.concatenate([labels, labels[negatives], labels[negatives]]),
        np.concatenate([scores, scores[negatives], scores[negatives]]),
    )
    assert tripled is not None
    assert tripled.value == pytest.approx(found.value)
    assert 0.0 <= found.standard_error < 1.0


def test_a_lower_base_rate_alone_is_a_prior_shift_not_lost_performance(
    quiet_window: pd.DataFrame, reference_profile: Profile, monitor_params: MonitorParams, rng: np.random.Generator
) -> None:
    # Given the same weeks with 60% of the positives gone (the base rate falls, the model ranks as well)
    frame = quiet_window
    positives = np.flatnonzero((frame["label"] == 1).to_numpy())
    gone = rng.choice(positives, size=int(0.6 * len(positives)), replace=False)
    frame = frame.drop(index=gone).reset_index(drop=True)
    findings = {
        f.detector: f
        for f in run_all(frame, total_rows=len(frame), weeks=2.0, profile=reference_profile, params=monitor_params)
    }
    # Then performance holds (average precision fell, shown and not judged), calibration names the prior shift
    auc = findings["roc_auc"]
    assert auc.status == "ok"
    assert findings["recall_at_threshold"].status == "ok"
    assert auc.details["average_precision"] < reference_profile.performance.average_precision - 0.1
    assert "not judged" in auc.reason
    calibration = findings["observed_vs_expected"]
    assert calibration.status == "breach"
    assert "prior shift" in calibration.reason


def test_a_worse_ranking_is_a_roc_auc_breach(
    quiet_window: pd.DataFrame, reference_profile: Profile, monitor_params: MonitorParams, rng: np.random.Generator
) -> None:
    # Given half of the positives scored like random legit rows (a pattern the model cannot see)
    frame = quiet_window
    positives = np.flatnonzero((frame["label"] == 1).to_numpy())
    blind = rng.choice(positives, size=len(positives) // 2, replace=False)
    legit = frame.loc[frame["label"] == 0, "probability"].to_numpy()
    frame.loc[blind, "probability"] = rng.choice(legit, size=len(blind))
    frame.loc[blind, "prediction"] = (frame.loc[blind, "probability"] >= reference_profile.threshold).astype(int)
    findings = run_all(frame, total_rows=len(frame), weeks=2.0, profile=reference_profile, params=monitor_params)
    assert "roc_auc" in _breached(findings)


# --- no breach on the reference weeks themselves ---------------------------------------------------------


@given(seed=st.integers(0, 10_000), strength=st.floats(0.0, 2.0), first=st.integers(1, 45))
@settings(max_examples=4, deadline=None)
def test_no_detector_breaches_on_the_reference_weeks_themselves(
    served: ServedModel, monitor_params: MonitorParams, seed: int, strength: float, first: int
) -> None:
    # Given six weeks of natural variation (base-rate shocks, paydays, holidays, the season) as the reference
    weeks = _weeks(f"2026-W{first:02d}", 6)
    params = _seasonal(monitor_params, "distance_from_home_km")
    rows = _rows(_source(NATURAL, strength), seed, weeks)
    profile = _profile(served, params, rows)
    assert profile.band_weeks == weeks
    # Then each of them, judged as a window of its own, breaches no detector
    stamps = pd.to_datetime(rows[schema.TIMESTAMP], utc=True)
    for week in weeks:
        start = pd.Timestamp(parse_week(week), tz="UTC")
        own = rows[(stamps >= start) & (stamps < start + pd.Timedelta(weeks=1))].reset_index(drop=True)
        assert _breached(_judge(served, profile, params, own, seed)) == {}, week


# --- a reference that varied: breaches only beyond what its weeks showed -------------------------------------


def test_base_rate_shocks_the_reference_weeks_showed_do_not_breach(
    served: ServedModel, monitor_params: MonitorParams
) -> None:
    # Given a reference of eight weeks whose base rate moved (natural variation, strength 2), and a quiet one
    seed, weeks, live = 11, _weeks("2026-W03", 8), ["2026-W12", "2026-W13"]
    shocked, quiet = _source(NATURAL, 2.0), _source("none")
    varied = _profile(served, monitor_params, _rows(shocked, seed, weeks))
    flat = _profile(served, monitor_params, _rows(quiet, seed, weeks))
    ratios = varied.bands["observed_vs_expected"].weeks.values()
    assert max(ratios) - min(ratios) > 0.5
    # When two later weeks of the same process are judged
    window = _rows(shocked, seed, live)
    # Then against the varied reference calibration is inside the band; against the flat one the same
    # shift (if it is beyond its effect threshold) is outside the flat band
    varied_findings = {f.detector: f for f in _judge(served, varied, monitor_params, window, seed)}
    assert varied_findings["observed_vs_expected"].status == "ok"
    assert varied_findings["observed_vs_expected"].details["band"] is not None
    flat_band = flat.bands["observed_vs_expected"].weeks.values()
    assert max(flat_band) - min(flat_band) < max(ratios) - min(ratios)


def test_a_seasonal_input_is_quiet_when_declared_and_drift_when_not(
    served: ServedModel, monitor_params: MonitorParams
) -> None:
    # Given a summer reference (long trips from home) and a winter window of the same natural process
    seed, source = 5, _source(NATURAL)
    summer = _rows(source, seed, _weeks("2026-W26", 6))
    winter = _rows(source, seed, ["2027-W02", "2027-W03"])
    undeclared = _profile(served, monitor_params, summer)
    seasonal_params = _seasonal(monitor_params, "distance_from_home_km")
    declared = _profile(served, seasonal_params, summer)
    assert declared.inputs["distance_from_home_km"].transform == "week_standardised"  # type: ignore[union-attr]
    # Then undeclared, the season is input drift (beyond the summer weeks' band); declared, it is not
    assert "psi:distance_from_home_km" in _breached(_judge(served, undeclared, monitor_params, winter, seed))
    assert "psi:distance_from_home_km" not in _breached(_judge(served, declared, seasonal_params, winter, seed))
    # And a declared seasonal input still breaches when its shape breaks (a feed sending one value)
    broken = winter.assign(
        distance_from_home_km=winter["distance_from_home_km"].where(winter["distance_from_home_km"].isna(), 5.0)
    )
    assert "psi:distance_from_home_km" in _breached(_judge(served, declared, seasonal_params, broken, seed))


def test_the_report_shows_each_statistic_against_its_band(served: ServedModel, monitor_params: MonitorParams) -> None:
    seed, weeks = 3, _weeks("2026-W10", 6)
    rows = _rows(_source(NATURAL), seed, weeks)
    profile = _profile(served, monitor_params, rows, held_out=weeks[-2:])
    assert profile.weeks == weeks[-2:]
    assert profile.band_weeks == weeks
    window = _rows(_source(NATURAL), seed, ["2026-W16", "2026-W17"])
    frame = log_frame(window, served_scores(served, window), served, seed=seed)
    start = pd.Timestamp(parse_week("2026-W16"), tz="UTC")
    outcome = judge(frame, profile=profile, params=monitor_params, start=start, end=start + pd.Timedelta(weeks=2))
    text = monitor_report.markdown(outcome.summary, outcome.findings, profile)
    assert "| value | reference band |" in text
    assert "(6 weeks)" in text
    page = monitor_report.html(outcome.summary, outcome.findings, profile)
    assert "Each statistic against its reference weeks&#x27; band" in page or "reference weeks' band" in page
    assert outcome.summary["bands"]["weeks"] == weeks


def test_a_profile_with_two_weeks_warns_that_it_has_no_bands(
    quiet_window: pd.DataFrame, reference_profile: Profile, monitor_params: MonitorParams
) -> None:
    start = pd.Timestamp("2026-11-16", tz="UTC")
    outcome = judge(
        quiet_window, profile=reference_profile, params=monitor_params, start=start, end=start + pd.Timedelta(weeks=2)
    )
    assert any("2 reference weeks" in w for w in outcome.summary["bands"]["warnings"])


def test_a_profile_written_before_bands_and_roc_auc_is_judged_as_it_was(
    quiet_window: pd.DataFrame, reference_profile: Profile, monitor_params: MonitorParams, rng: np.random.Generator
) -> None:
    # Given the profile committed with an older model (a rollback): no ROC AUC, no bands
    raw = reference_profile.model_dump(mode="json")
    for key in ("roc_auc", "roc_auc_se"):
        raw["performance"].pop(key)
    raw.pop("bands")
    raw.pop("band_weeks")
    old = reference_profile_module.parse(raw, "old profile")
    # Then it loads, and performance is judged by average precision, as the params committed with it say
    quiet = {
        f.detector: f
        for f in run_all(quiet_window, total_rows=len(quiet_window), weeks=2.0, profile=old, params=monitor_params)
    }
    assert quiet["average_precision"].status == "ok"
    assert "roc_auc" not in quiet
    frame = quiet_window.copy()
    positives = np.flatnonzero((frame["label"] == 1).to_numpy() & (frame["prediction"] == 1).to_numpy())
    missed = rng.choice(positives, size=len(positives) * 2 // 3, replace=False)
    frame.loc[missed, "probability"] = frame["probability"].min()
    frame.loc[missed, "prediction"] = 0
    hurt = run_all(frame, total_rows=len(frame), weeks=2.0, profile=old, params=monitor_params)
    assert "average_precision" in _breached(hurt)
