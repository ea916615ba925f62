"""Read a window of the prediction log, with its feedback labels, from wherever the API wrote it.

`read_window(source, start, end)` takes the API's SQLite file (one node), a directory of Parquet
segments, or `s3://bucket/prefix` of segments (many replicas, shipped by `mlops-template log ship`;
see monitoring/segments/), and returns one DataFrame in the monitor's agreed shape.

DuckDB does the query (window, one row per request id, latest label per request id, the inputs
out of their JSON). It reads no file format it would have to download an extension for: its wheel
links Parquet and JSON statically, but `sqlite_scanner` and `httpfs` are fetched from the network
on first use, which this project forbids (and a scheduled monitor must not depend on). So:
- SQLite is read with the standard library (a read-only connection; WAL lets it read while the API
  writes) and handed to DuckDB as Arrow tables with the segments' schema;
- S3 objects are downloaded with boto3 into a temporary directory, and DuckDB reads those files;
- the connection is opened with extension autoloading and autoinstalling off, so it cannot reach
  the network even by accident.
Each segment's footer is checked first (its format tag and columns): an object in the prefix that is
no segment, or a corrupt one, is refused with an error naming it, rather than silently skipped.

The window: `start <= ts < end` on the prediction's time (`created_at`, stamped by the API); naive
datetimes mean UTC, as in the API. Labels: a request's latest label (largest `received_at`; on a tie,
the later arrival in its log) wins, whenever it arrived. Rows repeated across segments (two shippers
on one log) are kept once per request id.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlops_template.core.errors import ConfigError
from mlops_template.data import schema
from mlops_template.monitoring.segments import LogSourceError
from mlops_template.monitoring.segments.layout import KINDS, Kind, check_top, iter_segments
from mlops_template.monitoring.segments.stores import Store, open_store
from mlops_template.monitoring.segments.tables import FORMAT_KEY, SCHEMAS, SEGMENT_FORMAT, connect_readonly, to_table

# A label cannot be older than its prediction; this margin only absorbs clocks of different nodes.
LABEL_CLOCK_MARGIN = timedelta(days=1)
BASE_COLUMNS = ("request_id", "ts", "model_version")
TAIL_COLUMNS = ("probability", "prediction", "latency_ms", "label", "label_ts")
_SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def record_columns() -> dict[str, str]:
    """The contract's inputs (every column but the label) and their dtypes: the API's request record."""
    return {name: str(column.dtype) for name, column in schema.CONTRACT.columns.items() if name != schema.LABEL}


def columns() -> list[str]:
    return [*BASE_COLUMNS, *record_columns(), *TAIL_COLUMNS]


def read_window(source: str, start: datetime, end: datetime) -> pd.DataFrame:
    """The predictions with `start <= ts < end` and their latest labels, from a SQLite log or segments."""
    start, end = _utc("start", start), _utc("end", end)
    if end < start:
        msg = f"window end {end.isoformat()} is before its start {start.isoformat()} (rule: start <= end)"
        raise ConfigError(msg)
    connection = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        if _is_sqlite(source):
            tables = _read_sqlite(Path(source), start, end)
            for kind in KINDS:
                connection.register(kind, tables[kind])
            return _query(connection, start, end)
        store = open_store(source)
        with tempfile.TemporaryDirectory(prefix="mlops-log-") as scratch:
            files = _segment_files(store, start, end, Path(scratch))
            for kind in KINDS:
                if files[kind]:
                    connection.read_parquet([str(path) for path in files[kind]]).create_view(kind)
                else:
                    connection.register(kind, SCHEMAS[kind].empty_table())
            return _query(connection, start, end)
    finally:
        connection.close()


def _utc(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        msg = f"window {name} {value!r}: not a datetime"
        raise ConfigError(msg)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _is_sqlite(source: str) -> bool:
    path = Path(source)
    return "://" not in source and (path.is_file() or path.suffix in _SQLITE_SUFFIXES)


def _log_text(value: datetime) -> str:
    """The log's own ISO 8601 form (utc_now in serving/predlog.py): text order is time order."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _read_sqlite(path: Path, start: datetime, end: datetime) -> dict[Kind, pa.Table]:
    connection = connect_readonly(path)
    try:
        # Text comparison on the log's fixed-width UTC form; the end bound is applied by the query.
        predictions = connection.execute(
            "SELECT rowid, request_id, batch_id, created_at, model_version, inputs, probability, label, threshold, "
            "latency_ms FROM predictions WHERE created_at >= ? AND created_at < ?",
            (_log_text(start), _log_text(end)),
        ).fetchall()
        feedback = connection.execute(
            "SELECT id, request_id, label, received_at FROM feedback WHERE received_at >= ?",
            (_log_text(labels_from_time(start)),),
        ).fetchall()
    finally:
        connection.close()
    return {"predictions": to_table("predictions", predictions), "feedback": to_table("feedback", feedback)}


