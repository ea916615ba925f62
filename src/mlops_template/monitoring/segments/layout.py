"""Where a segment sits under the destination's prefix: one key per segment, never rewritten.

    <kind>/date=<date>/replica=<replica>/log=<log id>/<first rowid>-<last rowid>.<first time>-<last time>.parquet

- kind: `predictions` or `feedback`, the two tables of the SQLite log (tables.py).
- replica (`--replica`, default `$HOSTNAME`: the pod name) keeps replicas apart; the log id (the
  first 16 hex digits of the log's first request id, a random uuid4) keeps two SQLite files of one
  replica name apart (a StatefulSet pod recreated with an empty volume starts its rowids again at 1).
- rowids: SQLite gives each row max(rowid) + 1 inside the write transaction, and write transactions
  are serialised, so a row committed later always has a larger rowid than any row a reader has seen.
  "Every row after rowid N" is therefore a complete, gap-free watermark (the log is append-only; a
  VACUUM could renumber it, so the log must not be vacuumed).
- date and times: the UTC date of the segment's earliest row, and its earliest and latest
  `created_at` / `received_at` (whole seconds, floored). A segment ends before the first row dated
  after its first row's date (or more than a day before it: shipper.one_segment), so all its rows are
  before its date + 2 days: a reader lists only the date folders that can hold its window (a week's
  window: 9 listings, however long the log has run) and opens only the segments whose times meet the window.

Anything else under the prefix is refused by name rather than skipped (check_top, date_folders,
iter_segments): a reader that skipped it would silently miss rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from mlops_template.core.errors import ConfigError
from mlops_template.monitoring.segments import LogSourceError
from mlops_template.monitoring.segments.stores import Store

Kind = Literal["predictions", "feedback"]
KINDS: tuple[Kind, ...] = ("predictions", "feedback")
_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
_REPLICA = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
SEGMENT_KEY = re.compile(
    r"(?P<kind>predictions|feedback)/date=(?P<date>\d{4}-\d{2}-\d{2})/"
    r"replica=(?P<replica>[A-Za-z0-9][A-Za-z0-9._-]{0,62})/log=(?P<log>[0-9a-f]{16})/"
    r"(?P<first>\d{12})-(?P<last>\d{12})\.(?P<tmin>\d{8}T\d{6}Z)-(?P<tmax>\d{8}T\d{6}Z)\.parquet"
)
_LAYOUT = "rule: only <kind>/date=<date>/replica=<id>/log=<id>/<first>-<last>.<time>-<time>.parquet under the prefix"


@dataclass(frozen=True)
class SegmentName:
    kind: Kind
    replica: str
    log_id: str
    first: int
    last: int
    earliest: datetime  # floored to the second
    latest: datetime  # floored to the second: the segment's rows are before latest + 1 s

    @property
    def key(self) -> str:
        times = f"{self.earliest.strftime(_TIME_FORMAT)}-{self.latest.strftime(_TIME_FORMAT)}"
        return f"{self.folder}/{self.first:012d}-{self.last:012d}.{times}.parquet"

    @property
    def folder(self) -> str:
        return folder(self.kind, self.earliest.date(), self.replica, self.log_id)


def folder(kind: Kind, day: date, replica: str, identity: str) -> str:
    return f"{kind}/date={day.isoformat()}/replica={replica}/log={identity}"


def parse_key(key: str) -> SegmentName | None:
    """The segment a key (relative to the prefix) names, or None when it is no segment's name."""
    found = SEGMENT_KEY.fullmatch(key)
    if found is None:
        return None
    kind: Kind = "predictions" if found["kind"] == "predictions" else "feedback"
    try:
        earliest, latest = (datetime.strptime(found[g], _TIME_FORMAT).replace(tzinfo=UTC) for g in ("tmin", "tmax"))
    except ValueError:
        return None
    first, last = int(found["first"]), int(found["last"])
    if first > last or earliest > latest or found["date"] != earliest.date().isoformat():
        return None
    return SegmentName(kind, found["replica"], found["log"], first, last, earliest, latest)


def check_replica(replica: str) -> str:
    if _REPLICA.fullmatch(replica) is None:
        msg = f"--replica={replica!r}: not a usable replica id (rule: 1-63 of A-Z a-z 0-9 . _ -, starting alphanumeric)"
        raise ConfigError(msg)
    return replica


# --- the folder rules ---------------------------------------------------------------------------------


def _foreign(store: Store, key: str) -> LogSourceError:
    return LogSourceError(f"{store.location(key)}: not a prediction log segment ({_LAYOUT})")


def check_top(store: Store) -> None:
    """The prefix holds the two kinds' folders and nothing else."""
    folders, files = store.list_folder("")
    if files:
        raise _foreign(store, files[0])
    for name in folders:
        if name not in KINDS:
            raise _foreign(store, f"{name}/")


def date_folders(store: Store, kind: Kind, wanted: Callable[[date], bool]) -> list[date]:
    """The dates of `kind`'s date folders that `wanted` keeps; anything else in `kind/` is refused."""
    folders, files = store.list_folder(kind)
    if files:
        raise _foreign(store, files[0])
    days = []
    for name in folders:
        try:
            day = date.fromisoformat(name.removeprefix("date="))
        except ValueError:
            day = None
        if not name.startswith("date=") or day is None or day.isoformat() != name[5:]:
            raise _foreign(store, f"{kind}/{name}/")
        if wanted(day):
            days.append(day)
    return days


def iter_segments(store: Store, kind: Kind, wanted: Callable[[date], bool]) -> Iterator[tuple[str, SegmentName]]:
    """Every segment of `kind` in the date folders `wanted` keeps; a key there that names none is refused."""
    for day in date_folders(store, kind, wanted):
        for key in store.list_keys(f"{kind}/date={day.isoformat()}"):
            name = parse_key(key)
            if name is None or name.kind != kind:
                raise _foreign(store, key)
            yield key, name
