"""The prediction log past one replica: immutable Parquet segments in an object store (S3, or a directory).

Each API replica writes its own SQLite log (serving/predlog.py: fast, durable, no network in a
request). A sidecar beside it, `mlops-template log ship`, copies the rows the store does not have yet
into Parquet segments; the monitor reads every replica's segments (monitoring/logsource.py). The API
process never imports this module: pyarrow and boto3 stay out of the serving image.

Layout, under the destination's prefix (one key per segment, never rewritten):

    <kind>/date=<date>/replica=<replica>/log=<log id>/<first rowid>-<last rowid>.<first time>-<last time>.parquet

- kind: `predictions` or `feedback`, the two tables of the SQLite log, with their columns and a
  `rowid` (predictions) / `id` (feedback) column; Parquet metadata names the segment format.
- replica (`--replica`, default `$HOSTNAME`: the pod name) keeps replicas apart; the log id (the
  first 16 hex digits of the log's first request id, a random uuid4) keeps two SQLite files of one
  replica name apart (a StatefulSet pod recreated with an empty volume starts its rowids again at 1).
- rowids: SQLite gives each row max(rowid) + 1 inside the write transaction, and write transactions
  are serialised, so a row committed later always has a larger rowid than any row a reader has seen.
  "Every row after rowid N" is therefore a complete, gap-free watermark (the log is append-only; a
  VACUUM could renumber it, so the log must not be vacuumed).
- date and times: the UTC date of the segment's earliest row, and its earliest and latest
  `created_at` / `received_at` (whole seconds, floored). A segment ends before the first row dated
  after its first row's date (or more than a day before it), so all its rows are before its date + 2
  days: a reader lists only the date folders that can hold its window (a week's window: 9 listings,
  however long the log has run) and opens only the segments whose times meet the window.

The watermark is the store itself: on start the shipper lists its own replica/log folders (in
the date folders from its log's earliest date on) and continues after the largest last rowid
there. There is no separate watermark file, so there is no moment between "segment uploaded" and
"watermark saved" in which a kill could duplicate or lose rows: the upload is the commit. A
segment's name is decided by its rows, and the rows of one rowid range never change, so a retried
upload writes the same object. Should two shippers run for
one log anyway (a misconfiguration), their overlapping segments only repeat rows, and the reader
keeps one row per request id.

Atomic for readers: an S3 PUT makes a whole object visible at once, or nothing; in a directory the
segment is written to a hidden temporary name beside its target, flushed, fsynced and renamed (the
reader ignores hidden names). A reader therefore sees whole segments or none, never a partial one.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import re
import signal
import sqlite3
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mlops_template.core.errors import ConfigError, MlopsTemplateError

logger = logging.getLogger(__name__)

Kind = Literal["predictions", "feedback"]
KINDS: tuple[Kind, ...] = ("predictions", "feedback")
SEGMENT_FORMAT = "1"
FORMAT_KEY = b"mlops_template.prediction_log_segment"
DEFAULT_MAX_ROWS = 100_000
DEFAULT_INTERVAL_SECONDS = 300.0
_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
_REPLICA = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
SEGMENT_KEY = re.compile(
    r"(?P<kind>predictions|feedback)/date=(?P<date>\d{4}-\d{2}-\d{2})/"
    r"replica=(?P<replica>[A-Za-z0-9][A-Za-z0-9._-]{0,62})/log=(?P<log>[0-9a-f]{16})/"
    r"(?P<first>\d{12})-(?P<last>\d{12})\.(?P<tmin>\d{8}T\d{6}Z)-(?P<tmax>\d{8}T\d{6}Z)\.parquet"
)
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
_TIME_COLUMN: dict[Kind, str] = {"predictions": "created_at", "feedback": "received_at"}


class LogSourceError(MlopsTemplateError):
    """A prediction log (SQLite file, segment directory or bucket) cannot be read or written as asked."""


# --- segment names ---------------------------------------------------------------------------------


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


# --- object stores ----------------------------------------------------------------------------------


class SegmentStore(Protocol):
    url: str

    def put(self, key: str, data: bytes) -> None: ...
    def list_keys(self, under: str = "") -> list[str]: ...
    def list_folder(self, under: str) -> tuple[list[str], list[str]]: ...
    def fetch(self, key: str, target: Path) -> None: ...
    def location(self, key: str) -> str: ...


@dataclass
class DirectoryStore:
    """Segments as files under a local directory (a shared volume, or tests)."""

    root: Path
    url: str = ""

    def __post_init__(self) -> None:
        self.url = self.url or self.root.as_uri()

    def location(self, key: str) -> str:
        return str(self.root / key)

    def put(self, key: str, data: bytes) -> None:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")  # hidden: readers skip it
        try:
            with temporary.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            temporary.replace(target)
        finally:
            temporary.unlink(missing_ok=True)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash of the machine
        finally:
            os.close(directory)

    def list_keys(self, under: str = "") -> list[str]:
        base = self.root / under if under else self.root
        if not base.is_dir():
            return []
        found = []
        for path in base.rglob("*"):
            relative = path.relative_to(self.root)
            if path.is_file() and not any(part.startswith(".") for part in relative.parts):
                found.append(relative.as_posix())
        return sorted(found)

    def list_folder(self, under: str) -> tuple[list[str], list[str]]:
        """The sub-folder names and the file keys directly under `under` (hidden names skipped)."""
        base = self.root / under if under else self.root
        entries = sorted(base.iterdir()) if base.is_dir() else []
        shown = [path for path in entries if not path.name.startswith(".")]
        return [p.name for p in shown if p.is_dir()], [
            p.relative_to(self.root).as_posix() for p in shown if p.is_file()
        ]

    def fetch(self, key: str, target: Path) -> None:
        target.write_bytes((self.root / key).read_bytes())

    def remove_unfinished(self, under: str) -> int:
        """Delete temporary files a killed writer left under `under` (nobody reads them)."""
        base = self.root / under
        stale = list(base.glob(".*.tmp")) if base.is_dir() else []
        for path in stale:
            path.unlink(missing_ok=True)
        return len(stale)


@dataclass
class S3Store:
    """Segments as objects under s3://bucket/prefix (any S3 API: AWS, MinIO, moto)."""

    bucket: str
    prefix: str
    endpoint_url: str | None = None
    url: str = ""
    _client: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.prefix = self.prefix.strip("/")
        self.url = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # type: ignore[import-untyped]  # noqa: PLC0415 (only S3 needs it)

            # No endpoint given: boto3 reads AWS_ENDPOINT_URL(_S3) and credentials from the environment.
            self._client = boto3.client("s3", endpoint_url=self.endpoint_url)
        return self._client

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"

    def put(self, key: str, data: bytes) -> None:
        self._call("write", key, lambda: self.client.put_object(Bucket=self.bucket, Key=self._full(key), Body=data))

    def list_keys(self, under: str = "") -> list[str]:
        start = f"{self._full(under).rstrip('/')}/" if under else (f"{self.prefix}/" if self.prefix else "")

        def listing() -> list[str]:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start)
            strip = len(self.prefix) + 1 if self.prefix else 0
            return sorted(item["Key"][strip:] for page in pages for item in page.get("Contents", []))

        found: list[str] = self._call("list", under or "", listing)
        return found

    def list_folder(self, under: str) -> tuple[list[str], list[str]]:
        """The "sub-folder" names (common prefixes) and the object keys directly under `under`."""
        start = f"{self._full(under).rstrip('/')}/" if under else (f"{self.prefix}/" if self.prefix else "")

        def listing() -> tuple[list[str], list[str]]:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start, Delimiter="/"
            )
            folders, keys, strip = [], [], len(self.prefix) + 1 if self.prefix else 0
            for page in pages:
                folders += [item["Prefix"][len(start) :].rstrip("/") for item in page.get("CommonPrefixes", [])]
                keys += [item["Key"][strip:] for item in page.get("Contents", [])]
            return sorted(folders), sorted(keys)

        found: tuple[list[str], list[str]] = self._call("list", under, listing)
        return found

    def fetch(self, key: str, target: Path) -> None:
        def download() -> None:
            body = self.client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"]
            target.write_bytes(body.read())

        self._call("read", key, download)

    def _call(self, action: str, key: str, call: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]  # noqa: PLC0415

        try:
            return call()
        except (BotoCoreError, ClientError) as exc:
            msg = f"{self.location(key) if key else self.url}: cannot {action} it ({exc})"
            raise LogSourceError(msg) from None


