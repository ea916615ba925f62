"""Wilson's interval with the standard library: known values, and the properties the monitor relies on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from mlops_template.model.proportions import wilson_interval


def test_known_values() -> None:
    # 5 of 10 at 95 %: 0.2366 .. 0.7634 (Wilson 1927; as statistics texts tabulate it).
    assert wilson_interval(5, 10, 0.95) == pytest.approx((0.236593, 0.763407), abs=1e-6)
    assert wilson_interval(0, 0, 0.95) == (0.0, 1.0)


@given(hits=st.integers(0, 500), extra=st.integers(0, 500), confidence=st.floats(0.5, 0.999))
def test_it_centres_on_wilsons_centre_and_narrows_as_confidence_falls(hits: int, extra: int, confidence: float) -> None:
    total = hits + extra
    low, high = wilson_interval(hits, total, confidence)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    if total:
        share = hits / total
        assert low <= share <= high
        centre = (share + z * z / (2 * total)) / (1 + z * z / total)
        assert (low + high) / 2 == pytest.approx(centre, abs=1e-9) or low == 0.0 or high == 1.0
        narrower = wilson_interval(hits, total, confidence / 2)
        assert low <= narrower[0]
        assert narrower[1] <= high
