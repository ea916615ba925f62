"""The log's two tables: read from the API's SQLite file, and as Arrow tables with the segments' schema.

`predictions` and `feedback` carry the SQLite columns as they are, with a `rowid` (predictions) / `id`
(feedback) column: the rowids are the shipper's watermark (layout.py). Times, which the log keeps as
ISO 8601 UTC text, become UTC timestamps. The schema's metadata names the segment format, so a reader
can refuse a Parquet file that only looks like a segment. The monitor's reader uses the same schemas
for a SQLite log it reads directly (monitoring/logsource.py), so both sources query alike.
"""

from __future__ import annotations

import io
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mlops_template.monitoring.segments import LogSourceError
from mlops_template.monitoring.segments.layout import Kind

SEGMENT_FORMAT = "1"
FORMAT_KEY = b"mlops_template.prediction_log_segment"
_UTC_US = pa.timestamp("us", tz="UTC")
SCHEMAS: dict[Kind, pa.Schema] = {
    "predictions": pa.schema(
        [
            pa.field("rowid", pa.int64(), nullable=False),
            pa.field("request_id", pa.string(), nullable=False),
            pa.field("batch_id", pa.string(), nullable=False),
            pa.field("created_at", _UTC_US, nullable=False),
            pa.field("model_version", pa.string(), nullable=False),
            pa.field("inputs", pa.string(), nullable=False),  # the validated record as JSON, as the API logged it
            pa.field("probability", pa.float64(), nullable=False),
            pa.field("label", pa.int64(), nullable=False),
            pa.field("threshold", pa.float64(), nullable=False),
            pa.field("latency_ms", pa.float64(), nullable=False),
        ],
        metadata={FORMAT_KEY: SEGMENT_FORMAT.encode()},
    ),
    "feedback": pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("request_id", pa.string(), nullable=False),
            pa.field("label", pa.int64(), nullable=False),
            pa.field("received_at", _UTC_US, nullable=False),
        ],
        metadata={FORMAT_KEY: SEGMENT_FORMAT.encode()},
    ),
}
_SELECT: dict[Kind, str] = {
    "predictions": "SELECT rowid, request_id, batch_id, created_at, model_version, inputs, probability, label, "
    "threshold, latency_ms FROM predictions",
    "feedback": "SELECT id, request_id, label, received_at FROM feedback",
}
_ORDER: dict[Kind, str] = {"predictions": "rowid", "feedback": "id"}
TIME_COLUMN: dict[Kind, str] = {"predictions": "created_at", "feedback": "received_at"}


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to an API's SQLite log (WAL: readers never block its writers)."""
    if not path.is_file():
        msg = f"--log={str(path)!r}: no such file (rule: the API's MLOPS_PREDICTION_LOG)"
        raise LogSourceError(msg)
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
        connection.execute("SELECT 1 FROM predictions LIMIT 1").fetchall()
        connection.execute("SELECT 1 FROM feedback LIMIT 1").fetchall()
    except sqlite3.Error as exc:
        msg = f"--log={str(path)!r}: not a prediction log ({exc}; rule: a SQLite file the API wrote)"
        raise LogSourceError(msg) from None
    return connection


def log_id(connection: sqlite3.Connection) -> str | None:
    """The log's identity: the first 16 hex digits of its first request id (None while it is empty)."""
    found = connection.execute("SELECT request_id FROM predictions ORDER BY rowid LIMIT 1").fetchone()
    if found is None:
        return None
    identity = str(found[0])[:16].lower()
    if re.fullmatch(r"[0-9a-f]{16}", identity) is None:
        msg = f"first request_id {found[0]!r}: not the API's hex uuid (rule: 32 hex digits)"
        raise LogSourceError(msg)
    return identity


def rows_after(connection: sqlite3.Connection, kind: Kind, after: int, limit: int) -> list[tuple[Any, ...]]:
    """At most `limit` rows of `kind` after rowid (id) `after`, in rowid order, columns as the schema's."""
    order = _ORDER[kind]
    sql = f"{_SELECT[kind]} WHERE {order} > ? ORDER BY {order} LIMIT ?"
    return connection.execute(sql, (after, limit)).fetchall()


def to_table(kind: Kind, rows: Sequence[tuple[Any, ...]]) -> pa.Table:
    """Rows as `_SELECT[kind]` returns them -> an Arrow table with the segment schema."""
    schema = SCHEMAS[kind]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema.names]
    arrays = []
    for column, values in zip(schema, columns, strict=True):
        if column.type == _UTC_US:  # the log's ISO 8601 text ('...Z'); Arrow parses it exactly
            arrays.append(pa.array(values, pa.string()).cast(_UTC_US))
        else:
            arrays.append(pa.array(values, column.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()
