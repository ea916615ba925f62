"""read_window over the API's SQLite log and over Parquet segments in a directory; the shipper's segments."""

from __future__ import annotations

import random
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops_template.core.errors import ConfigError
from mlops_template.monitoring.logsource import columns, read_window
from mlops_template.monitoring.segments import LogSourceError
from mlops_template.monitoring.segments.layout import SegmentName, parse_key
from mlops_template.monitoring.segments.shipper import Shipper, one_segment
from mlops_template.monitoring.segments.stores import DirectoryStore
from tests.support.prediction_logs import Writer, fill, prediction_rows

T0 = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday
WEEK = timedelta(days=7)
DAY = timedelta(days=1)


def sqlite_rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(sql).fetchall()


def segment_rows(root: Path, kind: str) -> list[str]:
    """Every request id in every segment of `kind` under root, repeats included."""
    return [
        rid
        for path in sorted(root.rglob(f"{kind}/**/*.parquet"))
        for rid in pq.read_table(path)["request_id"].to_pylist()
    ]


@pytest.fixture(scope="module")
def two_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two replicas' closed logs over the same hours (300 predictions each, labels on a third)."""
    root = tmp_path_factory.mktemp("logs")
    first, second = root / "api-0.sqlite3", root / "api-1.sqlite3"
    fill(first, seed=1, count=300, first=T0)
    fill(second, seed=2, count=300, first=T0 + timedelta(seconds=30))
    return first, second


# --- the shape and the window ------------------------------------------------------------------------


def test_the_frame_has_the_agreed_columns_and_dtypes(two_logs: tuple[Path, Path]) -> None:
    frame = read_window(str(two_logs[0]), T0, T0 + WEEK)
    assert list(frame.columns) == columns()
    assert len(frame) == 300
    dtypes = {name: str(dtype) for name, dtype in frame.dtypes.items()}
    assert {k: dtypes[k] for k in ("ts", "label_ts")} == {
        "ts": "datetime64[ns, UTC]",
        "label_ts": "datetime64[ns, UTC]",
    }
    assert {k: dtypes[k] for k in ("probability", "prediction", "latency_ms", "label")} == {
        "probability": "float64",
        "prediction": "int64",
        "latency_ms": "float64",
        "label": "Int64",
    }
    assert dtypes["amount"] == "float64"
    assert dtypes["customer_age"] == "Int64"
    assert dtypes["timestamp"] == "datetime64[ns, UTC]"
    assert frame["customer_age"].isna().any()  # JSON nulls are NA, not 0 or "None"
    assert frame["device_type"].isna().any()
    assert frame["ts"].is_monotonic_increasing


def test_the_window_includes_its_start_and_excludes_its_end(two_logs: tuple[Path, Path]) -> None:
    start, end = T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)  # both on a prediction's time
    frame = read_window(str(two_logs[0]), start, end)
    assert frame["ts"].min() == start
    assert frame["ts"].max() == end - timedelta(minutes=1)
    assert len(frame) == 10
    assert read_window(str(two_logs[0]), start, start).empty  # an empty window is no error


def test_naive_bounds_mean_utc_and_a_reversed_window_is_refused(two_logs: tuple[Path, Path]) -> None:
    naive = read_window(str(two_logs[0]), datetime(2026, 11, 16, 0, 10), datetime(2026, 11, 16, 0, 20))
    assert len(naive) == 10
    with pytest.raises(ConfigError, match=r"window end .* is before its start"):
        read_window(str(two_logs[0]), T0 + WEEK, T0)


def test_the_latest_label_wins_and_unlabelled_predictions_keep_na(two_logs: tuple[Path, Path]) -> None:
    frame = read_window(str(two_logs[0]), T0, T0 + WEEK).set_index("request_id")
    expected = dict(sqlite_rows(two_logs[0], "SELECT request_id, label FROM latest_feedback"))
    assert frame["label"].dropna().astype(int).to_dict() == expected
    assert frame["label"].isna().sum() == 300 - len(expected)
    assert frame.loc[list(expected), "label_ts"].notna().all()
    assert (frame["label"] == 1).sum() == 50  # every sixth was labelled 0, then 1: the later label counts


