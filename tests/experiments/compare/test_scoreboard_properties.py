"""Properties of the scoreboard's transforms: paired differences, verdicts, and the charts' markup."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # our own markup, not untrusted input

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_template.experiments.compare import charts
from mlops_template.experiments.compare.scoreboard import IDENTICAL, WITHIN_NOISE, verdict
from mlops_template.model.metric_statistics import METRICS, classification_statistics
from mlops_template.model.statistics import Interval, paired_bootstrap

RESAMPLES = 200


@st.composite
def two_models(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = draw(st.integers(min_value=40, max_value=120))
    labels = np.array(draw(st.lists(st.integers(0, 1), min_size=rows, max_size=rows)))
    labels[:8] = [0, 1] * 4  # enough of both classes that every resample holds one
    first = np.array(draw(st.lists(st.integers(0, 50), min_size=rows, max_size=rows))) / 50.0
    second = np.array(draw(st.lists(st.integers(0, 50), min_size=rows, max_size=rows))) / 50.0
    return labels, first, second


@settings(max_examples=25, deadline=None)
@given(two_models(), st.integers(0, 2**16))
def test_the_paired_difference_is_antisymmetric(case: tuple[np.ndarray, np.ndarray, np.ndarray], seed: int) -> None:
    """B - A on the same resamples is exactly -(A - B): the interval flips, and each model's own
    interval does not depend on which one is the reference."""
    labels, a, b = case
    stats_a = classification_statistics(labels, a, 0.5, 10)
    stats_b = classification_statistics(labels, b, 0.5, 10)
    forward = paired_bootstrap(len(labels), stats_b, stats_a, resamples=RESAMPLES, confidence=0.9, seed=seed)
    backward = paired_bootstrap(len(labels), stats_a, stats_b, resamples=RESAMPLES, confidence=0.9, seed=seed)
    assert forward.difference is not None
    assert backward.difference is not None
    for name in METRICS:
        there, back = forward.difference[name], backward.difference[name]
        assert np.isclose(there.value, -back.value, atol=1e-12)
        assert np.isclose(there.low, -back.high, atol=1e-9)
        assert np.isclose(there.high, -back.low, atol=1e-9)
        assert forward.candidate[name] == backward.champion[name]  # type: ignore[index]
        flipped = {"better": "worse", "worse": "better", "higher": "lower", "lower": "higher"}
        expected = flipped.get(verdict(name, back), verdict(name, back))
        assert verdict(name, there) == expected


@given(st.floats(-1, 1), st.floats(0, 1), st.floats(0, 1))
def test_a_verdict_needs_an_interval_that_excludes_zero(value: float, below: float, above: float) -> None:
    interval = Interval(value, value - below, value + above)
    found = verdict("average_precision", interval)
    if interval.low == interval.high == interval.value == 0:
        assert found == IDENTICAL
    elif interval.low <= 0 <= interval.high:
        assert found == WITHIN_NOISE
    else:
        assert found == ("better" if interval.low > 0 else "worse")
        assert verdict("brier", interval) == ("worse" if interval.low > 0 else "better")  # lower is better


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=12),
        st.lists(st.tuples(st.floats(-0.5, 1.5), st.floats(-0.5, 1.5)), max_size=30),
        max_size=5,
    )
)
def test_curves_are_well_formed_svg_inside_their_frame(series: dict[str, list[tuple[float, float]]]) -> None:
    svg = charts.curves("a <title> & more", series, x_label="x & y", y_label="y", diagonal=True)
    root = ET.fromstring(charts.standalone(svg))  # noqa: S314  # escaped, parseable
    assert "http" not in svg  # inline, the chart holds no URL
    lines = root.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == len(series)  # one line per series, each named by its <title>
    assert all(line.find("{http://www.w3.org/2000/svg}title") is not None for line in lines)
    for line in lines:
        for point in filter(None, line.get("points", "").split(" ")):
            x, y = (float(v) for v in point.split(","))
            assert charts.LEFT <= x <= charts.WIDTH - charts.RIGHT
            assert charts.TOP <= y <= charts.HEIGHT - charts.BOTTOM
    assert charts.curves("t", series, x_label="x", y_label="y") == charts.curves("t", series, x_label="x", y_label="y")


@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=20), st.floats(-1, 1), st.floats(0, 1), st.floats(0, 1)), max_size=12
    )
)
def test_interval_charts_show_every_label(rows: list[tuple[str, float, float, float]]) -> None:
    bars = [charts.Bar(label, value, value - below, value + above) for label, value, below, above in rows]
    root = ET.fromstring(charts.standalone(charts.intervals("changes", bars, x_label="without - with")))  # noqa: S314
    labels = [node for node in root.iter("{http://www.w3.org/2000/svg}text") if node.get("text-anchor") == "end"]
    assert len(labels) == len(bars)  # every row has its label
