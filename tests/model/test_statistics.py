"""Properties of the statistics the gate and the monitor share (hypothesis; scikit-learn is the oracle)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import average_precision_score, recall_score

from mlops_template.data import schema
from mlops_template.model import statistics
from mlops_template.model.statistics import Bootstrap, Interval, Statistic

FAST = {"resamples": 200, "confidence": 0.9}
values = arrays(np.float64, st.integers(5, 60), elements=st.floats(-100, 100, allow_nan=False, width=32))
counts = st.lists(st.integers(0, 5000), min_size=2, max_size=20)


def weighted_mean(x: np.ndarray) -> Statistic:
    return lambda weights: (weights @ x) / weights.sum(axis=1)


@st.composite
def weighted_rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, scores on a few levels (many ties, as isotonic calibration gives) and row weights (zeros too)."""
    n = draw(st.integers(1, 60))
    labels = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    levels = draw(st.lists(st.floats(0, 1), min_size=1, max_size=8, unique=True))
    scores = np.array(draw(st.lists(st.sampled_from(levels), min_size=n, max_size=n)))
    weight = st.one_of(st.just(0.0), st.integers(1, 3).map(float), st.floats(0.01, 10))
    weights = np.array(draw(st.lists(weight, min_size=n, max_size=n)))
    return labels, scores, weights


