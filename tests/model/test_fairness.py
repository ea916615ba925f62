"""The fairness audit: per-group metrics against a direct computation, gaps, too-small groups, properties."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, equalized_odds_difference, false_positive_rate
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_template.core.config import FairnessGrouping, FairnessParams
from mlops_template.model import fairness

SETTINGS = FairnessParams(min_rows=5, min_positives=2, resamples=200)


def _rows(seed: int = 0, n: int = 600) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "channel": rng.choice(["atm", "online", "pos"], size=n, p=[0.02, 0.4, 0.58]),
            "age": pd.array(np.where(rng.random(n) < 0.05, None, rng.integers(18, 90, n)), dtype="Int64"),
        }
    )
    labels = (rng.random(n) < 0.2).astype(int)
    flagged = np.where(labels == 1, rng.random(n) < 0.6, rng.random(n) < 0.1)
    return frame, labels, flagged


def _by_hand(labels: np.ndarray, flagged: np.ndarray, members: np.ndarray) -> dict[str, float]:
    y, f = labels[members], flagged[members].astype(bool)
    return {
        "rows": float(members.sum()),
        "positives": float(y.sum()),
        "false_positive_rate": float((f & (y == 0)).sum() / (y == 0).sum()),
        "recall": float((f & (y == 1)).sum() / (y == 1).sum()),
        "flagged_share": float(f.mean()),
        "precision": float((f & (y == 1)).sum() / f.sum()),
    }


def test_per_group_metrics_match_a_direct_computation() -> None:
    frame, labels, flagged = _rows()
    split = fairness.grouping(frame, FairnessGrouping(column="channel"))
    found = fairness.audit(labels, {"model": flagged}, [split], SETTINGS, seed=1).models["model"]["channel"]
    for name in ("online", "pos"):
        expected = _by_hand(labels, flagged, (frame["channel"] == name).to_numpy())
        group = found.groups[name]
        assert {m: group.counts[m].value for m in fairness.COUNTS} == {m: expected[m] for m in fairness.COUNTS}
        for metric in fairness.RATES:
            assert group.rates[metric] is not None
            assert group.rates[metric].value == pytest.approx(expected[metric], abs=1e-12)  # type: ignore[union-attr]
    # The gaps are highest minus lowest judged group, named, and equalized odds is fairlearn's
    names = [name for name, group in found.groups.items() if group.too_small is None]
    rates = {name: _by_hand(labels, flagged, (frame["channel"] == name).to_numpy()) for name in names}
    recall = found.gaps["recall"]
    assert recall.interval is not None
    by_recall = [rates[name]["recall"] for name in names]
    assert recall.interval.value == pytest.approx(max(by_recall) - min(by_recall))
    assert rates[recall.highest]["recall"] == max(by_recall)  # type: ignore[index]
    judged = frame["channel"].isin(names).to_numpy()
    odds = equalized_odds_difference(labels[judged], flagged[judged], sensitive_features=frame["channel"][judged])
    assert found.gaps["equalized_odds"].interval.value == pytest.approx(odds)  # type: ignore[union-attr]
    ratio = found.gaps["flagged_share_ratio"].interval.value  # type: ignore[union-attr]
    shares = sorted(rates[name]["flagged_share"] for name in rates)
    assert ratio == pytest.approx(shares[0] / shares[-1])


def test_a_group_too_small_to_judge_says_so_and_is_left_out_of_the_gaps() -> None:
    frame, labels, flagged = _rows()
    rules = FairnessParams(min_rows=50, min_positives=2, resamples=200)
    split = fairness.grouping(frame, FairnessGrouping(column="channel"))
    result = fairness.audit(labels, {"model": flagged}, [split], rules, seed=1, positive="fraud")
    atm = result.as_json("model")["groupings"]["channel"]["groups"]["atm"]
    rows = int((frame["channel"] == "atm").sum())
    assert atm["too_small"] == f"{rows} rows, fewer than min_rows 50: too small to judge"
    assert atm["recall"] is None
    assert atm["rows"]["value"] == rows
    gaps = result.models["model"]["channel"].gaps
    assert {gaps["recall"].highest, gaps["recall"].lowest} == {"online", "pos"}
    # One judged group: no gap, and the reason
    alone = fairness.audit(labels, {"model": flagged}, [split], FairnessParams(min_rows=300), seed=1)
    gap = alone.as_json("model")["groupings"]["channel"]["gaps"]["recall"]
    assert gap == {"value": None, "reason": "1 group(s) large enough to judge: a gap needs two"}


def test_numeric_columns_are_cut_into_bands_with_missing_apart() -> None:
    frame, _, _ = _rows()
    split = fairness.grouping(frame, FairnessGrouping(column="age", bands=(30, 60)))
    assert split.labels == ("< 30", "[30, 60)", ">= 60", "missing")
    ages = frame["age"].to_numpy(dtype=float, na_value=np.nan)
    names = split.names().to_numpy()
    assert (names[np.isnan(ages)] == "missing").all()
    assert (names[ages == 30] == "[30, 60)").all()
    assert (names[ages < 30] == "< 30").all()


def test_metric_frame_runs_with_warnings_as_errors() -> None:
    frame, labels, flagged = _rows()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        split = fairness.grouping(frame, FairnessGrouping(column="channel"))
        fairness.metric_frame(labels, flagged, split.names())
        MetricFrame(
            metrics=false_positive_rate,
            y_true=labels,
            y_pred=flagged.astype(int),
            sensitive_features=split.names(),
            n_boot=5,
            ci_quantiles=[0.025, 0.975],
            random_state=1,
        )
        fairness.audit(labels, {"model": flagged}, [split], SETTINGS, seed=1)


def test_the_paired_difference_of_a_model_with_itself_is_zero() -> None:
    frame, labels, flagged = _rows()
    split = fairness.grouping(frame, FairnessGrouping(column="channel"))
    result = fairness.audit(labels, {"a": flagged, "b": flagged.copy()}, [split], SETTINGS, seed=1)
    for interval in result.differences["b"]["channel"].values():
        assert interval is not None
        assert (interval.value, interval.low, interval.high) == (0.0, 0.0, 0.0)


@settings(max_examples=25, deadline=None)
@given(
    labels=st.lists(st.integers(0, 1), min_size=8, max_size=40),
    flags=st.lists(st.booleans(), min_size=40, max_size=40),
)
def test_identical_groups_have_no_gap_and_intervals_hold_the_estimate(labels: list[int], flags: list[bool]) -> None:
    # Given two groups that are exact copies of the same rows
    y = np.array(labels * 2)
    f = np.array(flags[: len(labels)] * 2)
    frame = pd.DataFrame({"group": ["a"] * len(labels) + ["b"] * len(labels)})
    split = fairness.grouping(frame, FairnessGrouping(column="group"))
    rules = FairnessParams(min_rows=1, min_positives=1, resamples=100)
    result = fairness.audit(y, {"model": f}, [split], rules, seed=3)
    found = result.models["model"]["group"]
    # Then every gap is zero (parity: a ratio of 1) wherever it is defined
    for metric, gap in found.gaps.items():
        if gap.interval is not None:
            assert gap.interval.value == pytest.approx(1.0 if metric == "flagged_share_ratio" else 0.0)
            assert gap.interval.low <= gap.interval.value <= gap.interval.high
    # and every interval holds its point estimate
    for group in found.groups.values():
        for interval in [*group.counts.values(), *group.rates.values()]:
            if interval is not None:
                assert interval.low <= interval.value <= interval.high


def _four_groups(seed: int, recalls: tuple[float, ...], n: int = 800) -> fairness.Audit:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"group": rng.choice(["a", "b", "c", "d"], size=n)})
    labels = (rng.random(n) < 0.25).astype(int)
    recall = np.asarray(recalls)[fairness.grouping(frame, FairnessGrouping(column="group")).codes]
    flagged = np.where(labels == 1, rng.random(n) < recall, rng.random(n) < 0.05)
    split = fairness.grouping(frame, FairnessGrouping(column="group"))
    rules = FairnessParams(min_rows=20, min_positives=5, resamples=200, confidence=0.95)
    return fairness.audit(labels, {"model": flagged}, [split], rules, seed=seed)


@pytest.mark.slow  # 200 audits
def test_four_identical_groups_show_a_gap_beyond_a_small_max_gap_at_most_at_the_nominal_rate() -> None:
    # Given four groups with the same recall (0.6) and false positive rate, over many seeds
    seeds, alpha, max_gap = 200, 0.05, 0.02
    above = {"recall": 0, "false_positive_rate": 0, "equalized_odds": 0}
    for seed in range(seeds):
        gaps = _four_groups(seed, (0.6, 0.6, 0.6, 0.6)).models["model"]["group"].gaps
        for metric in above:
            interval = gaps[metric].interval
            assert interval is not None
            assert 0.0 <= interval.low <= interval.value <= interval.high <= 1.0
            above[metric] += interval.low > max_gap
        ratio = gaps["flagged_share_ratio"].interval
        assert ratio is not None
        assert 0.0 <= ratio.low <= ratio.value <= ratio.high <= 1.0
    # Then the lower bound exceeds a small max_gap in at most about alpha of the runs (slack: 2 alpha)
    assert all(count <= 2 * alpha * seeds for count in above.values()), above


def test_a_real_large_gap_among_four_groups_is_still_caught() -> None:
    # Given one group whose recall is 0.9 and three at 0.4
    for seed in range(5):
        gap = _four_groups(seed, (0.4, 0.9, 0.4, 0.4), n=4000).models["model"]["group"].gaps["recall"]
        assert gap.interval is not None
        assert gap.highest == "b"
        assert gap.interval.low > 0.3
        assert gap.interval.low <= 0.5 <= gap.interval.high
