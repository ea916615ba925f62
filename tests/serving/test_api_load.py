"""Under load on a real uvicorn: a model reload with no failed request, and no acknowledged prediction
lost when the server is killed with SIGKILL."""

from __future__ import annotations

import http.client
import json
import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx

from mlops_template.model.artifact import CONTRACT, METADATA, artifact_version, sha256_file
from tests.support.api_server import AUTH, VALID_RECORD, ApiServer, start_api_server, wait_until

REQUESTS = 2000
CONCURRENCY = 16


def new_version(model_dir: Path) -> None:
    """Re-export the contract with one more merchant category: a new artifact with a new version."""
    contract = json.loads((model_dir / CONTRACT).read_text(encoding="utf-8"))
    column = next(c for c in contract["columns"] if c["name"] == "merchant_category")
    column["allowed"].append("casino")
    (model_dir / CONTRACT).write_text(json.dumps(contract), encoding="utf-8")
    metadata = json.loads((model_dir / METADATA).read_text(encoding="utf-8"))
    metadata["files"][CONTRACT] = sha256_file(model_dir / CONTRACT)
    metadata["version"] = artifact_version(metadata["files"])
    (model_dir / METADATA).write_text(json.dumps(metadata), encoding="utf-8")


def drive(server: ApiServer, model_dir: Path) -> tuple[list[Any], list[dict[str, Any]], dict[str, Any]]:
    """REQUESTS predictions from CONCURRENCY clients; after half of them, a new artifact and a reload."""
    results: list[Any] = []
    lock = threading.Lock()
    half = threading.Event()
    numbers = iter(range(REQUESTS))
    host, port = server.base_url.removeprefix("http://").split(":")
    headers = {**AUTH, "content-type": "application/json"}

    def client_loop() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)  # keep-alive, as a client pool does
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            record = VALID_RECORD | {"transaction_id": f"load-{n}", "amount": 1.0 + n % 500}
            try:
                connection.request("POST", "/v1/predict", body=json.dumps({"record": record}), headers=headers)
                answer = connection.getresponse()
                result = (answer.status, json.loads(answer.read()))
            except (OSError, http.client.HTTPException, ValueError) as exc:
                result = (None, repr(exc))
                connection = http.client.HTTPConnection(host, int(port), timeout=30)
            with lock:
                results.append(result)
                if len(results) == REQUESTS // 2:
                    half.set()

    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    assert half.wait(timeout=120), "half of the requests did not finish in time"
    new_version(model_dir)
    with server.client() as admin:
        answer = admin.post("/v1/admin/reload", headers=AUTH)
    assert answer.status_code == 200, answer.text
    for thread in threads:
        thread.join(timeout=120)
    errors = [r for r in results if r[0] != 200]
    ok = [body["results"][0] for status, body in results if status == 200]
    return errors, ok, answer.json()


def test_a_reload_under_load_fails_no_request(served_dir: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(served_dir, model_dir)
    server = start_api_server(model_dir, tmp_path / "run")
    try:
        errors, ok, reloaded = drive(server, model_dir)
        assert errors == []
        assert len(ok) == REQUESTS
        assert reloaded["changed"] is True
        versions = [result["model_version"] for result in ok]
        assert set(versions) == {reloaded["previous_version"], reloaded["version"]}
        assert versions.count(reloaded["version"]) > 0
        assert "Traceback" not in server.logs()
    finally:
        server.stop()
    with sqlite3.connect(server.prediction_log) as log:
        logged = {r for (r,) in log.execute("SELECT request_id FROM predictions")}
    assert {result["request_id"] for result in ok} <= logged


def test_no_acknowledged_prediction_is_lost_on_sigkill(served_dir: Path, tmp_path: Path) -> None:
    server = start_api_server(served_dir, tmp_path / "run", workers=2)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client_loop(worker: int) -> None:
        records = [VALID_RECORD | {"transaction_id": f"kill-{worker}-{n}"} for n in range(3)]
        with server.client(timeout=5) as client:
            for _ in range(2000):  # bounded; the kill ends it far sooner
                if stop.is_set():
                    return
                try:
                    answer = client.post("/v1/predict", json={"records": records}, headers=AUTH)
                except httpx.HTTPError:
                    return  # the server is gone
                if answer.status_code == 200:  # acknowledged: every id in it must survive
                    with lock:
                        acknowledged.extend(result["request_id"] for result in answer.json()["results"])

    threads = [threading.Thread(target=client_loop, args=(n,), daemon=True) for n in range(8)]
    for thread in threads:
        thread.start()
    try:
        alive = lambda: any(thread.is_alive() for thread in threads)  # noqa: E731
        wait_until(lambda: len(acknowledged) >= 1500 or not alive(), 120, "1500 acknowledged predictions", server)
        assert alive(), "every client stopped before the kill"
        server.kill()  # SIGKILL to the server and its workers, mid-load
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        server.stop()
    with lock:
        acked = set(acknowledged)
    with sqlite3.connect(server.prediction_log) as log:  # opening it recovers the WAL, as monitoring would
        logged = {r for (r,) in log.execute("SELECT request_id FROM predictions")}
    assert len(acked) >= 1500
    assert acked - logged == set()
