"""The console script: one command, readable errors, exit code 2 for a user's mistake."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_template import cli
from mlops_template.core.command import EXIT_NO_NEW_BATCH
from mlops_template.data import schema
from tests.support.params import shipped_params_dict, write_params
from tests.support.workspace import REPO


def test_params_check_accepts_the_shipped_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["params", "check", "--params", str(REPO / "params.yaml")]) == 0
    assert "valid (model hist_gradient_boosting, source simulated)" in capsys.readouterr().out


def test_bad_params_exit_2_with_the_key_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = shipped_params_dict()
    raw["train"]["calibration"]["method"] = "platt"
    code = cli.main(["params", "check", "--params", str(write_params(tmp_path / "p.yaml", raw))])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: params check: ")
    assert "train.calibration.method: Input should be 'sigmoid' or 'isotonic' (got 'platt')" in err
    assert "Traceback" not in err


def test_stage_errors_are_one_line_not_a_traceback(tmp_path: Path) -> None:
    found = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops_template.stages.ingest",
            "--params",
            str(REPO / "params.yaml"),
            "--data",
            str(tmp_path / "none"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 2
    assert "error: ingest: " in found.stderr
    assert "data directory not found" in found.stderr
    assert "Traceback" not in found.stderr


def test_next_batch_prints_the_new_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert cli.main(["data", "next-batch", "--params", str(REPO / "params.yaml"), "--data", str(data)]) == 0
    assert capsys.readouterr().out.strip() == str(data / "2026-W35.csv")


def test_metrics_prints_each_metric_of_the_model_and_the_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the evaluate stage's metrics, with a metric the baseline cannot have (null) and one it does not print
    model = {
        "roc_auc": 0.859987,
        "average_precision": 0.448789,
        "precision": 0.53333,
        "recall": 0.43956,
        "f1": 0.481928,
        "brier": 0.012878,
        "calibration_error": 0.00005,
        "flagged_share": 0.015012,
    }
    baseline = {**dict.fromkeys(model, 0.0), "roc_auc": 0.5, "average_precision": 0.018215, "brier": None}
    found = {"model": model, "baseline": baseline, "test": {"rows": 4996, "positives": 91}, "threshold": 0.205112}
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps(found), encoding="utf-8")
    # When the table is printed, then every row holds its metric's numbers, rounded to 4 places, in columns
    assert cli.main(["metrics", "--metrics", str(metrics)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"Test split: 4996 rows, 91 {schema.POSITIVE_CLASS}; threshold 0.2051",
        "metric                   model  baseline",
        "roc_auc                 0.8600    0.5000",
        "average_precision       0.4488    0.0182",
        "precision               0.5333    0.0000",
        "recall                  0.4396    0.0000",
        "f1                      0.4819    0.0000",
        "brier                   0.0129       n/a",
        "calibration_error       0.0001    0.0000",
    ]
    assert err == ""


def test_metrics_without_a_run_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["metrics", "--metrics", str(tmp_path / "metrics.json")]) == 2
    assert "run `dvc repro` first" in capsys.readouterr().err


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "mlops-template"
    found = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    for command in ("ingest", "featurize", "train", "evaluate", "data", "params", "metrics"):
        assert command in found.stdout


def test_next_batch_with_nothing_new_prints_one_line_and_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a landing folder whose only file is already in data/
    raw = shipped_params_dict()
    raw["source"] = {"kind": "files", "path": str(tmp_path / "landing")}
    params = write_params(tmp_path / "p.yaml", raw)
    data = tmp_path / "data"
    assert cli.main(["data", "next-batch", "--params", str(REPO / "params.yaml"), "--data", str(data)]) == 0
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "2026-W35.csv").write_bytes((data / "2026-W35.csv").read_bytes())
    capsys.readouterr()
    before = sorted(data.iterdir())
    # When next-batch runs, then it says so in one line, writes nothing and exits 3
    assert cli.main(["data", "next-batch", "--params", str(params), "--data", str(data)]) == EXIT_NO_NEW_BATCH == 3
    out, err = capsys.readouterr()
    assert out.startswith("no new batch: source.path=")
    assert len(out.strip().splitlines()) == 1
    assert err == ""
    assert sorted(data.iterdir()) == before


def _missing(name: str) -> Callable[[str], object]:
    def import_module(module: str) -> object:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    return import_module


@pytest.mark.parametrize(("module", "extra"), [("pandas", "train"), ("duckdb", "log"), ("sklearn.base", "train")])
def test_a_command_without_its_extra_is_one_line_naming_the_extra(
    module: str, extra: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a core install (the stage's module cannot import its dependency)
    monkeypatch.setattr(cli.importlib, "import_module", _missing(module))
    # When a stage runs, then one line says which extra to install
    assert cli.main(["ingest"]) == 2
    err = capsys.readouterr().err
    top = module.partition(".")[0]
    install = f"pip install 'mlops-template[{extra}]'"
    assert err == f"error: ingest: needs the {extra!r} extra ({top} is not installed): {install}\n"


def test_a_missing_module_that_no_extra_brings_is_a_real_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.importlib, "import_module", _missing("mlops_template.stages.nope"))
    with pytest.raises(ModuleNotFoundError, match="nope"):
        cli.main(["ingest"])
