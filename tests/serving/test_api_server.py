"""The API on a real uvicorn (`mlops-template serve`): auth, hostile input over the wire, readiness, workers."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api_server import API_KEY, AUTH, VALID_RECORD, ApiServer, start_api_server, wait_until

JSON_AUTH = {**AUTH, "content-type": "application/json"}


@pytest.fixture(scope="module")
def server(served_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    running = start_api_server(served_dir, tmp_path_factory.mktemp("api"), MLOPS_MAX_BODY_BYTES="65536")
    yield running
    running.stop()


def predict_ok(client: httpx.Client) -> str:
    answer = client.post("/v1/predict", json={"record": VALID_RECORD}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    request_id: str = answer.json()["results"][0]["request_id"]
    return request_id


def test_keys_over_http(server: ApiServer) -> None:
    with server.client() as client:
        assert client.get("/v1/model").status_code == 401
        assert client.get("/v1/model", headers={"X-API-Key": "not-the-key-0000000"}).status_code == 403
        assert client.get("/v1/model", headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200
        assert client.get("/v1/model", headers=AUTH).status_code == 200
        for public in ("/health", "/ready", "/metrics"):
            assert client.get(public).status_code == 200
    assert API_KEY not in server.logs()


def chunks(total: int, size: int = 4096) -> Iterator[bytes]:
    """A JSON-looking body streamed without Content-Length (chunked transfer encoding)."""
    yield b'{"records": ['
    sent = 0
    while sent < total:
        yield b" " * size
        sent += size
    yield b"]}"


HOSTILE: list[tuple[str, dict[str, object], int]] = [
    ("malformed JSON", {"content": b'{"record": {"amount": 1,,}}', "headers": JSON_AUTH}, 400),
    ("NaN", {"content": b'{"record": {"amount": NaN}}', "headers": JSON_AUTH}, 422),
    ("huge number", {"content": b'{"record": {"amount": 1e999999}}', "headers": JSON_AUTH}, 422),
    ("wrong type", {"json": {"record": {**VALID_RECORD, "txn_count_24h": [2]}}, "headers": AUTH}, 422),
    ("unknown category", {"json": {"record": {**VALID_RECORD, "channel": "pigeon"}}, "headers": AUTH}, 422),
    ("missing fields", {"json": {"record": {"amount": 3.0}}, "headers": AUTH}, 422),
    (
        "wrong content type",
        {"content": json.dumps({"record": VALID_RECORD}), "headers": {**AUTH, "content-type": "text/csv"}},
        415,
    ),
    ("oversize batch", {"json": {"records": [VALID_RECORD] * 1001}, "headers": AUTH}, 413),  # also over 64 KiB
    ("oversize declared body", {"content": b"x" * 70_000, "headers": JSON_AUTH}, 413),
    ("oversize chunked body", {"content": chunks(200_000), "headers": JSON_AUTH}, 413),
    ("binary garbage", {"content": bytes(range(256)) * 10, "headers": JSON_AUTH}, 400),
]


@pytest.mark.parametrize(("case", "send", "status"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_input_is_a_4xx_with_a_message_and_the_server_serves_on(
    server: ApiServer, case: str, send: dict[str, object], status: int
) -> None:
    with server.client() as client:
        answer = client.post("/v1/predict", **send)  # type: ignore[arg-type]
        assert answer.status_code == status, answer.text
        assert answer.json()["detail"]
    with server.client() as fresh:
        predict_ok(fresh)
    assert server.process.poll() is None


def test_a_batch_at_the_bound_is_served(server: ApiServer) -> None:
    records = [VALID_RECORD | {"transaction_id": f"tx-{n}"} for n in range(200)]  # 200 records fit in 64 KiB
    with server.client() as client:
        answer = client.post("/v1/predict", json={"records": records}, headers=AUTH)
    assert answer.status_code == 200
    assert len(answer.json()["results"]) == 200


def test_feedback_over_http(server: ApiServer) -> None:
    with server.client() as client:
        request_id = predict_ok(client)
        unknown = client.post("/v1/feedback", json={"request_id": "0" * 32, "label": "fraud"}, headers=AUTH)
        assert unknown.status_code == 404
        assert "no prediction with this id" in unknown.json()["detail"]
        known = client.post("/v1/feedback", json={"request_id": request_id, "label": "fraud"}, headers=AUTH)
        assert known.status_code == 200
    with sqlite3.connect(server.prediction_log) as log:
        assert log.execute("SELECT label FROM latest_feedback WHERE request_id = ?", (request_id,)).fetchall() == [(1,)]


def test_no_server_error_was_logged(server: ApiServer) -> None:
    with server.client() as client:
        metrics = client.get("/metrics").text
    assert 'kind="server"' not in metrics
    assert "Traceback" not in server.logs()


def test_ready_before_and_after_the_model_is_loaded(served_dir: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    server = start_api_server(model_dir, tmp_path / "run")
    try:
        with server.client() as client:
            assert client.get("/health").status_code == 200
            not_ready = client.get("/ready")
            assert not_ready.status_code == 503
            assert "served.json: not found" in not_ready.json()["reason"]
            assert client.post("/v1/predict", json={"record": VALID_RECORD}, headers=AUTH).status_code == 503

            for item in served_dir.iterdir():
                shutil.copy2(item, model_dir / item.name)
            assert client.post("/v1/admin/reload", headers=AUTH).status_code == 200
            assert client.get("/ready").json()["status"] == "ready"
            predict_ok(client)
    finally:
        server.stop()


def test_two_workers_share_the_log_and_report_metrics_together(served_dir: Path, tmp_path: Path) -> None:
    server = start_api_server(served_dir, tmp_path / "run", workers=2, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"))
    try:
        ids = []
        pids = set()
        for _ in range(40):
            with server.client() as client:  # a new connection each time, so both workers get some
                ids.append(predict_ok(client))
        wait_until(lambda: len(list((tmp_path / "prom").glob("counter_*.db"))) >= 2, 10, "both workers' metric files")
        for _ in range(4):  # whichever worker answers the scrape, the totals are the same
            with server.client() as client:
                text = client.get("/metrics").text
            total = sum(
                float(line.split()[-1]) for line in text.splitlines() if line.startswith("mlops_predictions_total")
            )
            assert total == 40
            pids |= {
                line.split('pid="')[1].split('"')[0]
                for line in text.splitlines()
                if line.startswith("mlops_model_info")
            }
        assert len(pids) == 2
        with sqlite3.connect(server.prediction_log) as log:
            assert {r for (r,) in log.execute("SELECT request_id FROM predictions")} == set(ids)
    finally:
        server.stop()
