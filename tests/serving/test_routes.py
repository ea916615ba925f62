"""Each route in process: results, errors that name what is wrong, the log, metrics, reload, OpenAPI."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from mlops_template.model.artifact import ServedModel
from mlops_template.serving.app import create_app
from mlops_template.serving.schemas import CONFIDENCE, confidence
from tests.support.api_server import API_KEY_SPEC, AUTH, VALID_RECORD
from tests.support.serving_settings import MakeSettings

JSON_AUTH = {**AUTH, "content-type": "application/json"}
ADMIN_KEYS = SecretStr(API_KEY_SPEC)  # the test key with every scope: a reload needs `admin`


def logged(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(sql).fetchall()


def metric(client: TestClient, name: str) -> float:
    """The sum of every sample of `name` in /metrics."""
    lines = client.get("/metrics").text.splitlines()
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith((f"{name}{{", f"{name} ")))


# --- predict --------------------------------------------------------------------------------------


def test_one_record_gets_a_full_result_that_is_in_the_log(
    client: TestClient, record: dict[str, Any], served_dir: Path, make_settings: MakeSettings
) -> None:
    answer = client.post("/v1/predict", json={"record": record}, headers=AUTH)
    assert answer.status_code == 200
    (result,) = answer.json()["results"]
    model = ServedModel.load(served_dir)
    (expected,) = model.predict_records([record | {"timestamp": "2026-11-02T14:30:00+00:00"}]).tolist()
    assert result["probability"] == pytest.approx(expected, abs=1e-12)
    assert result["threshold"] == model.threshold
    assert result["model_version"] == model.version
    assert result["label_value"] == int(expected >= model.threshold)
    assert result["label"] == ("fraud" if result["label_value"] else "legit")
    assert result["confidence"] == pytest.approx(confidence(expected, model.threshold))
    assert len(result["request_id"]) == 32
    int(result["request_id"], 16)

    log = make_settings().prediction_log
    ((request_id, inputs, probability, label, threshold, version, latency),) = logged(
        log, "SELECT request_id, inputs, probability, label, threshold, model_version, latency_ms FROM predictions"
    )
    assert (request_id, probability, label, threshold, version) == (
        result["request_id"],
        result["probability"],
        result["label_value"],
        model.threshold,
        model.version,
    )
    assert json.loads(inputs) == record | {"timestamp": "2026-11-02T14:30:00Z"}
    assert latency > 0


def test_a_batch_gets_one_result_per_record_in_order_each_with_its_own_id(client: TestClient) -> None:
    records = [VALID_RECORD | {"transaction_id": f"tx-{n}", "amount": 10.0 * (n + 1)} for n in range(5)]
    records[3] |= {"amount": 9_999.0, "channel": "online", "is_cross_border": 1, "merchant_category": "digital_goods"}
    results = client.post("/v1/predict", json={"records": records}, headers=AUTH).json()["results"]
    single = [client.post("/v1/predict", json={"record": r}, headers=AUTH).json()["results"][0] for r in records]
    assert [r["probability"] for r in results] == pytest.approx([r["probability"] for r in single], abs=1e-12)
    assert len({r["request_id"] for r in results + single}) == 10


def test_every_bad_field_of_every_record_is_named_with_its_rule(client: TestClient) -> None:
    records = [VALID_RECORD, VALID_RECORD | {"amount": 1e9, "channel": "fax"}, VALID_RECORD | {"customer_age": "old"}]
    answer = client.post("/v1/predict", json={"records": records}, headers=AUTH)
    assert answer.status_code == 422
    body = answer.json()
    assert [(e["field"], e["rule"]) for e in body["errors"]] == [
        ("records[1].amount", "less_than_equal"),
        ("records[1].channel", "literal_error"),
        ("records[2].customer_age", "int_type"),
    ]
    assert body["errors"][0]["loc"] == ["records", 1, "amount"]
    assert body["detail"].startswith("3 invalid field(s): records[1].amount (less_than_equal)")


@pytest.mark.parametrize(
    ("value", "rule", "message"),
    [
        ("x" * 1_000_000, "max_length", "at most 128 characters"),
        ("tx\x00-1", "no_control_characters", "no control characters (U+0000-U+001F, U+007F-U+009F)"),
        ("tx-1\x1b[2J", "no_control_characters", "no control characters (U+0000-U+001F, U+007F-U+009F)"),
    ],
    ids=["a million characters", "NUL", "escape"],
)
def test_an_unbounded_or_control_character_id_is_a_422_and_never_logged(
    client: TestClient, make_settings: MakeSettings, value: str, rule: str, message: str
) -> None:
    records = [VALID_RECORD, VALID_RECORD | {"transaction_id": value}]
    answer = client.post("/v1/predict", json={"records": records}, headers=AUTH)
    assert answer.status_code == 422
    body = answer.json()
    assert body["detail"] == f"1 invalid field(s): records[1].transaction_id ({rule})"
    (error,) = body["errors"]
    assert (error["field"], error["rule"], error["message"]) == (
        "records[1].transaction_id",
        rule,
        message + f" (rule: {rule})",
    )
    assert logged(make_settings().prediction_log, "SELECT count(*) FROM predictions") == [(0,)]


def test_an_id_at_the_boundary_length_is_served_and_logged_as_sent(
    client: TestClient, make_settings: MakeSettings
) -> None:
    record = VALID_RECORD | {"transaction_id": "t" * 127 + "é"}
    assert client.post("/v1/predict", json={"record": record}, headers=AUTH).status_code == 200
    ((inputs,),) = logged(make_settings().prediction_log, "SELECT inputs FROM predictions")
    assert json.loads(inputs)["transaction_id"] == "t" * 127 + "é"


# Each malformed input: (how it is sent, the status, words the message must contain).
ROBUSTNESS: list[tuple[str, dict[str, Any], int, str]] = [
    ("malformed JSON", {"content": b'{"record": {"amount": '}, 400, "malformed JSON"),
    ("not an object", {"content": b"[1, 2, 3]"}, 422, "model_type"),
    ("empty body", {"content": b""}, 400, "malformed JSON"),
    (
        "NaN",
        {"content": json.dumps({"record": VALID_RECORD | {"amount": float("nan")}}).encode()},
        422,
        "amount (finite_number)",
    ),
    ("Infinity", {"content": json.dumps({"record": VALID_RECORD | {"amount": float("inf")}}).encode()}, 422, "amount"),
    (
        "huge number",
        {"content": b'{"record": %s}' % json.dumps(VALID_RECORD | {"account_age_days": 10**400}).encode()},
        422,
        "account_age_days (less_than_equal)",
    ),
    ("wrong type", {"json": {"record": VALID_RECORD | {"amount": "12.5"}}}, 422, "amount (float_type)"),
    (
        "unknown category",
        {"json": {"record": VALID_RECORD | {"merchant_category": "casino"}}},
        422,
        "merchant_category (literal_error)",
    ),
    (
        "missing field",
        {"json": {"record": {k: v for k, v in VALID_RECORD.items() if k != "amount"}}},
        422,
        "amount (missing)",
    ),
    ("oversize batch", {"json": {"records": [VALID_RECORD] * 1001}}, 422, "records (too_long)"),
    ("deep nesting", {"content": b'{"record": ' + b"[" * 5000 + b"]" * 5000 + b"}"}, 400, "malformed JSON"),
]


@pytest.mark.parametrize(("case", "send", "status", "words"), ROBUSTNESS, ids=[c[0] for c in ROBUSTNESS])
def test_bad_input_is_a_4xx_with_a_message_and_the_app_serves_on(
    client: TestClient, case: str, send: dict[str, Any], status: int, words: str
) -> None:
    answer = client.post("/v1/predict", headers=JSON_AUTH, **send)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["detail"]
    assert client.post("/v1/predict", json={"record": VALID_RECORD}, headers=AUTH).status_code == 200


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:10+03:04", "9999-12-31T23:59:59-01:00", "1969-12-31T23:59:59"])
def test_timestamps_at_the_edges_of_the_calendar_are_served(client: TestClient, stamp: str) -> None:
    for path in ("/v1/predict", "/v1/explain"):
        answer = client.post(path, json={"record": VALID_RECORD | {"timestamp": stamp}}, headers=AUTH)
        assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""])
def test_a_body_that_is_not_json_is_a_415(client: TestClient, content_type: str) -> None:
    headers = {**AUTH, "content-type": content_type}
    answer = client.post("/v1/predict", content=json.dumps({"record": VALID_RECORD}), headers=headers)
    assert answer.status_code == 415
    assert "rule: application/json" in answer.json()["detail"]


def test_a_body_over_the_limit_is_a_413(make_settings: MakeSettings) -> None:
    with TestClient(create_app(make_settings(max_body_bytes=4096))) as client:
        answer = client.post("/v1/predict", json={"records": [VALID_RECORD] * 20}, headers=AUTH)
        assert answer.status_code == 413
        assert "limit of 4096 bytes" in answer.json()["detail"]


def test_the_batch_bound_comes_from_the_settings(make_settings: MakeSettings) -> None:
    with TestClient(create_app(make_settings(max_batch=2))) as client:
        answer = client.post("/v1/predict", json={"records": [VALID_RECORD] * 3}, headers=AUTH)
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["message"] == "List should have at most 2 items after validation, not 3"


def test_wrong_method_and_unknown_path_are_4xx(client: TestClient) -> None:
    assert client.get("/v1/predict", headers=AUTH).status_code == 405
    assert client.post("/v1/nothing", headers=AUTH).status_code == 404


# --- explain, feedback, model -------------------------------------------------------------------------


def test_explain_names_the_method_and_gives_a_contribution_per_input(client: TestClient, served_dir: Path) -> None:
    answer = client.post("/v1/explain", json={"record": VALID_RECORD}, headers=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    model = ServedModel.load(served_dir)
    assert body["method"] == model.EXPLAIN_METHOD
    assert {c["feature"] for c in body["contributions"]} == {spec.name for spec in model.inputs}
    sizes = [abs(c["contribution"]) for c in body["contributions"]]
    assert sizes == sorted(sizes, reverse=True)
    predicted = client.post("/v1/predict", json={"record": VALID_RECORD}, headers=AUTH).json()["results"][0]
    assert body["probability"] == pytest.approx(predicted["probability"])
    assert client.post("/v1/explain", json={"record": VALID_RECORD | {"amount": -5}}, headers=AUTH).status_code == 422


def test_feedback_for_a_known_request_is_stored_and_a_later_label_supersedes(
    client: TestClient, make_settings: MakeSettings
) -> None:
    request_id = client.post("/v1/predict", json={"record": VALID_RECORD}, headers=AUTH).json()["results"][0][
        "request_id"
    ]
    first = client.post("/v1/feedback", json={"request_id": request_id, "label": "fraud"}, headers=AUTH)
    assert first.status_code == 200
    assert first.json() | {"received_at": None} == {
        "request_id": request_id,
        "label": "fraud",
        "label_value": 1,
        "received_at": None,
        "supersedes": 0,
        "note": "Feedback is append-only: the latest label received for a request id supersedes earlier ones.",
    }
    second = client.post("/v1/feedback", json={"request_id": request_id, "label": 0}, headers=AUTH).json()
    assert (second["label"], second["supersedes"]) == ("legit", 1)
    log = make_settings().prediction_log
    assert logged(log, "SELECT label FROM feedback ORDER BY id") == [(1,), (0,)]
    assert logged(log, "SELECT label FROM latest_feedback") == [(0,)]


def test_feedback_for_an_unknown_request_is_a_clear_404(client: TestClient) -> None:
    answer = client.post("/v1/feedback", json={"request_id": "f" * 32, "label": 1}, headers=AUTH)
    assert answer.status_code == 404
    assert (
        answer.json()["detail"]
        == f"request_id '{'f' * 32}': no prediction with this id in the log (rule: feedback needs one)"
    )
    malformed = client.post("/v1/feedback", json={"request_id": "nope", "label": 1}, headers=AUTH)
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "request_id"


def test_the_model_route_gives_version_threshold_contract_and_card(client: TestClient, served_dir: Path) -> None:
    body = client.get("/v1/model", headers=AUTH).json()
    model = ServedModel.load(served_dir)
    assert (body["version"], body["threshold"]) == (model.version, model.threshold)
    assert body["confidence"] == CONFIDENCE
    assert body["explanation_method"] == model.EXPLAIN_METHOD
    assert body["classes"] == {"positive": "fraud", "negative": "legit"}
    assert body["contract"] == model.contract
    assert body["model_card"] == json.loads((served_dir / "model_card.json").read_text(encoding="utf-8"))


# --- health, readiness, reload ------------------------------------------------------------------------


def copy_model(served_dir: Path, target: Path) -> Path:
    shutil.copytree(served_dir, target)
    return target


def corrupt(model_dir: Path) -> None:
    blob = bytearray((model_dir / "model.onnx").read_bytes())
    blob[-1] ^= 0xFF
    (model_dir / "model.onnx").write_bytes(bytes(blob))


def test_ready_only_with_a_verified_model_and_health_regardless(
    make_settings: MakeSettings, served_dir: Path, tmp_path: Path
) -> None:
    model_dir = copy_model(served_dir, tmp_path / "model")
    corrupt(model_dir)
    with TestClient(create_app(make_settings(model_dir=model_dir, api_keys=ADMIN_KEYS))) as client:
        assert client.get("/health").json() == {"status": "ok"}
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert "sha256" in ready.json()["reason"]
        assert "does not match" in ready.json()["reason"]
        refused = client.post("/v1/predict", json={"record": VALID_RECORD}, headers=AUTH)
        assert refused.status_code == 503
        assert "no model loaded" in refused.json()["detail"]
        assert metric(client, "mlops_model_ready") == 0

        shutil.copy2(served_dir / "model.onnx", model_dir / "model.onnx")
        assert client.post("/v1/admin/reload", headers=AUTH).status_code == 200
        assert client.get("/ready").json() == {"status": "ready", "model_version": ServedModel.load(served_dir).version}
        assert client.post("/v1/predict", json={"record": VALID_RECORD}, headers=AUTH).status_code == 200
        assert metric(client, "mlops_model_ready") == 1


def test_a_bad_new_artifact_is_refused_and_the_old_model_keeps_serving(
    make_settings: MakeSettings, served_dir: Path, tmp_path: Path
) -> None:
    model_dir = copy_model(served_dir, tmp_path / "model")
    with TestClient(create_app(make_settings(model_dir=model_dir, api_keys=ADMIN_KEYS))) as client:
        version = client.get("/ready").json()["model_version"]
        corrupt(model_dir)
        refused = client.post("/v1/admin/reload", headers=AUTH)
        assert refused.status_code == 409
        assert f"reload refused (still serving {version})" in refused.json()["detail"]
        assert "sha256" in refused.json()["detail"]
        assert client.get("/ready").json()["model_version"] == version
        assert client.post("/v1/predict", json={"record": VALID_RECORD}, headers=AUTH).status_code == 200
        assert metric(client, "mlops_model_loads_total") == 2  # loaded at start, refused once


def test_a_reload_swaps_in_a_changed_model_and_the_openapi_follows(
    make_settings: MakeSettings, served_dir: Path, tmp_path: Path
) -> None:
    model_dir = copy_model(served_dir, tmp_path / "model")
    with TestClient(create_app(make_settings(model_dir=model_dir, api_keys=ADMIN_KEYS))) as client:
        before = client.get("/openapi.json", headers=AUTH).json()
        assert "casino" not in json.dumps(before["components"]["schemas"]["Transaction"])
        _add_category(model_dir, "casino")
        reloaded = client.post("/v1/admin/reload", headers=AUTH).json()
        assert reloaded["changed"] is True
        assert reloaded["previous_version"] != reloaded["version"]
        after = client.get("/openapi.json", headers=AUTH).json()
        assert "casino" in after["components"]["schemas"]["Transaction"]["properties"]["merchant_category"]["enum"]
        casino = VALID_RECORD | {"merchant_category": "casino"}
        answer = client.post("/v1/predict", json={"record": casino}, headers=AUTH)
        assert answer.status_code == 200
        assert answer.json()["results"][0]["model_version"] == reloaded["version"]


def _add_category(model_dir: Path, category: str) -> None:
    """Re-sign a contract with one more allowed category (a new export, as far as the API can tell)."""
    from mlops_template.model.artifact import CONTRACT, METADATA, artifact_version, sha256_file  # noqa: PLC0415

    contract = json.loads((model_dir / CONTRACT).read_text(encoding="utf-8"))
    column = next(c for c in contract["columns"] if c["name"] == "merchant_category")
    column["allowed"].append(category)
    (model_dir / CONTRACT).write_text(json.dumps(contract), encoding="utf-8")
    metadata = json.loads((model_dir / METADATA).read_text(encoding="utf-8"))
    metadata["files"][CONTRACT] = sha256_file(model_dir / CONTRACT)
    metadata["version"] = artifact_version(metadata["files"])
    (model_dir / METADATA).write_text(json.dumps(metadata), encoding="utf-8")


# --- metrics and OpenAPI -----------------------------------------------------------------------------


def test_metrics_count_requests_errors_predictions_and_scores(client: TestClient, served_dir: Path) -> None:
    client.post("/v1/predict", json={"records": [VALID_RECORD] * 3}, headers=AUTH)
    client.post("/v1/predict", json={"record": VALID_RECORD | {"amount": -1}}, headers=AUTH)
    client.get("/v1/model")
    text = client.get("/metrics").text
    assert 'mlops_http_requests_total{method="POST",route="/v1/predict",status="200"} 1.0' in text
    assert 'mlops_http_requests_total{method="POST",route="/v1/predict",status="422"} 1.0' in text
    assert 'mlops_http_requests_total{method="GET",route="/v1/model",status="401"} 1.0' in text
    assert 'mlops_http_errors_total{kind="client",method="POST",route="/v1/predict"} 1.0' in text
    assert 'mlops_http_request_duration_seconds_count{method="POST",route="/v1/predict"} 2.0' in text
    assert metric(client, "mlops_predictions_total") == 3
    assert "mlops_prediction_score_count 3.0" in text
    assert f'mlops_model_info{{version="{ServedModel.load(served_dir).version}"}} 1.0' in text
    assert "process_resident_memory_bytes" in text


def test_unknown_paths_and_methods_do_not_grow_the_label_sets(client: TestClient) -> None:
    for n in range(5):
        client.request("FETCH", f"/random/{n}", headers=AUTH)
    text = client.get("/metrics").text
    assert 'mlops_http_requests_total{method="OTHER",route="<unmatched>",status="404"} 5.0' in text
    assert "/random/" not in text


def test_the_openapi_schema_is_the_contract_with_security_and_the_confidence_named(client: TestClient) -> None:
    schema = client.get("/openapi.json", headers=AUTH).json()
    components = schema["components"]
    record = components["schemas"]["Transaction"]
    assert record["properties"]["amount"]["minimum"] == 0.01
    assert record["properties"]["amount"]["maximum"] == 50_000.0
    assert (
        record["properties"]["account_age_days"]["minimum"],
        record["properties"]["account_age_days"]["maximum"],
    ) == (0, 36_500)
    assert record["properties"]["is_cross_border"] == {
        "description": "integer (numeric)",
        "enum": [0, 1],
        "title": "Is Cross Border",
        "type": "integer",
    }
    assert record["additionalProperties"] is False
    assert set(record["required"]) == set(VALID_RECORD) - {"customer_age", "distance_from_home_km", "device_type"}
    assert components["schemas"]["PredictRequest"]["oneOf"] == [{"required": ["record"]}, {"required": ["records"]}]
    assert CONFIDENCE in components["schemas"]["PredictionResult"]["properties"]["confidence"]["description"]
    assert set(components["securitySchemes"]) == {"ApiKeyHeader", "BearerAuth"}
    predict = schema["paths"]["/v1/predict"]["post"]
    assert predict["security"] == [{"ApiKeyHeader": ["predict"]}, {"BearerAuth": ["predict"]}]
    assert {"200", "400", "401", "403", "413", "415", "422", "503"} <= set(predict["responses"])
    assert "security" not in schema["paths"]["/health"]["get"]
