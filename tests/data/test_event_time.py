"""Event times against the ISO week a batch file claims, and against the clock (now injected)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlops_template.core.weeks import week_label
from mlops_template.data.sources import event_time

NOW = pd.Timestamp("2026-11-23T09:00:00Z")

days = st.dates(min_value=dt.date(2001, 1, 1), max_value=dt.date(2098, 12, 31))
weeks = days.map(week_label)
offsets = st.integers(min_value=-30 * 86_400, max_value=37 * 86_400)  # seconds from the week's Monday
instants = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)).map(
    lambda moment: pd.Timestamp(moment, tz="UTC")
)


def _iso(stamp: pd.Timestamp) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("name", "week"),
    [
        ("2026-W47.csv", "2026-W47"),
        ("2026-W01.parquet", "2026-W01"),
        ("data/2026-W53.csv", "2026-W53"),
        ("export-001.csv", None),
        ("2026-W47-late.csv", None),
        ("2026-W54.csv", None),
        ("2026-W47.json", None),
    ],
)
def test_claimed_week_reads_only_iso_week_names(name: str, week: str | None) -> None:
    assert event_time.claimed_week(name) == week


def test_week_bounds_are_monday_to_monday_utc() -> None:
    start, end = event_time.week_bounds("2026-W47")
    assert start == pd.Timestamp("2026-11-16T00:00:00Z")
    assert end == pd.Timestamp("2026-11-23T00:00:00Z")


def test_as_utc_reads_naive_as_utc_and_converts_aware() -> None:
    assert event_time.as_utc(dt.datetime(2026, 11, 23, 9)) == NOW
    assert event_time.as_utc(pd.Timestamp("2026-11-23T10:00:00+01:00")) == NOW
    assert event_time.as_utc(None).tzinfo is not None


@given(week=weeks, offset=offsets)
def test_a_time_is_outside_its_week_exactly_when_it_is_before_monday_or_from_next_monday(
    week: str, offset: int
) -> None:
    start, _ = event_time.week_bounds(week)
    stamp = start + pd.Timedelta(seconds=offset)
    found = event_time.check_event_times(pd.Series([_iso(stamp)]), week, pd.Timestamp("2200-01-01T00:00:00Z"))
    assert bool(found.outside_week.iloc[0]) == (offset < 0 or offset >= 7 * 86_400)
    assert (week_label(stamp.date()) == week) == (not found.outside_week.iloc[0])


@given(stamp=instants, now=instants)
def test_a_time_is_in_the_future_exactly_when_it_is_after_now(stamp: pd.Timestamp, now: pd.Timestamp) -> None:
    found = event_time.check_event_times(pd.Series([stamp.isoformat()]), None, now)
    assert bool(found.in_future.iloc[0]) == (stamp > now)
    assert not found.outside_week.any()  # a file not named by week claims no week


@given(week=weeks, offsets_=st.lists(offsets, min_size=1, max_size=20))
def test_refusal_and_quarantine_agree(week: str, offsets_: list[int]) -> None:
    start, _ = event_time.week_bounds(week)
    values = pd.Series([_iso(start + pd.Timedelta(seconds=s)) for s in offsets_])
    now = start + pd.Timedelta(days=7)
    refusal = event_time.refusal(values, f"{week}.csv", now)
    reasons = event_time.quarantine_reasons(values, pd.Series([f"{week}.csv"] * len(values)), now)
    expected = {i for i, s in enumerate(offsets_) if s < 0 or s >= 7 * 86_400}
    assert set(reasons) == expected
    assert (refusal is None) == (not expected)
    if refusal is not None:
        assert f"{len(expected)} of {len(values)} rows" in refusal


def test_unparsable_times_are_left_to_the_contract() -> None:
    found = event_time.check_event_times(pd.Series(["yesterday", None]), "2026-W47", NOW)
    assert not found.broken.any()


def test_refusal_names_file_week_count_and_an_example() -> None:
    values = pd.Series(["2026-11-17T10:00:00Z", "1970-01-01T00:00:00Z", "1970-01-02T00:00:00Z"])
    message = event_time.refusal(values, "landing/2026-W47.csv", NOW)
    assert message is not None
    assert message.startswith("landing/2026-W47.csv: 2 of 3 rows have event times outside 2026-W47")
    assert "(2026-11-16 to 2026-11-22 UTC)" in message
    assert "e.g. '1970-01-01T00:00:00Z'" in message


def test_refusal_names_future_rows_with_now() -> None:
    values = pd.Series(["2026-11-23T08:59:59Z", "2026-11-23T09:00:01Z"])
    message = event_time.refusal(values, "export-7.csv", NOW)
    assert message == (
        "export-7.csv: 1 of 2 rows have event times in the future (after now, 2026-11-23T09:00:00+00:00), "
        "e.g. '2026-11-23T09:00:01Z' (rule: a batch holds only events of its week that already happened)"
    )


def test_quarantine_reasons_per_batch_file() -> None:
    values = pd.Series(["1970-01-01T00:00:00Z", "2026-11-17T00:00:00Z", "2030-01-01T00:00:00Z", "2026-11-17T00:00:00Z"])
    batches = pd.Series(["2026-W47.csv", "2026-W47.csv", "export.csv", "2026-W46.csv"])
    reasons = event_time.quarantine_reasons(values, batches, NOW)
    assert reasons == {
        0: {"timestamp": "within 2026-W47, the ISO week its file is named after (got '1970-01-01T00:00:00Z')"},
        2: {"timestamp": "not in the future (got '2030-01-01T00:00:00Z')"},
        3: {"timestamp": "within 2026-W46, the ISO week its file is named after (got '2026-11-17T00:00:00Z')"},
    }
