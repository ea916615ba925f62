"""The report links the head commit's MLflow run when MLFLOW_TRACKING_URI is a real tracking server.

A real `mlflow server` on 127.0.0.1 (SQLite store in tmp_path), started and stopped by the fixture.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlops_template.release.pr_report import sources
from tests.support.api_server import free_port
from tests.support.workspace import VENV_BIN, project_env

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = (root / "server.log").open("wb")
    process = subprocess.Popen(
        [
            str(VENV_BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
        ],
        env=project_env(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true"),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not become healthy:\n{(root / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)  # a poll interval with a deadline, not a synchronisation sleep
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        log.close()


def test_the_report_links_the_run_of_the_head_commit(tracking_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient  # noqa: PLC0415

    client = MlflowClient(tracking_uri=tracking_server)
    experiment = client.create_experiment("fraud-detection")
    commit = "c0ffee" + "0" * 34
    client.create_run(experiment, tags={"git_commit": "1" * 40})
    run = client.create_run(experiment, tags={"git_commit": commit})

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server)
    expected = f"{tracking_server}/#/experiments/{experiment}/runs/{run.info.run_id}"
    assert sources.mlflow_run_url(commit, "fraud-detection") == expected
    assert sources.mlflow_run_url("2" * 40, "fraud-detection") is None  # no run for that commit
    assert sources.mlflow_run_url(commit, "no-such-experiment") is None

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{Path('unused.db').resolve()}")
    assert sources.mlflow_run_url(commit, "fraud-detection") is None  # no server, no link
