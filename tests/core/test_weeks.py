"""ISO week labels: parsing, arithmetic, and the week of a timestamp."""

from __future__ import annotations

import datetime as dt
import itertools

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlops_template.core.weeks import parse_week, shift_week, week_label, week_of, weeks_between

days = st.dates(min_value=dt.date(2000, 1, 3), max_value=dt.date(2090, 12, 31))


def test_parse_week_is_the_monday() -> None:
    assert parse_week("2026-W35") == dt.date(2026, 8, 24)


@pytest.mark.parametrize("label", ["2026-35", "2026-W00", "2026-W54", "26-W01", "2026-w01"])
def test_malformed_labels_are_rejected(label: str) -> None:
    with pytest.raises(ValueError, match="ISO week label"):
        parse_week(label)


def test_week_53_only_in_long_years() -> None:
    assert parse_week("2026-W53") == dt.date(2026, 12, 28)
    with pytest.raises(ValueError, match="no ISO week 53"):
        parse_week("2025-W53")


@given(days, st.integers(min_value=-200, max_value=200))
def test_shift_round_trips(day: dt.date, weeks: int) -> None:
    label = week_label(day)
    assert shift_week(shift_week(label, weeks), -weeks) == label


@given(days, st.integers(min_value=0, max_value=60))
def test_weeks_between_is_consecutive(day: dt.date, count: int) -> None:
    first = week_label(day)
    labels = weeks_between(first, shift_week(first, count))
    assert len(labels) == count + 1
    assert labels == sorted(labels)
    assert all(shift_week(a, 1) == b for a, b in itertools.pairwise(labels))


@given(st.lists(st.datetimes(min_value=dt.datetime(2001, 1, 1), max_value=dt.datetime(2090, 1, 1)), min_size=1))
def test_week_of_matches_scalar_label(stamps: list[dt.datetime]) -> None:
    series = pd.Series(pd.to_datetime(stamps, utc=True))
    assert week_of(series).tolist() == [week_label(s.date()) for s in stamps]
