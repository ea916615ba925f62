"""Each bootstrap statistic equals its metric: at unit weights, and at integer weights on repeated rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_template.model.metric_statistics import METRICS, classification_statistics
from mlops_template.model.metrics import classification_metrics

BINS = 10
TOLERANCE = 2e-6  # classification_metrics rounds to 6 digits


@st.composite
def scored_rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Labels with both classes, scores on a coarse grid (ties happen), integer weights, a threshold."""
    rows = draw(st.integers(min_value=2, max_value=40))
    labels = np.array(draw(st.lists(st.integers(0, 1), min_size=rows, max_size=rows)))
    labels[0], labels[1] = 0, 1
    scores = np.array(draw(st.lists(st.integers(0, 20), min_size=rows, max_size=rows))) / 20.0
    weights = np.array(draw(st.lists(st.integers(0, 3), min_size=rows, max_size=rows)))
    weights[0] += 1
    weights[1] += 1  # both classes keep a weight
    threshold = draw(st.sampled_from([0.0, 0.25, 0.5, 0.95, 1.0]))
    return labels, scores, weights, threshold


def _close(found: float, expected: float | None) -> bool:
    if expected is None:
        return math.isnan(found)
    return abs(found - expected) <= TOLERANCE


@settings(max_examples=150, deadline=None)
@given(scored_rows())
def test_each_statistic_is_its_metric_on_the_rows_the_weights_repeat(
    case: tuple[np.ndarray, np.ndarray, np.ndarray, float],
) -> None:
    labels, scores, weights, threshold = case
    statistics = classification_statistics(labels, scores, threshold, BINS)
    assert tuple(statistics) == METRICS
    unit = classification_metrics(labels, scores, threshold, BINS)
    repeated = classification_metrics(np.repeat(labels, weights), np.repeat(scores, weights), threshold, BINS)
    for name, statistic in statistics.items():
        at_unit, at_weights = statistic(np.vstack([np.ones(len(labels)), weights]))
        assert _close(float(at_unit), unit[name]), (name, at_unit, unit[name])
        assert _close(float(at_weights), repeated[name]), (name, at_weights, repeated[name])


def test_a_model_that_flags_nothing_has_zero_precision_and_f1_not_nan() -> None:
    labels = np.array([0, 1, 0, 1])
    statistics = classification_statistics(labels, np.full(4, 0.1), threshold=0.5, bins=BINS)
    weights = np.ones((1, 4))
    assert statistics["precision"](weights)[0] == 0.0
    assert statistics["f1"](weights)[0] == 0.0
    assert statistics["roc_auc"](weights)[0] == pytest.approx(0.5)
    assert math.isnan(statistics["roc_auc"](np.array([[1.0, 0.0, 1.0, 0.0]]))[0])  # no positive drawn