# --- segments in a directory -------------------------------------------------------------------------


def ship(log: Path, root: Path, replica: str, max_rows: int = 120) -> list[str]:
    return Shipper(log, DirectoryStore(root), replica, max_rows).ship_once().segments


def test_two_replicas_in_one_directory_read_back_as_the_union_of_their_logs(
    two_logs: tuple[Path, Path], tmp_path: Path
) -> None:
    for replica, log in zip(("api-0", "api-1"), two_logs, strict=True):
        assert len(ship(log, tmp_path, replica)) == 3 + 2  # 300 predictions and 150 labels, in 120s
    window = (T0 + timedelta(hours=1), T0 + timedelta(hours=4))
    union = pd.concat([read_window(str(log), *window) for log in two_logs])
    union = union.sort_values(["ts", "request_id"], ignore_index=True)
    pd.testing.assert_frame_equal(read_window(str(tmp_path), *window), union)
    pd.testing.assert_frame_equal(read_window(tmp_path.as_uri(), *window), union)


def test_shipping_is_incremental_and_a_restart_resumes_from_the_store(tmp_path: Path) -> None:
    writer = Writer(tmp_path / "api.sqlite3")
    rng = random.Random(3)  # noqa: S311 (test data)
    try:
        first = writer.predict(prediction_rows(rng, 50, T0, timedelta(minutes=1)))
        shipper = Shipper(writer.path, DirectoryStore(tmp_path / "store"), "api-0")
        assert len(shipper.ship_once().segments) == 1
        assert shipper.ship_once().segments == []  # nothing new
        second = writer.predict(prediction_rows(rng, 20, T0 + timedelta(hours=1), timedelta(minutes=1)))
        writer.label(first[:5], 1)
        restarted = Shipper(writer.path, DirectoryStore(tmp_path / "store"), "api-0")  # a new process
        shipped = restarted.ship_once()
    finally:
        writer.close()
    assert shipped.rows == {"predictions": 20, "feedback": 5}
    assert parse_key(shipped.segments[0]) == SegmentName(
        "predictions", "api-0", first[0][:16], 51, 70, T0 + timedelta(hours=1), T0 + timedelta(hours=1, minutes=19)
    )
    assert sorted(segment_rows(tmp_path / "store", "predictions")) == sorted(first + second)


class DiesAfterUpload(DirectoryStore):
    """The shipper's process dies right after its n-th upload is durable (before anything else runs)."""

    def __init__(self, root: Path, uploads: int) -> None:
        super().__init__(root)
        self.left = uploads

    def put(self, key: str, data: bytes) -> None:
        super().put(key, data)
        self.left -= 1
        if self.left == 0:
            raise SystemExit(137)


@pytest.mark.parametrize("dies_after", [1, 2, 3, 4])
def test_a_shipper_killed_after_an_upload_neither_duplicates_nor_loses_rows(
    two_logs: tuple[Path, Path], tmp_path: Path, dies_after: int
) -> None:
    store = tmp_path / "store"
    with pytest.raises(SystemExit):
        Shipper(two_logs[0], DiesAfterUpload(store, dies_after), "api-0", max_rows=100).ship_once()
    Shipper(two_logs[0], DirectoryStore(store), "api-0", max_rows=100).ship_once()  # the restarted sidecar
    predictions = segment_rows(store, "predictions")
    assert len(predictions) == len(set(predictions)) == 300
    assert len(segment_rows(store, "feedback")) == sqlite_rows(two_logs[0], "SELECT count(*) FROM feedback")[0][0]


