"""Stage ingest: validate, quarantine, de-duplicate and split by time; fail loudly, lose nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_template.core import io
from mlops_template.core.config import IngestParams, Params
from mlops_template.core.errors import DataContractError
from mlops_template.core.weeks import week_of
from mlops_template.data import schema
from mlops_template.data.sources import batch_files, read_batch
from mlops_template.data.splits import SPLITS
from mlops_template.stages import ingest


def _run(params: Params, data_dir: Path, out: Path) -> ingest.Ingested:
    return ingest.run(params, data_dir, out / "ingest", out / "data_quality.json")


def test_ingest_writes_time_ordered_disjoint_splits(small_params: Params, data_dir: Path, tmp_path: Path) -> None:
    result = _run(small_params, data_dir, tmp_path / "out")
    assert result.weeks == {"train": ["2026-W35", "2026-W36", "2026-W37"], "valid": ["2026-W38"], "test": ["2026-W39"]}
    splits = {n: pd.read_parquet(tmp_path / "out" / "ingest" / f"{n}.parquet") for n in SPLITS}
    assert splits["train"][schema.TIMESTAMP].max() < splits["valid"][schema.TIMESTAMP].min()
    assert splits["valid"][schema.TIMESTAMP].max() < splits["test"][schema.TIMESTAMP].min()
    ids = [set(s[schema.ID]) for s in splits.values()]
    assert not ids[0] & ids[1]
    assert not ids[0] & ids[2]
    assert not ids[1] & ids[2]
    quality = io.read_json(tmp_path / "out" / "data_quality.json")
    assert quality["rows_read"] == result.rows_read
    assert quality["train_rows"] + quality["valid_rows"] + quality["test_rows"] + quality["rows_rejected"] == (
        result.rows_read - result.duplicates_dropped
    )
    # Neutral keys: the share of the positive class per split, whatever the task calls it.
    for name, frame in splits.items():
        assert quality[f"{name}_positive_rate"] == round(float(frame[schema.LABEL].mean()), 6)
    assert not [key for key in quality if "fraud" in key]


def test_dirty_rows_are_quarantined_and_redeliveries_dropped(
    small_params: Params, data_dir: Path, tmp_path: Path
) -> None:
    result = _run(small_params, data_dir, tmp_path / "out")
    raw = pd.concat([read_batch(p) for p in batch_files(data_dir)])
    assert result.duplicates_dropped == raw.duplicated().sum() > 0
    rejected = pd.read_csv(tmp_path / "out" / "ingest" / "quarantine" / "rejected.csv")
    assert len(rejected) == len(result.rejected) > 0
    assert {"batch", "reasons", *schema.COLUMNS} <= set(rejected.columns)
    assert rejected["batch"].str.match(r"2026-W\d\d\.csv").all()
    report = (tmp_path / "out" / "ingest" / "quarantine" / "report.md").read_text(encoding="utf-8")
    assert "Verdict: passed" in report


def _corrupt_latest(data_dir: Path, share: float) -> None:
    latest = batch_files(data_dir)[-1]
    frame = read_batch(latest)
    bad = frame.sample(frac=share, random_state=0).index
    frame.loc[bad, "merchant_category"] = "pet_rocks"
    frame.to_csv(latest, index=False)


def test_too_many_rejected_rows_fail_and_keep_previous_outputs(
    small_params: Params, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    _run(small_params, data_dir, out)
    before = {p: p.read_bytes() for p in (out / "ingest").glob("*.*")} | {
        out / "data_quality.json": (out / "data_quality.json").read_bytes()
    }
    _corrupt_latest(data_dir, share=0.3)
    with pytest.raises(DataContractError) as caught:
        _run(small_params, data_dir, out)
    message = str(caught.value)
    assert "above ingest.max_rejected_share=1.00%" in message
    assert "merchant_category: one of" in message
    assert "Previous outputs were left unchanged" in message
    assert {p: p.read_bytes() for p in before} == before
    report = (out / "ingest" / "quarantine" / "report.md").read_text(encoding="utf-8")
    assert "FAILED" in report  # the quarantine describes the failed attempt, for diagnosis


def test_a_small_share_is_quarantined_not_fatal(small_params: Params, data_dir: Path, tmp_path: Path) -> None:
    _corrupt_latest(data_dir, share=0.005)
    result = _run(small_params, data_dir, tmp_path / "out")
    assert (result.rejected["reasons"].str.contains("pet_rocks")).sum() >= 1


def test_conflicting_duplicate_ids_across_batches_are_rejected(
    small_params: Params, data_dir: Path, tmp_path: Path
) -> None:
    files = batch_files(data_dir)
    first, last = read_batch(files[0]), read_batch(files[-1])
    last.loc[0, schema.ID] = first.loc[0, schema.ID]  # same id, different transaction
    last.to_csv(files[-1], index=False)
    result = _run(small_params, data_dir, tmp_path / "out")
    clashing = result.rejected[result.rejected[schema.ID] == first.loc[0, schema.ID]]
    assert sorted(clashing["batch"]) == [files[0].name, files[-1].name]
    assert clashing["reasons"].str.contains("unique").all()


def test_a_batch_with_a_missing_column_names_the_file(small_params: Params, data_dir: Path, tmp_path: Path) -> None:
    latest = batch_files(data_dir)[-1]
    read_batch(latest).drop(columns=["channel"]).to_csv(latest, index=False)
    with pytest.raises(DataContractError, match=rf"{latest.name}: missing column\(s\) \['channel'\]"):
        _run(small_params, data_dir, tmp_path / "out")


def test_an_empty_batch_fails_with_its_name(small_params: Params, data_dir: Path, tmp_path: Path) -> None:
    header = ",".join(schema.COLUMNS) + "\n"
    (data_dir / "2026-W40.csv").write_text(header, encoding="utf-8")
    with pytest.raises(DataContractError, match=re.escape("2026-W40.csv: batch has no rows")):
        _run(small_params, data_dir, tmp_path / "out")


def test_too_few_weeks_explain_the_rule(small_params: Params, data_dir: Path, tmp_path: Path) -> None:
    for path in batch_files(data_dir)[2:]:
        path.unlink()
    with pytest.raises(DataContractError, match=r"2 week\(s\) of valid data .* = 3 are needed"):
        _run(small_params, data_dir, tmp_path / "out")


def test_train_window_keeps_the_latest_weeks(small_params: Params, data_dir: Path, tmp_path: Path) -> None:
    params = small_params.model_copy(update={"ingest": IngestParams(train_weeks=2)})
    result = _run(params, data_dir, tmp_path / "out")
    assert result.weeks["train"] == ["2026-W36", "2026-W37"]


def test_ingest_is_deterministic(small_params: Params, data_dir: Path, tmp_path: Path) -> None:
    _run(small_params, data_dir, tmp_path / "a")
    _run(small_params, data_dir, tmp_path / "b")
    for name in ("train.parquet", "valid.parquet", "test.parquet", "weeks.json", "quarantine/rejected.csv"):
        assert (tmp_path / "a" / "ingest" / name).read_bytes() == (tmp_path / "b" / "ingest" / name).read_bytes()


@st.composite
def _timed_rows(draw: st.DrawFn) -> pd.DataFrame:
    count = draw(st.integers(min_value=1, max_value=60))
    seconds = draw(st.lists(st.integers(0, 10 * 7 * 86_400), min_size=count, max_size=count))
    return pd.DataFrame(
        {
            schema.ID: [f"id-{i}" for i in range(count)],
            schema.TIMESTAMP: pd.Timestamp("2026-01-05", tz="UTC") + pd.to_timedelta(seconds, unit="s"),
            schema.LABEL: 0,
        }
    )


@settings(max_examples=60, deadline=None)
@given(
    frame=_timed_rows(),
    valid=st.integers(1, 3),
    test=st.integers(1, 3),
    window=st.none() | st.integers(1, 5),
)
def test_split_never_leaks(frame: pd.DataFrame, valid: int, test: int, window: int | None) -> None:
    params = IngestParams(valid_weeks=valid, test_weeks=test, train_weeks=window)
    weeks = sorted(week_of(frame[schema.TIMESTAMP]).unique())
    if len(weeks) < valid + test + 1:
        with pytest.raises(DataContractError):
            ingest.split_by_time(frame, params)
        return
    splits, chosen = ingest.split_by_time(frame, params)
    ids = {name: set(split[schema.ID]) for name, split in splits.items()}
    assert not ids["train"] & ids["valid"]
    assert not ids["train"] & ids["test"]
    assert not ids["valid"] & ids["test"]
    assert chosen["test"] == weeks[-test:]
    assert max(chosen["train"]) < min(chosen["valid"]) <= max(chosen["valid"]) < min(chosen["test"])
    if window is None:  # without a window every row lands in exactly one split
        assert sum(len(s) for s in ids.values()) == len(frame)
    for split in splits.values():
        assert split[schema.TIMESTAMP].is_monotonic_increasing


def test_rows_dated_outside_their_files_week_are_quarantined_with_the_reason(
    small_params: Params, data_dir: Path, tmp_path: Path
) -> None:
    # Given three rows of 2026-W39.csv dated 1970 (a file edited or copied by hand)
    latest = batch_files(data_dir)[-1]
    frame = read_batch(latest)
    frame.loc[[3, 4, 5], schema.TIMESTAMP] = "1970-01-01T00:00:00Z"
    frame.to_csv(latest, index=False)
    # When ingest runs, then exactly those rows are quarantined, and the report counts the rule
    result = _run(small_params, data_dir, tmp_path / "out")
    mistimed = result.rejected[result.rejected["reasons"].str.contains("ISO week its file is named after")]
    assert set(mistimed[schema.ID]) == set(frame.loc[[3, 4, 5], schema.ID])
    assert (mistimed["batch"] == "2026-W39.csv").all()
    rule = r"timestamp: within 2026-W39, the ISO week its file is named after \(got '1970-01-01T00:00:00Z'\)"
    assert mistimed["reasons"].str.fullmatch(rule).all()
    assert not result.splits["train"][schema.TIMESTAMP].lt(pd.Timestamp("2000-01-01", tz="UTC")).any()
    report = (tmp_path / "out" / "ingest" / "quarantine" / "report.md").read_text(encoding="utf-8")
    assert "| timestamp: within 2026-W39, the ISO week its file is named after | 3 |" in report


def test_a_whole_week_file_of_other_weeks_rows_fails_ingest(
    small_params: Params, data_dir: Path, tmp_path: Path
) -> None:
    # Given 2026-W39's rows, with fresh ids, copied by hand into data/ as 2026-W47.csv
    copied = read_batch(batch_files(data_dir)[-1])
    copied[schema.ID] = "copy-" + copied[schema.ID]
    copied.to_csv(data_dir / "2026-W47.csv", index=False)
    with pytest.raises(DataContractError, match=r"timestamp: within 2026-W47, the ISO week its file is named after x"):
        _run(small_params, data_dir, tmp_path / "out")


def test_rows_in_the_future_are_quarantined(small_params: Params, data_dir: Path, tmp_path: Path) -> None:
    frame = read_batch(batch_files(data_dir)[-1])  # 2026-W39: 2026-09-21 .. 2026-09-27
    now = pd.Timestamp("2026-09-27T23:00:00Z")
    stamps = pd.to_datetime(frame[schema.TIMESTAMP], utc=True, format="ISO8601")
    late = set(frame.loc[stamps > now, schema.ID])
    assert 0 < len(late) < 0.01 * 3000  # a few rows of the last hour: below the quarantine limit
    result = ingest.run(small_params, data_dir, tmp_path / "ingest", tmp_path / "q.json", now=now)
    future = result.rejected[result.rejected["reasons"].str.startswith("timestamp: not in the future (got ")]
    assert set(future[schema.ID]) == late
    assert result.splits["test"][schema.TIMESTAMP].max() <= now
