"""`mlops-template log ship`: copy one SQLite log's new rows to a store as segments, once or every S seconds.

The watermark is the store itself: on start the shipper lists its own replica/log folders (in
the date folders from its log's earliest date on) and continues after the largest last rowid
there. There is no separate watermark file, so there is no moment between "segment uploaded" and
"watermark saved" in which a kill could duplicate or lose rows: the upload is the commit. A
segment's name is decided by its rows, and the rows of one rowid range never change, so a retried
upload writes the same object. Should two shippers run for one log anyway (a misconfiguration),
their overlapping segments only repeat rows, and the reader keeps one row per request id.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from mlops_template.core.command import run_command
from mlops_template.core.errors import ConfigError
from mlops_template.monitoring.segments.layout import (
    KINDS,
    Kind,
    SegmentName,
    check_replica,
    date_folders,
    folder,
    parse_key,
)
from mlops_template.monitoring.segments.stores import Store, open_store
from mlops_template.monitoring.segments.tables import (
    TIME_COLUMN,
    connect_readonly,
    log_id,
    parquet_bytes,
    rows_after,
    to_table,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 100_000


@dataclass
class ShipResult:
    segments: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))


@dataclass
class Shipper:
    """Copies one SQLite log's new rows to a store as segments; the store's keys are its watermark."""

    log_path: Path
    store: Store
    replica: str
    max_rows: int = DEFAULT_MAX_ROWS
    _watermarks: dict[tuple[str, Kind], int] = field(default_factory=dict)

    def watermark(self, connection: sqlite3.Connection, identity: str, kind: Kind) -> int:
        """The last rowid of this log already in the store (read from the store once, then kept).

        A segment sits under the date of its earliest row, so this log's segments are in the date
        folders from its earliest row's date on: one listing of the dates, one per date from there.
        """
        if (identity, kind) not in self._watermarks:
            (earliest,) = connection.execute(f"SELECT min({TIME_COLUMN[kind]}) FROM {kind}").fetchone()  # noqa: S608
            last = 0
            if earliest is not None:
                for day in date_folders(self.store, kind, lambda day: day >= date.fromisoformat(earliest[:10])):
                    under = folder(kind, day, self.replica, identity)
                    self.store.remove_unfinished(under)  # a killed predecessor's half-written segment
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
        bounds = pc.min_max(table.column(TIME_COLUMN[kind]))
        earliest, latest = (_floor_second(bounds[end].as_py()) for end in ("min", "max"))
        first, last = int(rows[0][0]), int(rows[-1][0])
        key = SegmentName(kind, self.replica, identity, first, last, earliest, latest).key
        self.store.put(key, parquet_bytes(table))
        self._watermarks[identity, kind] = last  # only after the store has it
        logger.info("shipped %s rows %d-%d to %s", kind, first, last, self.store.location(key))
        return key


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
    # `ship` is the only subcommand, and the parser requires one: the name is always "log ship".
    return run_command("log ship", _parser(), argv, _ship)
