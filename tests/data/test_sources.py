"""Sources append batches to data/: the next simulated week, or the next file from a landing folder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops_template import cli
from mlops_template.core.config import Params, parse_params
from mlops_template.core.errors import DataContractError, NoNewBatchError, SourceError
from mlops_template.data import schema
from mlops_template.data.sources import batch_files, generate_history, next_batch, read_batch
from mlops_template.data.sources.simulated import generate_week
from tests.support.params import small_params_dict, write_params
from tests.support.workspace import EXAMPLE

EXAMPLE_CONTRACT = EXAMPLE / "contract.yaml"


def _file_params(path: str) -> Params:
    raw: dict[str, Any] = small_params_dict()
    raw["source"] = {"kind": "files", "path": path}
    return parse_params(raw)


def test_generate_history_writes_consecutive_weeks(data_dir: Path) -> None:
    assert [p.name for p in batch_files(data_dir)] == [f"2026-W{w}.csv" for w in range(35, 40)]


def test_next_batch_appends_the_following_week(data_dir: Path, small_params: Params) -> None:
    before = {p: p.read_bytes() for p in batch_files(data_dir)}
    written = next_batch(small_params, data_dir)
    assert written.name == "2026-W40.csv"
    assert {p: p.read_bytes() for p in before} == before  # raw data is immutable
    assert next_batch(small_params, data_dir).name == "2026-W41.csv"


def test_next_batch_on_empty_dir_starts_at_first_week(tmp_path: Path, small_params: Params) -> None:
    assert next_batch(small_params, tmp_path / "data").name == "2026-W35.csv"


def test_written_batch_is_the_simulated_week(data_dir: Path, small_params: Params) -> None:
    assert small_params.source.kind == "simulated"
    batch = read_batch(next_batch(small_params, data_dir))
    expected = generate_week(small_params.source, small_params.base.seed, "2026-W40")
    valid = schema.validate(batch.drop_duplicates()).valid
    assert set(valid[schema.ID]) <= set(expected[schema.ID])
    assert len(valid) >= len(expected) - 5


def test_next_batch_refuses_a_batch_ingest_would_refuse(tmp_path: Path) -> None:
    raw = small_params_dict()
    raw["source"]["dirty_rate"] = 0.2
    params = parse_params(raw)
    with pytest.raises(DataContractError, match=r"above ingest.max_rejected_share=1.00%"):
        next_batch(params, tmp_path / "data")
    assert not list((tmp_path / "data").glob("*"))  # nothing landed, not even a temporary file


def test_file_source_copies_the_next_unseen_file(tmp_path: Path, data_dir: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    frame = read_batch(batch_files(data_dir)[0])
    frame.to_parquet(landing / "export-001.parquet")
    read_batch(batch_files(data_dir)[1]).iloc[:50].to_csv(landing / "export-002.csv", index=False)
    (landing / "notes.txt").write_text("not a batch", encoding="utf-8")
    target = tmp_path / "mine"
    params = _file_params(str(landing / "export-*"))
    assert next_batch(params, target).name == "export-001.parquet"
    assert next_batch(params, target).name == "export-002.csv"
    assert (target / "export-001.parquet").read_bytes() == (landing / "export-001.parquet").read_bytes()
    with pytest.raises(SourceError, match="no new batch"):
        next_batch(params, target)


def test_file_source_accepts_a_directory(tmp_path: Path, data_dir: Path) -> None:
    params = _file_params(str(data_dir))
    assert next_batch(params, tmp_path / "copy").name == "2026-W35.csv"


def test_file_source_that_matches_nothing(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=re.escape("matches no .csv or .parquet file")):
        next_batch(_file_params(str(tmp_path / "nowhere" / "*.csv")), tmp_path / "data")


def test_file_source_refuses_a_file_that_breaks_the_contract(tmp_path: Path, data_dir: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    read_batch(batch_files(data_dir)[0]).drop(columns=["amount"]).to_csv(landing / "bad.csv", index=False)
    with pytest.raises(DataContractError, match=r"missing column\(s\) \['amount'\]"):
        next_batch(_file_params(str(landing)), tmp_path / "data")
    assert not (tmp_path / "data" / "bad.csv").exists()


def test_unreadable_batch_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(DataContractError, match=re.escape("broken.parquet: cannot be read as parquet")):
        read_batch(path)


def test_missing_data_dir_says_how_to_fetch(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=re.escape("dvc pull data.dvc")):
        batch_files(tmp_path / "data")


def test_generate_history_needs_the_simulated_source(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="only the simulated source"):
        generate_history(_file_params(str(tmp_path)), tmp_path / "data", weeks=2)


def test_csv_and_parquet_batches_read_alike(tmp_path: Path, data_dir: Path) -> None:
    csv = read_batch(batch_files(data_dir)[0])
    csv.to_parquet(tmp_path / "same.parquet")
    parquet = read_batch(tmp_path / "same.parquet")
    a = schema.validate(csv.drop_duplicates()).valid
    b = schema.validate(parquet.drop_duplicates()).valid
    pd.testing.assert_frame_equal(a, b)


# Event times and re-deliveries: `now` is injected, so these tests do not depend on the clock.
AFTER_W41 = pd.Timestamp("2026-10-12T00:00:00Z")  # the Monday after 2026-W41


def _landing_with(tmp_path: Path, name: str, frame: pd.DataFrame) -> Path:
    landing = tmp_path / "landing"
    landing.mkdir(exist_ok=True)
    frame.to_csv(landing / name, index=False)
    return landing


def test_next_batch_refuses_a_week_file_dated_elsewhere(tmp_path: Path, data_dir: Path) -> None:
    # Given a landing file named 2026-W47 whose rows are 2026-W35's, dated 1970 for some
    frame = read_batch(batch_files(data_dir)[0])
    frame.loc[:2, schema.TIMESTAMP] = "1970-01-01T00:00:00Z"
    landing = _landing_with(tmp_path, "2026-W47.csv", frame)
    # When next-batch takes it, then it is refused, naming file, week, count and an example
    with pytest.raises(DataContractError) as caught:
        next_batch(_file_params(str(landing)), tmp_path / "target", now=pd.Timestamp("2026-12-01T00:00:00Z"))
    message = str(caught.value)
    assert message.startswith(f"{landing / '2026-W47.csv'}: {len(frame)} of {len(frame)} rows have event times")
    assert "outside 2026-W47 (2026-11-16 to 2026-11-22 UTC)" in message
    assert "e.g. '" in message
    assert not (tmp_path / "target").exists() or not list((tmp_path / "target").iterdir())


def test_next_batch_refuses_future_rows_in_any_file(tmp_path: Path, data_dir: Path) -> None:
    frame = read_batch(batch_files(data_dir)[0])  # 2026-W35
    landing = _landing_with(tmp_path, "export-001.csv", frame)
    now = pd.Timestamp("2026-08-26T12:00:00Z")  # the Wednesday of 2026-W35
    with pytest.raises(DataContractError, match=r"rows have event times in the future \(after now, 2026-08-26T12:00"):
        next_batch(_file_params(str(landing)), tmp_path / "target", now=now)
    # A week later the same file is history and lands.
    assert next_batch(_file_params(str(landing)), tmp_path / "target", now=now + pd.Timedelta(days=7)).exists()


def test_next_batch_says_no_new_batch_for_a_week_delivered_again(tmp_path: Path, data_dir: Path) -> None:
    # Given 2026-W35 delivered again under another name
    again = _landing_with(tmp_path, "2026-W35-resent.csv", read_batch(batch_files(data_dir)[0]))
    with pytest.raises(NoNewBatchError, match=rf"adds no new rows: all \d+ of its {schema.ID} values are already in"):
        next_batch(_file_params(str(again)), data_dir)
    assert not (data_dir / "2026-W35-resent.csv").exists()


def test_next_simulated_week_waits_until_the_week_is_over(data_dir: Path, small_params: Params) -> None:
    # data_dir holds 2026-W35..W39; 2026-W40 ends on Monday 2026-10-05 00:00 UTC.
    with pytest.raises(NoNewBatchError, match=r"2026-W40 has not ended yet \(it ends 2026-10-05T00:00:00\+00:00"):
        next_batch(small_params, data_dir, now=pd.Timestamp("2026-10-04T23:59:59Z"))
    assert [p.name for p in batch_files(data_dir)][-1] == "2026-W39.csv"
    assert next_batch(small_params, data_dir, now=AFTER_W41).name == "2026-W40.csv"


def test_generate_history_refuses_weeks_in_the_future(tmp_path: Path, small_params: Params) -> None:
    with pytest.raises(DataContractError, match=r"2026-W36.csv: \d+ of \d+ rows have event times in the future"):
        generate_history(small_params, tmp_path / "data", weeks=3, now=pd.Timestamp("2026-09-02T00:00:00Z"))


@pytest.mark.parametrize("command", [["data", "generate", "--weeks", "2"], ["data", "next-batch"]])
def test_the_simulator_refuses_to_write_for_another_contract(
    tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a project with its own contract that still says source.kind: simulated
    params = write_params(tmp_path / "params.yaml", small_params_dict())
    previous = schema.use(EXAMPLE_CONTRACT)
    try:
        # When a data command runs
        code = cli.main([*command, "--params", str(params), "--data", str(tmp_path / "data")])
    finally:
        schema.use(previous)
    # Then it is one line naming the key and the rule, and nothing lands in data/
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1, err
    assert "source.kind: 'simulated' generates the template's 'card_transactions' rows" in err
    assert f"but {EXAMPLE_CONTRACT} declares 'loan_applications'" in err
    assert "rule: with your own contract, use source.kind: files" in err
    assert not (tmp_path / "data").exists()
