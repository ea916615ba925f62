"""`mlops-template monitor` end to end on a real SQLite prediction log (the API's PredictionLog, the real reader)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mlops_template.cli import main as cli_main
from mlops_template.data import schema
from mlops_template.model.artifact import ServedModel
from mlops_template.monitoring import reference_profile as profiles
from tests.support.monitoring_reference import window
from tests.support.params import shipped_params_dict, write_params
from tests.support.prediction_logs import Writer, log_time

START, END = "2026-11-16T00:00:00Z", "2026-11-30T00:00:00Z"
INPUTS = tuple(c for c in schema.COLUMNS if c != schema.LABEL)  # what the API logs of a request


def _json_value(value: object) -> object:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.item() if hasattr(value, "item") else value


def write_log(path: Path, frame: pd.DataFrame, threshold: float) -> None:
    """The window as the API would have logged it: one prediction per row, then each row's label."""
    writer = Writer(path)
    try:
        rows = [
            (
                request_id,
                "batch",
                log_time(ts.to_pydatetime()),
                version,
                json.dumps({name: _json_value(record[name]) for name in INPUTS}),
                float(probability),
                int(prediction),
                threshold,
                1.0,
            )
            for request_id, ts, version, probability, prediction, record in zip(
                frame["request_id"],
                frame["ts"],
                frame["model_version"],
                frame["probability"],
                frame["prediction"],
                frame.assign(**{schema.ID: frame["request_id"]}).to_dict("records"),
                strict=True,
            )
        ]
        writer.predict(rows)
        labelled = frame[frame["label"].notna()]
        for value in (0, 1):
            writer.label(labelled.loc[labelled["label"] == value, "request_id"].tolist(), value)
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("scenario", "code", "line"), [("none", 0, "ok: "), ("prior_shift", 4, "breach: calibration: ")]
)
def test_monitor_reads_the_apis_sqlite_log(
    *,
    served: ServedModel,
    reference_profile: profiles.Profile,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    scenario: str,
    code: int,
    line: str,
) -> None:
    # Given two weeks of predictions and labels in a SQLite log written by the API's own class
    log = tmp_path / "predictions.sqlite3"
    write_log(log, window(served, scenario=scenario), served.threshold)
    profile_path = profiles.write(tmp_path / "reference_profile.json", reference_profile)
    params = write_params(tmp_path / "params.yaml", shipped_params_dict())
    # When the console command judges the window
    found = cli_main(
        [
            "monitor",
            "--log",
            str(log),
            "--profile",
            str(profile_path),
            "--start",
            START,
            "--end",
            END,
            "--out",
            str(tmp_path / "report"),
            "--params",
            str(params),
        ]
    )
    # Then the status and the one line are those of the scenario
    assert found == code
    assert capsys.readouterr().out.startswith(line)
    summary = json.loads((tmp_path / "report/summary.json").read_text(encoding="utf-8"))
    assert summary["window"]["rows"] == 6000
    assert summary["window"]["labelled"] == 6000