@st.composite
def labelled_scores(draw: st.DrawFn, min_rows: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Labels with both classes (five positives at least, so resamples hold one) and tied scores."""
    n = draw(st.integers(min_rows, 80))
    labels = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    labels[:6] = [0, 1, 1, 1, 1, 1]
    scores = np.array(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))).round(1)
    return labels, scores


# --- metrics over weighted rows: scikit-learn's, with sample weights ----------------------------------------


@given(weighted_rows())
@settings(max_examples=200, deadline=None)
def test_weighted_average_precision_is_scikit_learns(rows: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    labels, scores, weights = rows
    assume(weights[labels == 1].sum() > 0)
    found = statistics.average_precision(labels, scores)(weights[None, :])[0]
    assert found == pytest.approx(average_precision_score(labels, scores, sample_weight=weights), abs=1e-9)


@given(weighted_rows(), st.floats(0, 1))
@settings(max_examples=200, deadline=None)
def test_weighted_recall_is_scikit_learns(rows: tuple[np.ndarray, np.ndarray, np.ndarray], threshold: float) -> None:
    labels, scores, weights = rows
    assume(weights[labels == 1].sum() > 0)
    flagged = scores >= threshold
    found = statistics.recall(labels, flagged)(weights[None, :])[0]
    assert found == pytest.approx(recall_score(labels, flagged, sample_weight=weights), abs=1e-9)


@given(weighted_rows())
def test_without_a_weighted_positive_the_metrics_are_undefined(rows: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    labels, scores, weights = rows
    weights = np.where(labels == 1, 0.0, weights)
    assert np.isnan(statistics.average_precision(labels, scores)(weights[None, :])[0])
    assert np.isnan(statistics.recall(labels, scores >= 0.5)(weights[None, :])[0])


@given(weighted_rows(), st.integers(0, 2**32 - 1))
@settings(max_examples=50, deadline=None)
def test_a_replicates_value_does_not_depend_on_its_chunk(
    rows: tuple[np.ndarray, np.ndarray, np.ndarray], seed: int
) -> None:
    # Given many resamples evaluated at once, and each one alone
    labels, scores, _ = rows
    weights = statistics.resample_weights(len(labels), 7, np.random.default_rng(seed))
    for statistic in (statistics.average_precision(labels, scores), statistics.recall(labels, scores >= 0.5)):
        together = statistic(weights)
        # Then every bit agrees: the chunk size cannot move an interval
        alone = np.concatenate([statistic(weights[k : k + 1]) for k in range(len(weights))])
        assert np.array_equal(together, alone, equal_nan=True)


# --- the bootstrap ------------------------------------------------------------------------------------------------


@given(st.integers(1, 300), st.integers(0, 250), st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_resamples_draw_every_row_count_with_replacement(rows: int, replicates: int, seed: int) -> None:
    weights = statistics.resample_weights(rows, replicates, np.random.default_rng(seed))
    assert weights.shape == (replicates, rows)
    assert (weights >= 0).all()
    assert (weights.sum(axis=1) == rows).all()


@given(st.integers(1, 300), st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_more_resamples_only_add_replicates(resamples: int, seed: int) -> None:
    # Given a statistic that tells the resamples apart
    x = np.arange(50, dtype=np.float64) ** 2
    few = statistics.bootstrap(len(x), {"m": weighted_mean(x)}, resamples, seed)["m"]
    more = statistics.bootstrap(len(x), {"m": weighted_mean(x)}, resamples + 137, seed)["m"]
    # Then the seeded draws are the same whatever the count and the chunking
    assert len(few) == resamples
    assert np.array_equal(more[:resamples], few)


def test_every_statistic_sees_the_same_resample() -> None:
    x = np.random.default_rng(0).normal(size=40)
    found = statistics.bootstrap(len(x), {"a": weighted_mean(x), "b": weighted_mean(x)}, 250, seed=1)
    assert np.array_equal(found["a"], found["b"])
    assert np.unique(found["a"]).size > 200


@given(arrays(np.float64, st.integers(1, 200), elements=st.floats(-1e6, 1e6)), st.floats(0.5, 0.99))
def test_a_percentile_interval_is_ordered_and_within_the_replicates(replicates: np.ndarray, confidence: float) -> None:
    interval = statistics.percentile_interval(1.5, replicates, confidence)
    assert interval.value == 1.5
    assert replicates.min() <= interval.low <= interval.high <= replicates.max()


def test_bootstrap_replicates_spread_around_the_estimate() -> None:
    rng = np.random.default_rng(3)
    labels = (rng.random(4000) < 0.03).astype(int)
    scores = rng.random(4000) * 0.3 + labels * rng.random(4000) * 0.5
    point, replicates = statistics.bootstrap_average_precision(labels, scores, 300, seed=1)
    assert point == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    assert len(replicates) == 300
    low, high = np.quantile(replicates, [0.025, 0.975])
    assert low < point < high
    # Seeded: the same draws again
    assert np.array_equal(statistics.bootstrap_average_precision(labels, scores, 300, seed=1)[1], replicates)


# --- the paired bootstrap -----------------------------------------------------------------------------------------


@given(x=values, shift=st.floats(-5, 5, allow_nan=False))
@settings(max_examples=40, deadline=None)
def test_a_constant_shift_gives_a_difference_interval_at_the_shift(x: np.ndarray, shift: float) -> None:
    result = statistics.paired_bootstrap(
        len(x), {"m": weighted_mean(x + shift)}, {"m": weighted_mean(x)}, **FAST, seed=1
    )
    assert result.difference is not None
    diff = result.difference["m"]
    assert diff.value == pytest.approx(shift, abs=1e-5)
    assert diff.low == pytest.approx(shift, abs=1e-5)
    assert diff.high == pytest.approx(shift, abs=1e-5)
    assert diff.low - 1e-6 <= diff.value <= diff.high + 1e-6


@given(x=values.filter(lambda a: np.ptp(a) > 1e-3))
@settings(max_examples=30, deadline=None)
def test_intervals_narrow_as_rows_grow(x: np.ndarray) -> None:
    small = statistics.paired_bootstrap(len(x), {"m": weighted_mean(x)}, None, resamples=400, confidence=0.9, seed=3)
    large_x = np.tile(x, 16)  # the same distribution, 16 times the rows: the width should fall ~4x
    large = statistics.paired_bootstrap(
        len(large_x), {"m": weighted_mean(large_x)}, None, resamples=400, confidence=0.9, seed=3
    )
    width = small.candidate["m"].high - small.candidate["m"].low
    assert large.candidate["m"].high - large.candidate["m"].low < width / 2


def metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Statistic]:
    return {
        "average_precision": statistics.average_precision(labels, scores),
        "recall": statistics.recall(labels, scores >= threshold),
    }


@given(data=labelled_scores(), threshold=st.floats(0.05, 0.95))
@settings(max_examples=40, deadline=None)
def test_identical_models_have_a_zero_difference_and_ordered_bounds(
    data: tuple[np.ndarray, np.ndarray], threshold: float
) -> None:
    labels, scores = data
    same = metrics(labels, scores, threshold)
    result = statistics.paired_bootstrap(len(labels), same, metrics(labels, scores, threshold), **FAST, seed=5)
    assert result.difference is not None
    for name in ("average_precision", "recall"):
        assert result.difference[name] == Interval(0.0, 0.0, 0.0)
        interval = result.candidate[name]
        assert 0.0 <= interval.low <= interval.high <= 1.0


@given(data=labelled_scores(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_the_same_seed_gives_the_same_intervals(data: tuple[np.ndarray, np.ndarray], seed: int) -> None:
    labels, scores = data
    other = np.clip(scores[::-1], 0, 1)

    def once() -> Bootstrap:
        return statistics.paired_bootstrap(
            len(labels), metrics(labels, scores, 0.5), metrics(labels, other, 0.5), **FAST, seed=seed
        )

    assert once() == once()


def test_a_resample_without_positives_is_undefined_and_too_many_refuse_the_rows() -> None:
    labels = np.array([1] + [0] * 99)
    statistic = statistics.recall(labels, labels.astype(bool))
    assert np.isnan(statistic(np.r_[0.0, np.ones(99)][None, :])[0])
    with pytest.raises(statistics.BootstrapError, match=f"too few {schema.POSITIVE_CLASS} cases"):
        statistics.paired_bootstrap(100, {"recall": statistic}, None, resamples=200, confidence=0.9, seed=0)


def test_intervals_are_rounded_only_in_files() -> None:
    interval = Interval(1 / 3, 0.1234567, 0.7654321)
    assert interval.as_dict() == {"value": 0.333333, "low": 0.123457, "high": 0.765432}


# --- the monitor's tests ------------------------------------------------------------------------------------------


@given(counts, st.integers(1, 20))
def test_identical_distributions_never_breach(reference: list[int], scale: int) -> None:
    # Given a live window with exactly the reference's proportions (any size)
    assume(sum(reference) > 0)
    live = [c * scale for c in reference]
    # Then no drift: PSI 0 and a test that cannot reject (nothing beats any threshold or alpha)
    assert statistics.psi(np.array(reference), np.array(live)) == pytest.approx(0.0, abs=1e-12)
    assert statistics.homogeneity_p_value(np.array(reference), np.array(live)) == pytest.approx(1.0)


@given(st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 5000)), min_size=2, max_size=20))
def test_psi_is_symmetric_and_never_negative(pairs: list[tuple[int, int]]) -> None:
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    assume(a.sum() > 0 and b.sum() > 0)
    assert statistics.psi(a, b) >= 0.0
    assert statistics.psi(a, b) == pytest.approx(statistics.psi(b, a))


@settings(max_examples=40, deadline=None)
@given(st.floats(0.45, 2.0), st.integers(0, 2**32 - 1))
def test_a_shift_beyond_a_size_is_detected(shift: float, seed: int) -> None:
    # Given 5,000 reference and 5,000 live values, the live ones shifted by `shift` standard deviations
    rng = np.random.default_rng(seed)
    reference = rng.normal(0.0, 1.0, 5000)
    edges = statistics.quantile_edges(reference, 10)
    live = rng.normal(shift, 1.0, 5000)
    found = statistics.psi(statistics.bin_counts(reference, edges), statistics.bin_counts(live, edges))
    p_value = statistics.homogeneity_p_value(
        statistics.bin_counts(reference, edges), statistics.bin_counts(live, edges)
    )
    # Then the shipped drift threshold (0.1) is passed (PSI is about shift ** 2 for a normal's mean shift)
    # and the test rejects at any Bonferroni alpha the monitor uses
    assert found >= 0.1
    assert p_value < 1e-6


@given(arrays(np.float64, st.integers(1, 300), elements=st.floats(-1e6, 1e6)), st.integers(2, 20))
def test_bins_count_every_finite_value_once(values: np.ndarray, bins: int) -> None:
    edges = statistics.quantile_edges(values, bins)
    found = statistics.bin_counts(values, edges)
    assert found.sum() == np.isfinite(values).sum()
    assert len(found) == len(edges) + 1
    assert np.all(np.diff(edges) > 0)


@given(st.integers(0, 500), st.integers(0, 500), st.floats(0.5, 0.999))
def test_wilson_interval_contains_the_estimate(hits: int, extra: int, confidence: float) -> None:
    total = hits + extra
    low, high = statistics.wilson_interval(hits, total, confidence)
    assert 0.0 <= low <= high <= 1.0
    if total:
        assert low <= hits / total <= high


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_calibrated_scores_pass_and_scaled_ones_fail(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.beta(0.5, 20, 20_000)
    labels = (rng.random(len(scores)) < scores).astype(int)
    assert statistics.calibration_p_value(labels, scores) > 1e-4
    assert statistics.calibration_p_value(labels, scores * 0.5) < 1e-6
