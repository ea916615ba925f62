"""When a batch's events happened, checked against what the batch claims and against the clock.

A batch file named by ISO week (`2026-W47.csv`) claims to hold that week's events; every batch
claims to hold events that already happened. A file whose rows are dated 1970, or next year,
would otherwise train the model without a word. `next-batch` refuses such a batch at the door;
ingest quarantines its rows (a file copied into `data/` by hand is caught there).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mlops_template.core.weeks import WEEK_PATTERN, parse_week

_WEEK_NAMED = re.compile(WEEK_PATTERN.removesuffix("$") + r"\.(csv|parquet)$")

# The rules, as ingest's quarantine states them (`timestamp: <rule> (got <value>)`).
OUTSIDE_WEEK_RULE = "within {week}, the ISO week its file is named after"
FUTURE_RULE = "not in the future"


def utc_now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def as_utc(now: dt.datetime | pd.Timestamp | None) -> pd.Timestamp:
    """`now` as a UTC timestamp (the clock when None); a naive value is taken to be UTC."""
    stamp = utc_now() if now is None else pd.Timestamp(now)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def claimed_week(file_name: str) -> str | None:
    """The ISO week a batch file's name claims ("2026-W47" for `2026-W47.csv`), else None."""
    name = Path(file_name).name
    return name.rsplit(".", 1)[0] if _WEEK_NAMED.match(name) else None


def week_bounds(week: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) of ISO week `week` in UTC: Monday 00:00 to the next Monday 00:00."""
    start = pd.Timestamp(parse_week(week), tz="UTC")
    return start, start + pd.Timedelta(days=7)


def parse_event_times(values: pd.Series) -> pd.Series:
    """Raw timestamps parsed as the contract parses them (UTC); unparsable ones become NaT."""
    return pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")


@dataclass(frozen=True)
class EventTimeCheck:
    """Which rows of one batch break a time rule (boolean masks aligned with the batch)."""

    week: str | None
    outside_week: pd.Series
    in_future: pd.Series

    @property
    def broken(self) -> pd.Series:
        return self.outside_week | self.in_future


def check_event_times(values: pd.Series, week: str | None, now: pd.Timestamp) -> EventTimeCheck:
    """Flag event times outside `week` (when the batch claims one) or after `now`.

    Values that do not parse are not flagged here: the contract already rejects them.
    """
    stamps = parse_event_times(values)
    if week is None:
        outside = pd.Series(data=False, index=values.index)
    else:
        start, end = week_bounds(week)
        outside = stamps.notna() & ((stamps < start) | (stamps >= end))
    future = stamps.notna() & (stamps > now)
    return EventTimeCheck(week=week, outside_week=outside, in_future=future)


def _example(values: pd.Series, mask: pd.Series) -> str:
    return repr(str(values[mask].iloc[0]))


def refusal(values: pd.Series, source: str, now: pd.Timestamp) -> str | None:
    """Why a whole batch must be refused for its event times (one line), or None when it may land."""
    found = check_event_times(values, claimed_week(source), now)
    problems = []
    if found.week is not None and found.outside_week.any():
        start, end = week_bounds(found.week)
        last_day = (end - pd.Timedelta(days=1)).date()
        problems.append(
            f"{int(found.outside_week.sum())} of {len(values)} rows have event times outside {found.week} "
            f"({start.date()} to {last_day} UTC), the ISO week the file is named after, "
            f"e.g. {_example(values, found.outside_week)}"
        )
    if found.in_future.any():
        problems.append(
            f"{int(found.in_future.sum())} of {len(values)} rows have event times in the future "
            f"(after now, {now.isoformat()}), e.g. {_example(values, found.in_future)}"
        )
    if not problems:
        return None
    return f"{source}: " + "; ".join(problems) + " (rule: a batch holds only events of its week that already happened)"


def quarantine_reasons(values: pd.Series, batches: pd.Series, now: pd.Timestamp) -> dict[int, dict[str, str]]:
    """Row position -> {"timestamp": rule} for rows whose event time breaks a rule, for ingest.

    `values` (the raw timestamps) and `batches` (each row's file name) share a 0..n-1 index.
    """
    reasons: dict[int, dict[str, str]] = {}
    for batch in pd.unique(batches):
        rows = batches == batch
        found = check_event_times(values[rows], claimed_week(str(batch)), now)
        for position in found.broken[found.broken].index:
            rule = OUTSIDE_WEEK_RULE.format(week=found.week) if found.outside_week[position] else FUTURE_RULE
            reasons[int(position)] = {"timestamp": f"{rule} (got {str(values[position])!r})"}
    return reasons
