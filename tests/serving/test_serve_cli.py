"""`mlops-template serve`: configuration errors are one line and exit code 2, before any worker starts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mlops_template import cli
from mlops_template.serving.__main__ import default_workers, log_config, prepare_multiprocess_metrics


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "MLOPS_API_KEYS",
        "MLOPS_API_KEYS_FILE",
        "MLOPS_AUTH_DISABLED",
        "WEB_CONCURRENCY",
        "PROMETHEUS_MULTIPROC_DIR",
    ):
        monkeypatch.delenv(name, raising=False)


def test_serve_without_keys_refuses_to_start(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["serve", "--model-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: serve: no API keys configured")
    assert len(err.splitlines()) == 1


def test_serve_with_a_bad_setting_names_it(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MLOPS_AUTH_DISABLED", "true")
    monkeypatch.setenv("MLOPS_MAX_BODY_BYTES", "lots")
    assert cli.main(["serve"]) == 2
    assert "MLOPS_MAX_BODY_BYTES='lots'" in capsys.readouterr().err


def test_workers_come_from_web_concurrency_else_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_workers() == 1
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert default_workers() == 3
    monkeypatch.setenv("WEB_CONCURRENCY", "many")
    monkeypatch.setenv("MLOPS_AUTH_DISABLED", "true")
    assert cli.main(["serve"]) == 2


def test_workers_must_be_a_positive_number(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--workers", "0"])
    assert exited.value.code == 2
    assert "--workers: '0' (rule: a whole number, at least 1)" in capsys.readouterr().err


def test_serve_is_listed_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "serve" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    out = capsys.readouterr().out
    for option in ("--model-dir", "--host", "--port", "--workers"):
        assert option in out


def test_several_workers_share_metrics_through_an_emptied_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # unset, and restored after the test
    prepare_multiprocess_metrics(1)
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == ""
    prepare_multiprocess_metrics(2)
    made = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert made.is_dir()
    shutil.rmtree(made)

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "counter_123.db").write_bytes(b"stale")
    (tmp_path / "notes.txt").write_text("kept", encoding="utf-8")
    prepare_multiprocess_metrics(1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_logging_reaches_every_worker_and_access_logs_are_opt_in() -> None:
    quiet = log_config("info", access_log=False)
    assert quiet["loggers"]["uvicorn.access"]["handlers"] == []
    assert quiet["loggers"]["mlops_template"]["level"] == "INFO"
    assert log_config("debug", access_log=True)["loggers"]["uvicorn.access"]["handlers"] == ["stderr"]
