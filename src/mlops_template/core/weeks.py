"""ISO weeks ("2026-W35"): the unit in which data arrives and by which it is split."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas only for the vectorised helper: config (and so the CLI's --help) imports this module
    import pandas as pd

WEEK_PATTERN = r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$"
_WEEK_RE = re.compile(WEEK_PATTERN)


def parse_week(label: str) -> dt.date:
    """Return the Monday that starts ISO week `label` ("YYYY-Www")."""
    if not _WEEK_RE.match(label):
        msg = f"week {label!r} is not an ISO week label like '2026-W35'"
        raise ValueError(msg)
    year, week = int(label[:4]), int(label[6:])
    try:
        return dt.date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        msg = f"week {label!r} does not exist: {year} has no ISO week {week}"
        raise ValueError(msg) from exc


def week_label(day: dt.date) -> str:
    """Return the ISO week label of `day`."""
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def shift_week(label: str, weeks: int) -> str:
    """Return the label `weeks` ISO weeks after (or before, if negative) `label`."""
    return week_label(parse_week(label) + dt.timedelta(weeks=weeks))


def weeks_between(first: str, last: str) -> list[str]:
    """Return every week label from `first` to `last`, both included."""
    start, end = parse_week(first), parse_week(last)
    count = (end - start).days // 7
    return [week_label(start + dt.timedelta(weeks=i)) for i in range(count + 1)]


def week_of(timestamps: pd.Series) -> pd.Series:
    """Return the ISO week label of each timestamp (vectorised)."""
    iso = timestamps.dt.isocalendar()
    labels: pd.Series = iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    return labels
