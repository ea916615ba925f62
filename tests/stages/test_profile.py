"""Stage `profile`: the reference of the served artifact on the held-out weeks, as dvc.yaml runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_template.cli import main as cli_main
from mlops_template.model.artifact import ServedModel
from mlops_template.monitoring import reference_profile as profiles
from tests.support.params import small_params_dict, write_params


@pytest.fixture
def written(served_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "reports/reference_profile.json"
    params = write_params(tmp_path / "params.yaml", small_params_dict())
    argv = ["profile", "--served", str(served_dir), "--ingest", str(served_dir.parents[1] / "artifacts/ingest")]
    assert cli_main([*argv, "--out", str(out), "--params", str(params)]) == 0
    return out


def test_the_profile_is_the_served_models_on_held_out_weeks(written: Path, served_dir: Path) -> None:
    found = profiles.load(written)
    served = ServedModel.load(served_dir)
    project = served_dir.parents[1]
    weeks = json.loads((project / "artifacts/ingest/weeks.json").read_text(encoding="utf-8"))
    # The validation and test weeks, never a training week
    assert found.weeks == sorted(weeks["valid"] + weeks["test"])
    assert not set(found.weeks) & set(weeks["train"])
    assert found.model_version == served.version
    assert found.threshold == served.threshold
    assert set(found.inputs) == {spec.name for spec in served.inputs}
    # Scored by the served artifact: the test week's numbers are evaluate's (which measures the same artifact)
    metrics = json.loads((project / "reports/metrics.json").read_text(encoding="utf-8"))
    test_week = found.per_week[weeks["test"][0]]
    assert test_week.average_precision == pytest.approx(metrics["model"]["average_precision"], abs=1e-6)
    assert test_week.recall == pytest.approx(metrics["model"]["recall"], abs=1e-6)
    assert test_week.flagged_share == pytest.approx(metrics["model"]["flagged_share"], abs=1e-6)
    assert found.rows == sum(w.rows for w in found.per_week.values())
    assert found.performance.positives == sum(w.positives for w in found.per_week.values())
    # Every numeric input's bins count every present value once
    for spec in found.inputs.values():
        counted = sum(spec.counts) if isinstance(spec, profiles.NumericInput) else sum(spec.counts.values())
        assert counted + spec.missing == spec.rows == found.rows


def test_the_profile_file_is_stable_json(written: Path, served_dir: Path, tmp_path: Path) -> None:
    # Rebuilt from the same inputs, byte for byte the same file (DVC sees no change)
    again = tmp_path / "again.json"
    params = write_params(tmp_path / "p.yaml", small_params_dict())
    ingest = served_dir.parents[1] / "artifacts/ingest"
    cli_main(
        ["profile", "--served", str(served_dir), "--ingest", str(ingest), "--out", str(again), "--params", str(params)]
    )
    assert again.read_bytes() == written.read_bytes()


def test_no_served_model_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = write_params(tmp_path / "params.yaml", small_params_dict())
    argv = ["profile", "--served", str(tmp_path / "nothing"), "--ingest", str(tmp_path), "--params", str(params)]
    assert cli_main([*argv, "--out", str(tmp_path / "p.json")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: profile: ")
    assert "served.json: not found" in error


def test_a_trending_input_must_be_a_numeric_input(
    tmp_path: Path, served_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = small_params_dict()
    raw["monitor"]["drift"]["trending"] = {"channel": 1.0}
    params = write_params(tmp_path / "params.yaml", raw)
    ingest = served_dir.parents[1] / "artifacts/ingest"
    argv = ["profile", "--served", str(served_dir), "--ingest", str(ingest), "--params", str(params)]
    assert cli_main([*argv, "--out", str(tmp_path / "p.json")]) == 2
    assert "monitor.drift.trending: 'channel' is not a numeric input" in capsys.readouterr().err
    assert not (tmp_path / "p.json").exists()


def test_a_trending_input_is_profiled_at_the_reference_time(written: Path) -> None:
    found = profiles.load(written)
    ages = found.inputs["account_age_days"]
    assert isinstance(ages, profiles.NumericInput)
    assert ages.trend_per_day == 1.0
    others = [s for n, s in found.inputs.items() if n != "account_age_days" and isinstance(s, profiles.NumericInput)]
    assert all(s.trend_per_day == 0.0 for s in others)