def open_store(url: str, endpoint_url: str | None = None) -> DirectoryStore | S3Store:
    """`s3://bucket/prefix`, `file:///abs/dir` or a plain directory path."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            msg = f"{url!r}: no bucket (rule: s3://bucket/prefix)"
            raise ConfigError(msg)
        return S3Store(parsed.netloc, parsed.path, endpoint_url)
    if parsed.scheme == "file":
        return DirectoryStore(Path(parsed.path))
    if parsed.scheme == "" or len(parsed.scheme) == 1:  # a path (a Windows drive letter is no scheme)
        return DirectoryStore(Path(url).resolve())
    msg = f"{url!r}: unsupported scheme {parsed.scheme!r} (rule: s3://bucket/prefix, file:///dir or a directory)"
    raise ConfigError(msg)


# --- SQLite rows -> Arrow tables -------------------------------------------------------------------


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
    order = _ORDER[kind]
    sql = f"{_SELECT[kind]} WHERE {order} > ? ORDER BY {order} LIMIT ?"
    return connection.execute(sql, (after, limit)).fetchall()


def one_segment(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The leading rows dated on the first row's UTC date or the day before (the rest go to the next segment).

    So every row of a segment is before its earliest row's date + 2 days: a reader finds all the rows
    of a window in the date folders from the day before the window's first date to its last date.
    (The day before: rows are in commit order, and several workers stamp times just before committing.)
    """
    first = date.fromisoformat(rows[0][3][:10])  # column 3: created_at / received_at, the log's UTC text
    low, high = (first - timedelta(days=1)).isoformat(), first.isoformat()
    for n, row in enumerate(rows):
        if not low <= row[3][:10] <= high:
            return rows[:n]
    return rows


