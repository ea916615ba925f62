"""Metric computations: calibration error, curves, slices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_template.model.metrics import (
    calibration_points,
    classification_metrics,
    expected_calibration_error,
    precision_recall_points,
    roc_points,
    slice_metrics,
)


def test_perfectly_calibrated_scores_have_zero_error() -> None:
    scores = np.repeat([0.05, 0.25, 0.75], 100)
    y = np.concatenate(
        [np.r_[np.ones(5), np.zeros(95)], np.r_[np.ones(25), np.zeros(75)], np.r_[np.ones(75), np.zeros(25)]]
    )
    assert expected_calibration_error(y, scores, bins=10) == pytest.approx(0.0)


def test_overconfident_scores_have_their_gap_as_error() -> None:
    y = np.r_[np.ones(50), np.zeros(50)]
    assert expected_calibration_error(y, np.full(100, 0.9), bins=10) == pytest.approx(0.4)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 30))
def test_calibration_error_is_bounded_and_matches_points(seed: int, bins: int) -> None:
    rng = np.random.default_rng(seed)
    scores, y = rng.random(300), (rng.random(300) < 0.3).astype(int)
    error = expected_calibration_error(y, scores, bins)
    assert 0.0 <= error <= 1.0
    table = calibration_points(y, scores, bins)
    weighted = (table["rows"] / 300 * (table["fraction_positive"] - table["mean_predicted"]).abs()).sum()
    assert weighted == pytest.approx(error, abs=1e-5)
    assert table["rows"].sum() == 300


def test_metrics_of_a_perfect_ranker() -> None:
    y = np.r_[np.zeros(90), np.ones(10)].astype(int)
    scores = np.r_[np.full(90, 0.1), np.full(10, 0.9)]
    found = classification_metrics(y, scores, threshold=0.5, bins=10)
    assert found["roc_auc"] == found["average_precision"] == found["precision"] == found["recall"] == 1.0
    assert found["flagged_share"] == 0.1
    assert found["brier"] == pytest.approx(0.01)


def test_one_class_gives_undefined_ranking_metrics() -> None:
    found = classification_metrics(np.zeros(10, dtype=int), np.linspace(0, 1, 10), threshold=0.5, bins=5)
    assert found["roc_auc"] is None
    assert found["average_precision"] is None
    assert found["precision"] == 0.0


@pytest.mark.parametrize("points", [10, 50])
def test_curves_are_thinned_but_keep_their_ends(points: int) -> None:
    rng = np.random.default_rng(0)
    y, scores = (rng.random(5000) < 0.1).astype(int), rng.random(5000)
    roc = roc_points(y, scores, points)
    pr = precision_recall_points(y, scores, points)
    assert len(roc) <= points
    assert len(pr) <= points
    assert (roc.iloc[0]["fpr"], roc.iloc[0]["tpr"]) == (0.0, 0.0)
    assert (roc.iloc[-1]["fpr"], roc.iloc[-1]["tpr"]) == (1.0, 1.0)
    assert roc["threshold"].max() <= 1.0
    assert pr.iloc[0]["recall"] == 1.0


def test_slices_skip_small_groups_and_name_missing() -> None:
    rng = np.random.default_rng(1)
    slices = pd.DataFrame({"channel": ["pos"] * 150 + ["atm"] * 20 + [None] * 130})
    y, scores = (rng.random(300) < 0.2).astype(int), rng.random(300)
    found = slice_metrics(slices, y, scores, threshold=0.5, bins=10, min_rows=100)
    assert set(found["channel"]) == {"pos", "missing"}
    assert found["channel"]["pos"]["rows"] == 150
    assert found["channel"]["pos"]["positives"] == int(y[:150].sum())
