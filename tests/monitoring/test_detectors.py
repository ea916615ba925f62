"""Each detector: quiet on drift-free weeks, a breach of its own kind when its harm is there."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_template.core.config import MonitorParams
from mlops_template.model.artifact import ServedModel
from mlops_template.model.scoring import served_scores
from mlops_template.monitoring import detectors
from mlops_template.monitoring.detectors import Finding
from mlops_template.monitoring.monitor import judge
from mlops_template.monitoring.reference_profile import Profile
from tests.support.monitoring_reference import REFERENCE_WEEKS, build_reference, monitor_source, weeks_rows, window
from tests.support.monitoring_windows import log_frame

START = pd.Timestamp("2026-11-16", tz="UTC")  # Monday of 2026-W47
END = START + pd.Timedelta(weeks=2)


def run(frame: pd.DataFrame, profile: Profile, params: MonitorParams, rows: int | None = None) -> list[Finding]:
    return detectors.run_all(frame, total_rows=rows or len(frame), weeks=2.0, profile=profile, params=params)


def by_name(findings: list[Finding]) -> dict[str, Finding]:
    return {f.detector: f for f in findings}


def breached(findings: list[Finding]) -> set[str]:
    return {f.detector for f in findings if f.status == "breach"}


def test_drift_free_weeks_raise_no_alarm(
    quiet_window: pd.DataFrame, reference_profile: Profile, monitor_params: MonitorParams
) -> None:
    # Given two later drift-free weeks (account ages 2-3 weeks older than the reference's)
    findings = run(quiet_window, reference_profile, monitor_params)
    # Then every detector judged, and none breached
    assert {f.status for f in findings} == {"ok"}
    assert breached(findings) == set()
    names = by_name(findings)
    assert {
        "roc_auc",
        "recall_at_threshold",
        "observed_vs_expected",
        "flagged_share",
        "rows_per_week",
    } <= set(names)
    assert "psi:account_age_days" in names
    assert "missing:customer_age" in names
    assert "missing:amount" not in names  # amount may not be missing: a missing one is a contract violation


def test_a_trending_input_alarms_unless_declared(
    quiet_window: pd.DataFrame, reference_profile: Profile, monitor_params: MonitorParams, served: ServedModel
) -> None:
    # Given the same weeks half a year later (account ages grow a day a day)
    later = quiet_window.assign(
        timestamp=quiet_window["timestamp"] + pd.Timedelta(days=182),
        account_age_days=quiet_window["account_age_days"] + 182,
    )
    # Then the declared trend moves the reference with it: quiet
    assert "psi:account_age_days" not in breached(run(later, reference_profile, monitor_params))
    # And without the declaration (in the profile too) the same rows are input drift
    undeclared = monitor_params.model_copy(update={"drift": monitor_params.drift.model_copy(update={"trending": {}})})
    still = build_reference(served, undeclared)
    found = by_name(run(later, still, undeclared))["psi:account_age_days"]
    assert found.status == "breach"
    assert found.kind == "input_drift"
    # And an ignored input is not compared at all
    ignoring = monitor_params.model_copy(
        update={"drift": monitor_params.drift.model_copy(update={"trending": {}, "ignored": ("account_age_days",)})}
    )
    assert "psi:account_age_days" not in by_name(run(later, still, ignoring))


def test_missed_positives_are_a_performance_breach(
    quiet_window: pd.DataFrame, reference_profile: Profile, monitor_params: MonitorParams, rng: np.random.Generator
) -> None:
    # Given half of the flagged positives now scored as the lowest legit rows (a new pattern the model misses)
    frame = quiet_window
    hit = np.flatnonzero((frame["label"] == 1).to_numpy() & (frame["prediction"] == 1).to_numpy())
    missed = rng.choice(hit, size=len(hit) // 2, replace=False)
    frame.loc[missed, "probability"] = frame["probability"].min()
    frame.loc[missed, "prediction"] = 0
    findings = by_name(run(frame, reference_profile, monitor_params))
    # Then recall at the threshold breaches, named performance, with its interval in the reason
    recall = findings["recall_at_threshold"]
    assert recall.status == "breach"
    assert recall.kind == "performance"
    assert recall.statistic is not None
    assert recall.statistic >= monitor_params.performance.recall_max_drop
    assert recall.p_value is not None
    assert recall.p_value < monitor_params.family_alpha
    low, high = recall.details["interval"]
    assert low <= recall.details["live"] <= high


def test_too_few_labels_is_insufficient_not_an_alarm(
    served: ServedModel, reference_profile: Profile, monitor_params: MonitorParams
) -> None:
    # Given a window judged right after its first day: almost no label has arrived
    frame = window(served, now=START + pd.Timedelta(days=3))
    findings = by_name(run(frame, reference_profile, monitor_params))
    # Then performance and calibration cannot judge: insufficient, not a breach
    for name in ("roc_auc", "recall_at_threshold"):
        assert findings[name].status == "insufficient"
        assert "labelled positives" in findings[name].reason
    assert findings["flagged_share"].status == "ok"
    # And the whole run says so (exit 5 in the command)
    outcome = judge(frame, profile=reference_profile, params=monitor_params, start=START, end=END)
    assert outcome.status == "insufficient"
    assert outcome.exit_code == 5


def test_a_higher_base_rate_is_a_calibration_breach(
    quiet_window: pd.DataFrame, reference_profile: Profile, monitor_params: MonitorParams, rng: np.random.Generator
) -> None:
    # Given half again as many positives as the scores expect, among rows the model scores low
    frame = quiet_window
    legit = np.flatnonzero((frame["label"] == 0).to_numpy())
    extra = rng.choice(legit, size=int(frame["label"].sum()) // 2, replace=False)
    frame.loc[extra, "label"] = 1
    found = by_name(run(frame, reference_profile, monitor_params))["observed_vs_expected"]
    assert found.status == "breach"
    assert found.kind == "calibration"
    assert "under-predicts" in found.reason


def test_more_flagged_rows_are_a_volume_breach(
    quiet_window: pd.DataFrame, reference_profile: Profile, monitor_params: MonitorParams
) -> None:
    # Given the next-riskiest rows flagged too, so that about 60% more rows are flagged
    frame = quiet_window
    flagged = int(frame["prediction"].sum())
    below = frame.index[frame["prediction"] == 0]
    riskiest = frame.loc[below, "probability"].nlargest(int(flagged * 0.6)).index
    frame.loc[riskiest, "prediction"] = 1
    found = by_name(run(frame, reference_profile, monitor_params))["flagged_share"]
    assert found.status == "breach"
    assert found.kind == "volume"


def test_traffic_volume_outside_the_ratio_breaches(
    quiet_window: pd.DataFrame, reference_profile: Profile, monitor_params: MonitorParams
) -> None:
    ratio = monitor_params.volume.rows_per_week_max_ratio
    assert ratio is not None
    # Given the same window reporting a quarter of its traffic (three replicas' logs lost) ...
    quiet = by_name(run(quiet_window, reference_profile, monitor_params))["rows_per_week"]
    assert quiet.status == "ok"
    shrunk = by_name(run(quiet_window, reference_profile, monitor_params, rows=int(len(quiet_window) / (ratio + 1))))
    assert shrunk["rows_per_week"].status == "breach"
    assert shrunk["rows_per_week"].kind == "volume"
    # ... and with the rule switched off, no rows_per_week detector
    off = monitor_params.model_copy(
        update={"volume": monitor_params.volume.model_copy(update={"rows_per_week_max_ratio": None})}
    )
    assert "rows_per_week" not in by_name(run(quiet_window, reference_profile, off))


def test_larger_amounts_are_input_drift(
    quiet_window: pd.DataFrame, reference_profile: Profile, monitor_params: MonitorParams
) -> None:
    frame = quiet_window.assign(amount=quiet_window["amount"] * 2.0)
    found = by_name(run(frame, reference_profile, monitor_params))["psi:amount"]
    assert found.status == "breach"
    assert found.kind == "input_drift"
    assert found.statistic is not None
    assert found.statistic >= monitor_params.drift.psi_threshold


def test_a_category_mix_shift_is_input_drift(
    quiet_window: pd.DataFrame, reference_profile: Profile, monitor_params: MonitorParams
) -> None:
    frame = quiet_window
    pos = frame.index[frame["channel"] == "pos"]
    frame.loc[pos[: len(pos) // 2], "channel"] = "atm"
    found = by_name(run(frame, reference_profile, monitor_params))["psi:channel"]
    assert found.status == "breach"


def test_scores_pushed_up_are_score_drift(
    quiet_window: pd.DataFrame, reference_profile: Profile, monitor_params: MonitorParams
) -> None:
    frame = quiet_window.assign(probability=np.minimum(quiet_window["probability"] * 2.5, 1.0))
    found = by_name(run(frame, reference_profile, monitor_params))["score_psi"]
    assert found.status == "breach"
    assert found.kind == "input_drift"


def test_an_emptied_field_is_a_data_quality_breach(
    quiet_window: pd.DataFrame, reference_profile: Profile, monitor_params: MonitorParams
) -> None:
    # Given an upstream export that lost customer_age for a third of the rows
    frame = quiet_window
    frame.loc[frame.index[: len(frame) // 3], "customer_age"] = pd.NA
    found = by_name(run(frame, reference_profile, monitor_params))["missing:customer_age"]
    assert found.status == "breach"
    assert found.kind == "data_quality"


def test_contract_violations_in_the_log_are_a_data_quality_breach(
    quiet_window: pd.DataFrame, reference_profile: Profile, monitor_params: MonitorParams
) -> None:
    # Given a log written by a producer that does not check the contract: 3% bad rows
    frame = quiet_window.astype({"merchant_category": object, "amount": object})
    bad = len(frame) * 3 // 100
    frame.loc[frame.index[:bad], "merchant_category"] = "casino"
    frame.loc[frame.index[bad : 2 * bad], "amount"] = -5.0
    found = by_name(run(frame, reference_profile, monitor_params))["contract_violations"]
    assert found.status == "breach"
    assert found.kind == "data_quality"
    assert found.statistic == pytest.approx(2 * bad / len(frame))
    assert found.details["by_input"] == {"amount": bad, "merchant_category": bad}


def test_bonferroni_needs_both_the_effect_and_significance() -> None:
    # Given three tests and a family alpha of 0.03: each is judged at 0.01
    def finding(name: str, p: float | None, exceeds: bool) -> Finding:
        return Finding("input_drift", name, "ok", 1.0, 0.5, p, name, exceeds=exceeds)

    decided = detectors.decide(
        [
            finding("big-and-significant", 0.009, True),
            finding("big-not-significant", 0.011, True),
            finding("significant-but-small", 1e-9, False),
            finding("rule-without-test", None, True),
        ],
        family_alpha=0.03,
    )
    assert [f.status for f in decided] == ["breach", "ok", "ok", "breach"]
    assert decided[0].details["alpha"] == pytest.approx(0.01)


def test_breaches_are_ordered_by_harm() -> None:
    def finding(kind: detectors.Kind) -> Finding:
        return Finding(kind, kind, "breach", 1.0, 0.5, None, kind)

    ordered = detectors.breaches([finding("input_drift"), finding("volume"), finding("performance")])
    assert [f.kind for f in ordered] == ["performance", "volume", "input_drift"]


def test_the_reference_weeks_against_themselves_are_identical(
    served: ServedModel, reference_profile: Profile, monitor_params: MonitorParams
) -> None:
    # Given the reference's own rows as the window (trending inputs moved to the same time on both sides)
    rows = weeks_rows(monitor_source(), REFERENCE_WEEKS)
    frame = log_frame(rows, served_scores(served, rows), served, seed=1)
    findings = run(frame, reference_profile, monitor_params)
    # Then every distribution is the reference's exactly, and nothing breaches
    drift = [f for f in findings if f.kind == "input_drift"]
    assert len(drift) == len(reference_profile.inputs) + 1
    assert all(f.statistic == 0.0 for f in drift)
    assert all(f.p_value == pytest.approx(1.0) for f in drift)
    performance = by_name(findings)
    assert performance["roc_auc"].statistic == pytest.approx(0.0, abs=1e-6)
    assert performance["recall_at_threshold"].statistic == pytest.approx(0.0, abs=1e-6)
    assert breached(findings) == set()