def test_a_write_cut_short_is_invisible_to_readers_and_cleaned_up_on_restart(
    two_logs: tuple[Path, Path], tmp_path: Path
) -> None:
    ship(two_logs[0], tmp_path, "api-0")
    folder = next((tmp_path / "predictions").rglob("log=*"))
    partial = folder / ".000000000301-000000000400.20261116T050000Z-20261116T063900Z.parquet.1234.tmp"
    partial.write_bytes(b"PAR1 half a segment")  # what a kill during the write leaves behind
    assert len(read_window(str(tmp_path), T0, T0 + WEEK)) == 300
    assert ship(two_logs[0], tmp_path, "api-0") == []  # restart: nothing new to ship...
    assert not partial.exists()  # ...and its own leftovers are gone


def test_repeated_rows_across_segments_are_kept_once(two_logs: tuple[Path, Path], tmp_path: Path) -> None:
    ship(two_logs[0], tmp_path / "a", "api-0", max_rows=100)
    ship(two_logs[0], tmp_path / "b", "api-0", max_rows=70)  # a second shipper on the same log, other cuts
    for path in (tmp_path / "b").rglob("*.parquet"):
        target = tmp_path / "a" / path.relative_to(tmp_path / "b")
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    assert len(segment_rows(tmp_path / "a", "predictions")) > 300
    frame = read_window(str(tmp_path / "a"), T0, T0 + WEEK)
    pd.testing.assert_frame_equal(frame, read_window(str(two_logs[0]), T0, T0 + WEEK))


# --- refusals ------------------------------------------------------------------------------------------


def test_a_foreign_object_in_the_prefix_is_refused_by_name(two_logs: tuple[Path, Path], tmp_path: Path) -> None:
    ship(two_logs[0], tmp_path, "api-0")
    (tmp_path / "predictions" / "notes.txt").write_text("not a segment", encoding="utf-8")
    with pytest.raises(LogSourceError, match=r"predictions/notes\.txt: not a prediction log segment"):
        read_window(str(tmp_path), T0, T0 + WEEK)


def test_a_corrupt_segment_is_refused_by_name(two_logs: tuple[Path, Path], tmp_path: Path) -> None:
    key = ship(two_logs[0], tmp_path, "api-0")[0]
    (tmp_path / key).write_bytes((tmp_path / key).read_bytes()[:200])  # truncated
    with pytest.raises(LogSourceError, match=f"{re.escape(key)}: not a readable Parquet segment"):
        read_window(str(tmp_path), T0, T0 + WEEK)


def test_a_parquet_file_that_is_no_segment_is_refused_by_name(two_logs: tuple[Path, Path], tmp_path: Path) -> None:
    key = ship(two_logs[0], tmp_path, "api-0")[0]
    pq.write_table(pa.table({"request_id": ["x"], "score": [0.5]}), tmp_path / key)
    with pytest.raises(LogSourceError, match=r"not a predictions segment of format 1 \(format tag 'missing'"):
        read_window(str(tmp_path), T0, T0 + WEEK)


def test_segments_outside_the_window_are_not_even_opened(two_logs: tuple[Path, Path], tmp_path: Path) -> None:
    keys = ship(two_logs[0], tmp_path, "api-0")  # predictions 00:00-01:59, 02:00-03:59, 04:00-04:59
    (tmp_path / keys[2]).write_bytes(b"garbage")
    assert len(read_window(str(tmp_path), T0, T0 + timedelta(hours=4))) == 240
    with pytest.raises(LogSourceError, match="not a readable Parquet segment"):
        read_window(str(tmp_path), T0, T0 + timedelta(hours=4, seconds=1))


def test_sources_that_are_no_log_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LogSourceError, match=r"no such directory"):
        read_window(str(tmp_path / "missing"), T0, T0 + WEEK)
    with pytest.raises(LogSourceError, match=r"no such file"):
        read_window(str(tmp_path / "missing.sqlite3"), T0, T0 + WEEK)
    (tmp_path / "other.db").write_bytes(b"")
    with pytest.raises(LogSourceError, match=r"not a prediction log"):
        read_window(str(tmp_path / "other.db"), T0, T0 + WEEK)
    with pytest.raises(ConfigError, match=r"unsupported scheme 'gs'"):
        read_window("gs://bucket/log", T0, T0 + WEEK)