def _segment_files(store: Store, start: datetime, end: datetime, scratch: Path) -> dict[Kind, list[Path]]:
    """The segments that can hold the window's rows (by the times in their names), local and checked."""
    if not store.exists():  # only a directory can be missing: a typo'd path is an error, not an empty log
        msg = (
            f"{store.location('')}: no such directory "
            "(rule: a SQLite log file, a directory of segments or s3://bucket/prefix)"
        )
        raise LogSourceError(msg)
    check_top(store)
    # A segment's rows are before its folder's date + 2 days (segments.shipper.one_segment): the window's rows
    # are in the folders from the day before its first date to its last date; labels, from the day
    # before the earliest label time that can belong to the window on.
    first, last = start.date() - timedelta(days=1), (end - timedelta(microseconds=1)).date()
    labels_from = (start - LABEL_CLOCK_MARGIN).date() - timedelta(days=1)
    wanted_days: dict[Kind, Callable[[date], bool]] = {
        "predictions": lambda day: first <= day <= last,
        "feedback": lambda day: day >= labels_from,
    }
    chosen: dict[Kind, list[Path]] = {kind: [] for kind in KINDS}
    for kind in KINDS:
        for key, name in iter_segments(store, kind, wanted_days[kind]):
            after = name.latest + timedelta(seconds=1)  # every row of the segment is before this
            wanted = name.earliest < end and after > start if kind == "predictions" else after > labels_from_time(start)
            if not wanted:
                continue
            local = store.local_file(key, scratch / f"{len(chosen['predictions']) + len(chosen['feedback'])}.parquet")
            _check_segment(local, kind, store.location(key))
            chosen[kind].append(local)
    return chosen


def labels_from_time(start: datetime) -> datetime:
    return start - LABEL_CLOCK_MARGIN


def _check_segment(path: Path, kind: Kind, location: str) -> None:
    try:
        found = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        msg = f"{location}: not a readable Parquet segment ({exc}); remove or repair the object"
        raise LogSourceError(msg) from None
    tag = (found.metadata or {}).get(FORMAT_KEY, b"").decode(errors="replace")
    expected = SCHEMAS[kind]
    if tag != SEGMENT_FORMAT or not found.remove_metadata().equals(expected.remove_metadata()):
        msg = (
            f"{location}: not a {kind} segment of format {SEGMENT_FORMAT} (format tag {tag or 'missing'!r}, "
            f"columns {found.names}; rule: written by `mlops-template log ship`)"
        )
        raise LogSourceError(msg)


def _query(connection: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> pd.DataFrame:
    inputs = record_columns()
    extracted = ",\n".join(f'json_extract_string(p.inputs, \'$."{name}"\') AS "{name}"' for name in inputs)
    sql = f"""
        WITH p AS (
            SELECT * FROM predictions WHERE created_at >= $start AND created_at < $end
            QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY rowid) = 1
        ), f AS (
            SELECT request_id, label, received_at FROM feedback
            QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY received_at DESC, id DESC) = 1
        )
        SELECT p.request_id, p.created_at AS ts, p.model_version,
            {extracted},
            p.probability, p.label AS prediction, p.latency_ms, f.label AS label, f.received_at AS label_ts
        FROM p LEFT JOIN f ON f.request_id = p.request_id
        ORDER BY ts, p.request_id
    """  # noqa: S608 (column names come from the contract, values are parameters)
    frame = connection.sql(sql, params={"start": start, "end": end}).to_arrow_table().to_pandas()
    return _typed(frame, inputs)


def _typed(frame: pd.DataFrame, inputs: dict[str, str]) -> pd.DataFrame:
    """The agreed dtypes, whatever DuckDB and pandas chose for an empty or all-null column."""
    typed = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    typed["request_id"] = frame["request_id"].astype("str")
    typed["ts"] = _timestamps(frame["ts"])
    typed["model_version"] = frame["model_version"].astype("str")
    for name, dtype in inputs.items():
        typed[name] = _input(frame[name], dtype)
    typed["probability"] = frame["probability"].astype("float64")
    typed["prediction"] = frame["prediction"].astype("int64")
    typed["latency_ms"] = frame["latency_ms"].astype("float64")
    typed["label"] = frame["label"].astype("Int64")
    typed["label_ts"] = _timestamps(frame["label_ts"])
    return typed


def _timestamps(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")


def _input(text: pd.Series, dtype: str) -> pd.Series:
    """One input column from its JSON text to the contract's dtype (JSON null -> NA)."""
    if dtype.startswith("datetime64"):
        return pd.to_datetime(text, utc=True, format="ISO8601").astype("datetime64[ns, UTC]")
    if dtype == "Int64":
        return pd.to_numeric(text).astype("Int64")
    if dtype.startswith("float"):
        return pd.to_numeric(text).astype("float64")
    return text.astype("str")