def _floor_second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


# --- the shipper ------------------------------------------------------------------------------------


@dataclass
class ShipResult:
    segments: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))


@dataclass
class Shipper:
    """Copies one SQLite log's new rows to a store as segments; the store's keys are its watermark."""

    log_path: Path
    store: DirectoryStore | S3Store
    replica: str
    max_rows: int = DEFAULT_MAX_ROWS
    _watermarks: dict[tuple[str, Kind], int] = field(default_factory=dict)

    def watermark(self, connection: sqlite3.Connection, identity: str, kind: Kind) -> int:
        """The last rowid of this log already in the store (read from the store once, then kept).

        A segment sits under the date of its earliest row, so this log's segments are in the date
        folders from its earliest row's date on: one listing of the dates, one per date from there.
        """
        if (identity, kind) not in self._watermarks:
            (earliest,) = connection.execute(f"SELECT min({_TIME_COLUMN[kind]}) FROM {kind}").fetchone()  # noqa: S608
            last = 0
            if earliest is not None:
                for day in date_folders(self.store, kind, lambda day: day >= date.fromisoformat(earliest[:10])):
                    under = folder(kind, day, self.replica, identity)
                    if isinstance(self.store, DirectoryStore):
                        self.store.remove_unfinished(under)
                    names = [parse_key(key) for key in self.store.list_keys(under)]
                    last = max([last, *(name.last for name in names if name is not None)])
            self._watermarks[identity, kind] = last
        return self._watermarks[identity, kind]

    def ship_once(self) -> ShipResult:
        """Ship every row the store does not have yet; return the segments written."""
        result = ShipResult()
        connection = connect_readonly(self.log_path)
        try:
            identity = log_id(connection)
            if identity is None:
                return result
            for kind in KINDS:
                while rows := rows_after(connection, kind, self.watermark(connection, identity, kind), self.max_rows):
                    result.segments.append(self._upload(identity, kind, one_segment(rows)))
                    result.rows[kind] += len(rows)
        finally:
            connection.close()
        return result

    def _upload(self, identity: str, kind: Kind, rows: list[tuple[Any, ...]]) -> str:
        table = to_table(kind, rows)
        bounds = pc.min_max(table.column(_TIME_COLUMN[kind]))
        earliest, latest = (_floor_second(bounds[end].as_py()) for end in ("min", "max"))
        first, last = int(rows[0][0]), int(rows[-1][0])
        key = SegmentName(kind, self.replica, identity, first, last, earliest, latest).key
        self.store.put(key, parquet_bytes(table))
        self._watermarks[identity, kind] = last  # only after the store has it
        logger.info("shipped %s rows %d-%d to %s", kind, first, last, self.store.location(key))
        return key


