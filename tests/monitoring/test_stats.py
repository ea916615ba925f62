"""Properties of the monitor's statistics (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import average_precision_score

from mlops_template.monitoring import stats

counts = st.lists(st.integers(0, 5000), min_size=2, max_size=20)


@given(counts, st.integers(1, 20))
def test_identical_distributions_never_breach(reference: list[int], scale: int) -> None:
    # Given a live window with exactly the reference's proportions (any size)
    assume(sum(reference) > 0)
    live = [c * scale for c in reference]
    # Then no drift: PSI 0 and a test that cannot reject (nothing beats any threshold or alpha)
    assert stats.psi(np.array(reference), np.array(live)) == pytest.approx(0.0, abs=1e-12)
    assert stats.homogeneity_p_value(np.array(reference), np.array(live)) == pytest.approx(1.0)


@given(st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 5000)), min_size=2, max_size=20))
def test_psi_is_symmetric_and_never_negative(pairs: list[tuple[int, int]]) -> None:
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    assume(a.sum() > 0 and b.sum() > 0)
    assert stats.psi(a, b) >= 0.0
    assert stats.psi(a, b) == pytest.approx(stats.psi(b, a))


@settings(max_examples=40, deadline=None)
@given(st.floats(0.45, 2.0), st.integers(0, 2**32 - 1))
def test_a_shift_beyond_a_size_is_detected(shift: float, seed: int) -> None:
    # Given 5,000 reference and 5,000 live values, the live ones shifted by `shift` standard deviations
    rng = np.random.default_rng(seed)
    reference = rng.normal(0.0, 1.0, 5000)
    edges = stats.quantile_edges(reference, 10)
    live = rng.normal(shift, 1.0, 5000)
    found = stats.psi(stats.bin_counts(reference, edges), stats.bin_counts(live, edges))
    p_value = stats.homogeneity_p_value(stats.bin_counts(reference, edges), stats.bin_counts(live, edges))
    # Then the shipped drift threshold (0.1) is passed (PSI is about shift ** 2 for a normal's mean shift)
    # and the test rejects at any Bonferroni alpha the monitor uses
    assert found >= 0.1
    assert p_value < 1e-6


@given(arrays(np.float64, st.integers(1, 300), elements=st.floats(-1e6, 1e6)), st.integers(2, 20))
def test_bins_count_every_finite_value_once(values: np.ndarray, bins: int) -> None:
    edges = stats.quantile_edges(values, bins)
    found = stats.bin_counts(values, edges)
    assert found.sum() == np.isfinite(values).sum()
    assert len(found) == len(edges) + 1
    assert np.all(np.diff(edges) > 0)


@given(st.integers(0, 500), st.integers(0, 500), st.floats(0.5, 0.999))
def test_wilson_interval_contains_the_estimate(hits: int, extra: int, confidence: float) -> None:
    total = hits + extra
    low, high = stats.wilson_interval(hits, total, confidence)
    assert 0.0 <= low <= high <= 1.0
    if total:
        assert low <= hits / total <= high


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(20, 400), st.integers(2, 50))
def test_vectorised_average_precision_is_scikit_learns(seed: int, rows: int, levels: int) -> None:
    # Given scores with many ties (isotonic calibration gives steps) and both classes
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.2).astype(int)
    assume(0 < labels.sum() < rows)
    scores = np.round(rng.random(rows) * (levels - 1)) / (levels - 1) * 0.5 + labels * 0.2 * rng.random(rows)
    found = stats.weighted_average_precision(labels, scores, np.ones((1, rows)))[0]
    assert found == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    # And integer weights are the same as repeating rows
    weights = rng.integers(0, 3, rows)
    assume(labels[weights > 0].sum() > 0)
    repeated = np.repeat(np.arange(rows), weights)
    expected = average_precision_score(labels[repeated], scores[repeated])
    assert stats.weighted_average_precision(labels, scores, weights[None, :])[0] == pytest.approx(expected, abs=1e-12)


def test_bootstrap_replicates_spread_around_the_estimate() -> None:
    rng = np.random.default_rng(3)
    labels = (rng.random(4000) < 0.03).astype(int)
    scores = rng.random(4000) * 0.3 + labels * rng.random(4000) * 0.5
    point, replicates = stats.bootstrap_average_precision(labels, scores, 300, seed=1)
    assert len(replicates) == 300
    low, high = np.quantile(replicates, [0.025, 0.975])
    assert low < point < high
    # Seeded: the same draws again
    assert np.array_equal(stats.bootstrap_average_precision(labels, scores, 300, seed=1)[1], replicates)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_calibrated_scores_pass_and_scaled_ones_fail(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.beta(0.5, 20, 20_000)
    labels = (rng.random(len(scores)) < scores).astype(int)
    assert stats.calibration_p_value(labels, scores) > 1e-4
    assert stats.calibration_p_value(labels, scores * 0.5) < 1e-6
