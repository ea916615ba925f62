"""`mlops-template monitor`: exit statuses, the one line it prints, summary.json and the reports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlops_template.model.artifact import ServedModel
from mlops_template.monitoring import reference_profile as profiles
from tests.support.monitoring_reference import END, START, monitor_main, window
from tests.support.params import shipped_params_dict, write_params

DETECTOR_KEYS = {"kind", "detector", "statistic", "threshold", "p_value", "reason"}


@pytest.fixture
def profile_path(tmp_path: Path, reference_profile: profiles.Profile) -> Path:
    return profiles.write(tmp_path / "reference_profile.json", reference_profile)


@pytest.fixture
def params_path(tmp_path: Path) -> Path:
    return write_params(tmp_path / "params.yaml", shipped_params_dict())


def test_quiet_weeks_exit_0_with_every_output(
    quiet_window: pd.DataFrame,
    profile_path: Path,
    params_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "report"
    code = monitor_main(quiet_window, profile_path, params_path, out)
    assert code == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("ok: ")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "ok"
    assert summary["breaches"] == []
    assert summary["window"] == {
        "start": "2026-11-16T00:00:00+00:00",
        "end": "2026-11-30T00:00:00+00:00",
        "rows": len(quiet_window),
        "labelled": len(quiet_window),
    }
    assert summary["model_version"] == quiet_window["model_version"].iloc[0]
    assert len(summary["detectors"]) >= 10
    assert all(set(d) >= DETECTOR_KEYS for d in summary["detectors"])
    assert (out / "report.md").read_text(encoding="utf-8").startswith("# Model monitoring report")


def test_a_breach_exits_4_with_one_line_naming_its_kind(
    served: ServedModel, profile_path: Path, params_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the weeks after a rise of the fraud base rate (prior shift), every label arrived
    frame = window(served, scenario="prior_shift")
    code = monitor_main(frame, profile_path, params_path, tmp_path / "report")
    assert code == 4
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("breach: calibration: ")
    summary = json.loads((tmp_path / "report/summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "breach"
    assert summary["breaches"][0]["kind"] == "calibration"
    assert set(summary["breaches"][0]) == DETECTOR_KEYS
    assert isinstance(summary["breaches"][0]["p_value"], float)


def test_a_window_with_no_labels_yet_exits_5(
    served: ServedModel, profile_path: Path, params_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = window(served, now=pd.Timestamp(START) + pd.Timedelta(days=2))
    assert monitor_main(frame, profile_path, params_path, tmp_path / "report") == 5
    assert capsys.readouterr().out.startswith("insufficient: ")
    assert json.loads((tmp_path / "report/summary.json").read_text(encoding="utf-8"))["status"] == "insufficient"


def test_rows_of_another_model_version_are_not_judged(
    quiet_window: pd.DataFrame,
    profile_path: Path,
    params_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    frame = quiet_window.assign(model_version="0123456789ab")
    assert monitor_main(frame, profile_path, params_path, tmp_path / "report") == 5
    assert "no rows of model version" in capsys.readouterr().out


def test_weeks_end_at_end(quiet_window: pd.DataFrame, profile_path: Path, params_path: Path, tmp_path: Path) -> None:
    assert monitor_main(quiet_window, profile_path, params_path, tmp_path / "r", "--weeks", "2", "--end", END) == 0
    summary = json.loads((tmp_path / "r/summary.json").read_text(encoding="utf-8"))
    assert summary["window"]["start"] == "2026-11-16T00:00:00+00:00"


@pytest.mark.parametrize(
    ("window_args", "message"),
    [
        (["--start", "yesterday", "--end", END], "--start 'yesterday': not an ISO 8601 time"),
        (["--start", END, "--end", START], "is not before --end"),
        (["--start", START], "--start '2026-11-16T00:00:00Z' without --end"),
        (["--start", START, "--end", END, "--weeks", "2"], "give one"),
        (["--weeks", "0"], "--weeks 0: must be at least 1"),
    ],
)
def test_a_bad_window_exits_2_naming_the_flag(
    *,
    quiet_window: pd.DataFrame,
    profile_path: Path,
    params_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    window_args: list[str],
    message: str,
) -> None:
    assert monitor_main(quiet_window, profile_path, params_path, tmp_path / "r", *window_args) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: monitor: ")
    assert message in error


def test_bad_params_exit_2_with_the_key_path(
    quiet_window: pd.DataFrame, profile_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = shipped_params_dict()
    raw["monitor"]["drift"]["psi_threshold"] = -1
    bad = write_params(tmp_path / "bad.yaml", raw)
    assert monitor_main(quiet_window, profile_path, bad, tmp_path / "r") == 2
    error = capsys.readouterr().err
    assert "monitor.drift.psi_threshold" in error
    assert "-1" in error
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("drift", "message"),
    [
        (
            {"trending": {"account_age": 1.0}},
            "monitor.drift.trending: {'account_age': 1.0} is not the profile's {'account_age_days': 1.0}",
        ),
        ({"trending": {}}, "monitor.drift.trending: {} is not the profile's"),
        ({"ignored": ["colour"]}, "monitor.drift.ignored: 'colour' is not an input"),
    ],
)
def test_drift_params_must_fit_the_profile(
    *,
    quiet_window: pd.DataFrame,
    profile_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    drift: dict[str, object],
    message: str,
) -> None:
    raw = shipped_params_dict()
    raw["monitor"]["drift"].update(drift)
    params = write_params(tmp_path / "params.yaml", raw)
    assert monitor_main(quiet_window, profile_path, params, tmp_path / "r") == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda raw: raw.pop("scores"), "scores: Field required"),
        (lambda raw: raw["inputs"]["amount"]["counts"].pop(), "counts has"),
        (lambda raw: raw.update(format=2), "format"),
    ],
)
def test_a_bad_profile_exits_2_naming_the_field(
    *,
    quiet_window: pd.DataFrame,
    profile_path: Path,
    params_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: object,
    message: str,
) -> None:
    raw = json.loads(profile_path.read_text(encoding="utf-8"))
    edit(raw)  # type: ignore[operator]
    profile_path.write_text(json.dumps(raw), encoding="utf-8")
    assert monitor_main(quiet_window, profile_path, params_path, tmp_path / "r") == 2
    error = capsys.readouterr().err
    assert error.startswith("error: monitor: ")
    assert message in error
    assert "dvc repro profile" in error


def test_a_missing_profile_exits_2(
    quiet_window: pd.DataFrame, params_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert monitor_main(quiet_window, tmp_path / "none.json", params_path, tmp_path / "r") == 2
    assert "--profile" in capsys.readouterr().err


def test_a_log_without_the_agreed_columns_exits_2(
    quiet_window: pd.DataFrame,
    profile_path: Path,
    params_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert monitor_main(quiet_window.drop(columns=["probability"]), profile_path, params_path, tmp_path / "r") == 2
    assert "['probability']" in capsys.readouterr().err


def test_the_html_report_is_self_contained(
    served: ServedModel, profile_path: Path, params_path: Path, tmp_path: Path
) -> None:
    frame = window(served, scenario="covariate_shift")
    monitor_main(frame, profile_path, params_path, tmp_path / "r")
    page = (tmp_path / "r/report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") >= 3  # performance, scores, drift, effects
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", page, flags=re.IGNORECASE)
    assert not re.search(r"<(script|link|img|iframe)\b|@import|url\(", page, flags=re.IGNORECASE)
    markdown = (tmp_path / "r/report.md").read_text(encoding="utf-8")
    assert "http" not in markdown
    assert "## Breaches" in markdown


def test_the_shipped_monitor_params_are_valid() -> None:
    raw = yaml.safe_load(Path(__file__).resolve().parents[2].joinpath("params.yaml").read_text(encoding="utf-8"))
    assert set(raw["monitor"]) >= {"family_alpha", "performance", "calibration", "volume", "drift", "quality"}
    assert np.isclose(raw["monitor"]["drift"]["trending"]["account_age_days"], 1.0)