def run_shipper(shipper: Shipper, interval: float | None, stop: threading.Event) -> ShipResult:
    """Ship once (`interval` None), or every `interval` seconds until `stop` is set, then once more."""
    total = ShipResult()
    while True:
        found = shipper.ship_once()
        total.segments += found.segments
        for kind in KINDS:
            total.rows[kind] += found.rows[kind]
        if interval is None or stop.is_set():
            return total
        stop.wait(interval)


# --- `mlops-template log ship` ------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops-template log", description="The prediction log's segments.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    ship = commands.add_parser(
        "ship",
        help="copy new rows of an API's SQLite log to Parquet segments (S3 or a directory)",
        description="Copy the rows of the API's SQLite log that the destination does not have yet into "
        "immutable Parquet segments. The destination's segment names are the watermark: restarts never "
        "duplicate or lose rows. Runs beside each API replica (a sidecar); SIGTERM ships once more, then exits.",
    )
    ship.add_argument("--log", type=Path, required=True, help="the API's MLOPS_PREDICTION_LOG (SQLite)")
    ship.add_argument("--to", required=True, help="s3://bucket/prefix, file:///dir or a directory")
    ship.add_argument("--endpoint-url", default=None, help="S3 API endpoint (default: AWS, or $AWS_ENDPOINT_URL)")
    ship.add_argument(
        "--replica", default=os.environ.get("HOSTNAME", ""), help="this replica's id (default: $HOSTNAME)"
    )
    ship.add_argument("--max-rows", type=int, default=DEFAULT_MAX_ROWS, help="rows per segment at most")
    when = ship.add_mutually_exclusive_group()
    when.add_argument("--once", action="store_true", help="ship what is there, then exit (the default)")
    when.add_argument("--interval", type=float, default=None, help="ship every S seconds until SIGTERM")
    return parser


def _ship(args: argparse.Namespace) -> None:
    if args.max_rows < 1:
        msg = f"--max-rows={args.max_rows}: must be at least 1"
        raise ConfigError(msg)
    if args.interval is not None and args.interval <= 0:
        msg = f"--interval={args.interval}: must be a positive number of seconds"
        raise ConfigError(msg)
    shipper = Shipper(args.log, open_store(args.to, args.endpoint_url), check_replica(args.replica), args.max_rows)
    stop = threading.Event()
    if args.interval is not None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    total = run_shipper(shipper, args.interval, stop)
    print(  # noqa: T201 (the command's result)
        f"shipped {total.rows['predictions']} prediction(s) and {total.rows['feedback']} label(s) "
        f"in {len(total.segments)} segment(s) to {shipper.store.url}"
    )


def main(argv: list[str] | None = None) -> int:
    from mlops_template.core.command import configure_logging, run_guarded  # noqa: PLC0415

    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging()
    return run_guarded(lambda: _ship(args), f"log {args.command}")


_LAYOUT = "rule: only <kind>/date=<date>/replica=<id>/log=<id>/<first>-<last>.<time>-<time>.parquet under the prefix"


def _foreign(store: DirectoryStore | S3Store, key: str) -> LogSourceError:
    return LogSourceError(f"{store.location(key)}: not a prediction log segment ({_LAYOUT})")


def check_top(store: DirectoryStore | S3Store) -> None:
    """The prefix holds the two kinds' folders and nothing else."""
    folders, files = store.list_folder("")
    if files:
        raise _foreign(store, files[0])
    for name in folders:
        if name not in KINDS:
            raise _foreign(store, f"{name}/")


def date_folders(store: DirectoryStore | S3Store, kind: Kind, wanted: Callable[[date], bool]) -> list[date]:
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


def iter_segments(
    store: DirectoryStore | S3Store, kind: Kind, wanted: Callable[[date], bool]
) -> Iterator[tuple[str, SegmentName]]:
    """Every segment of `kind` in the date folders `wanted` keeps; a key there that names none is refused."""
    for day in date_folders(store, kind, wanted):
        for key in store.list_keys(f"{kind}/date={day.isoformat()}"):
            name = parse_key(key)
            if name is None or name.kind != kind:
                raise _foreign(store, key)
            yield key, name
