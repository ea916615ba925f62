"""Estimator choice and the decision-threshold rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from mlops_template.core.config import (
    FixedRule,
    HistGradientBoostingParams,
    LogisticRegressionParams,
    MaxF1Rule,
    MinCostRule,
    MinPrecisionRule,
    MinRecallRule,
    TrainParams,
)
from mlops_template.core.errors import StageInputError
from mlops_template.model.estimator import build_classifier, choose_threshold


def _labels_scores(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    y[:2] = [0, 1]
    scores = np.clip(0.3 * y + rng.normal(0.35, 0.2, n), 0, 1)
    return y, scores


def _candidates(scores: np.ndarray) -> np.ndarray:
    return np.unique(scores)


# Plain numpy versions of the metrics: the property tests call them for every candidate threshold.
def precision_score(y: np.ndarray, flagged: np.ndarray, zero_division: float = 0.0) -> float:
    return float((y[flagged] == 1).mean()) if flagged.any() else zero_division


def recall_score(y: np.ndarray, flagged: np.ndarray) -> float:
    return float(flagged[y == 1].mean())


def f1_score(y: np.ndarray, flagged: np.ndarray) -> float:
    p, r = precision_score(y, flagged), recall_score(y, flagged)
    return 2 * p * r / (p + r) if p + r else 0.0


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (HistGradientBoostingParams(kind="hist_gradient_boosting"), HistGradientBoostingClassifier),
        (LogisticRegressionParams(kind="logistic_regression"), LogisticRegression),
    ],
)
def test_build_classifier_is_calibrated_and_seeded(model: object, expected: type) -> None:
    classifier = build_classifier(TrainParams.model_validate({"model": model}), seed=7)
    assert isinstance(classifier, CalibratedClassifierCV)
    assert isinstance(classifier.estimator, expected)
    assert classifier.estimator.random_state == 7


seeds = st.integers(0, 10_000)


@settings(max_examples=30, deadline=None)
@given(seeds)
def test_max_f1_beats_every_other_threshold(seed: int) -> None:
    y, scores = _labels_scores(seed)
    chosen = choose_threshold(y, scores, MaxF1Rule(rule="max_f1"))
    best = f1_score(y, scores >= chosen)
    assert all(best >= f1_score(y, scores >= t) - 1e-12 for t in _candidates(scores))


@settings(max_examples=30, deadline=None)
@given(seeds, st.floats(0.3, 0.6))
def test_min_precision_meets_target_with_most_recall(seed: int, target: float) -> None:
    y, scores = _labels_scores(seed)
    rule = MinPrecisionRule(rule="min_precision", target=target)
    feasible = [t for t in _candidates(scores) if precision_score(y, scores >= t, zero_division=0) >= target]
    if not feasible:
        with pytest.raises(StageInputError, match="no threshold reaches that precision"):
            choose_threshold(y, scores, rule)
        return
    chosen = choose_threshold(y, scores, rule)
    assert precision_score(y, scores >= chosen) >= target
    assert recall_score(y, scores >= chosen) == max(recall_score(y, scores >= t) for t in feasible)


@settings(max_examples=30, deadline=None)
@given(seeds, st.floats(0.05, 1.0))
def test_min_recall_meets_target(seed: int, target: float) -> None:
    y, scores = _labels_scores(seed)
    chosen = choose_threshold(y, scores, MinRecallRule(rule="min_recall", target=target))
    assert recall_score(y, scores >= chosen) >= target
    stricter = scores[scores > chosen]
    if stricter.size:  # the next higher threshold would miss the target
        assert recall_score(y, scores >= stricter.min()) < target


@settings(max_examples=30, deadline=None)
@given(seeds, st.floats(1, 100), st.floats(1, 100))
def test_min_cost_is_cheapest(seed: int, fn_cost: float, fp_cost: float) -> None:
    y, scores = _labels_scores(seed)
    chosen = choose_threshold(
        y, scores, MinCostRule(rule="min_cost", false_negative_cost=fn_cost, false_positive_cost=fp_cost)
    )

    def cost(t: float) -> float:
        flagged = scores >= t
        return float(fn_cost * np.sum(~flagged & (y == 1)) + fp_cost * np.sum(flagged & (y == 0)))

    options = [*_candidates(scores), np.inf]
    assert cost(chosen) <= min(cost(t) for t in options) + 1e-6


def test_fixed_rule_returns_its_value() -> None:
    y, scores = _labels_scores(0)
    assert choose_threshold(y, scores, FixedRule(rule="fixed", value=0.37)) == 0.37


def test_unreachable_precision_is_a_clear_error() -> None:
    y, scores = _labels_scores(1)
    with pytest.raises(StageInputError, match=r"train.threshold.target=1.0: no threshold .* \(best "):
        choose_threshold(y, np.full_like(scores, 0.5), MinPrecisionRule(rule="min_precision", target=1.0))


@given(arrays(np.float64, 20, elements=st.floats(0, 1)))
def test_one_class_validation_split_is_refused(scores: np.ndarray) -> None:
    with pytest.raises(StageInputError, match="one class only"):
        choose_threshold(np.zeros(20, dtype=int), scores, MaxF1Rule(rule="max_f1"))