def test_an_empty_log_ships_nothing_and_reads_as_an_empty_frame(tmp_path: Path) -> None:
    Writer(tmp_path / "api.sqlite3").close()
    assert ship(tmp_path / "api.sqlite3", tmp_path / "store", "api-0") == []
    (tmp_path / "store").mkdir()
    frame = read_window(str(tmp_path / "store"), T0, T0 + WEEK)
    assert frame.empty
    assert list(frame.columns) == columns()
    assert str(frame["label"].dtype) == "Int64"


# --- names and the command ----------------------------------------------------------------------------


def test_segment_names_round_trip_and_other_names_are_not_segments() -> None:
    name = SegmentName("feedback", "api-7f9c.b_2", "0123456789abcdef", 1, 99, T0, T0 + timedelta(seconds=59))
    assert parse_key(name.key) == name
    assert parse_key(name.key.replace(".parquet", ".csv")) is None
    assert parse_key(name.key.replace("000000000001-000000000099", "000000000099-000000000001")) is None
    assert parse_key(f"x/{name.key}") is None


def test_the_ship_command_refuses_a_bad_replica_id_in_one_line(
    two_logs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlops_template.cli import main  # noqa: PLC0415

    code = main(["log", "ship", "--log", str(two_logs[0]), "--to", str(tmp_path), "--replica", "../up"])
    assert code == 2
    refused = "error: log ship: --replica='../up': not a usable replica id (rule: 1-63 of A-Z a-z 0-9 . _ -, "
    assert capsys.readouterr().err.strip().splitlines() == [refused + "starting alphanumeric)"]
    assert main(["log", "ship", "--log", str(two_logs[0]), "--to", str(tmp_path), "--replica", "api-0"]) == 0
    assert "shipped 300 prediction(s) and 150 label(s) in 2 segment(s)" in capsys.readouterr().out


def test_segments_end_at_midnight_and_a_window_across_it_reads_whole(tmp_path: Path) -> None:
    evening = T0 + timedelta(hours=23)
    fill(tmp_path / "api.sqlite3", seed=4, count=120, first=evening)  # 23:00 to 00:59 the next day
    keys = ship(tmp_path / "api.sqlite3", tmp_path / "store", "api-0", max_rows=1000)
    names = [parse_key(key) for key in keys if key.startswith("predictions/")]
    assert [(n.first, n.last, n.folder.split("/")[1]) for n in names if n] == [
        (1, 60, "date=2026-11-16"),
        (61, 120, "date=2026-11-17"),
    ]
    for start, end in ((evening, T0 + 2 * DAY), (T0 + DAY, T0 + DAY + timedelta(minutes=5))):
        pd.testing.assert_frame_equal(
            read_window(str(tmp_path / "store"), start, end), read_window(str(tmp_path / "api.sqlite3"), start, end)
        )


def test_a_segment_keeps_the_day_before_its_first_row_but_not_the_day_after_or_earlier() -> None:
    def row(day: str) -> tuple[object, ...]:
        return (1, "r", "b", f"{day}T23:59:59.999999Z")

    rows = [row("2026-11-17"), row("2026-11-16"), row("2026-11-17"), row("2026-11-18"), row("2026-11-17")]
    assert one_segment(rows) == rows[:3]
    assert one_segment([row("2026-11-17"), row("2026-11-15")]) == [row("2026-11-17")]


def test_a_folder_that_is_no_date_is_refused_by_name(two_logs: tuple[Path, Path], tmp_path: Path) -> None:
    ship(two_logs[0], tmp_path, "api-0")
    (tmp_path / "predictions" / "2026-11-16").mkdir()
    with pytest.raises(LogSourceError, match=r"predictions/2026-11-16/?: not a prediction log segment"):
        read_window(str(tmp_path), T0, T0 + WEEK)
