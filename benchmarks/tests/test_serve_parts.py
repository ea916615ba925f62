"""serve-parts' variants take out exactly the part they name (the p50 breakdown in its table rests on it)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from benchmarks import serve_parts
from benchmarks.bench_serve import Load
from mlops_template.model.artifact import ServedModel
from mlops_template.serving.predlog import PredictionLog
from mlops_template.serving.settings import ServingSettings


@pytest.fixture(autouse=True)
def _restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variants patch classes: put the originals back after each test."""
    monkeypatch.setattr(ServedModel, "predict_records", ServedModel.predict_records)
    monkeypatch.setattr(PredictionLog, "add_predictions", PredictionLog.add_predictions)


def _predict(client: TestClient, record: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/v1/predict", json={"record": record})
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["results"]
    return dict(result)


def _logged(settings: ServingSettings) -> int:
    with sqlite3.connect(settings.prediction_log) as connection:
        (count,) = connection.execute("SELECT count(*) FROM predictions").fetchone()
    return int(count)


# (does the model score?, predictions in the log) after one request
TAKEN_OUT = {"api": (True, 1), "api - log": (True, 0), "api - model": (False, 1), "api - model - log": (False, 0)}


@pytest.mark.parametrize("variant", TAKEN_OUT)
def test_a_variant_takes_out_the_model_call_or_the_log_as_named(
    variant: str, client: TestClient, record: dict[str, Any], settings: ServingSettings
) -> None:
    serve_parts.VARIANTS[variant]()
    scored = _predict(client, record)["probability"] != 0.5  # 0.5: the stand-in's constant
    assert (scored, _logged(settings)) == TAKEN_OUT[variant]


def test_trees_and_append_scores_with_the_trees_and_appends_one_line_per_prediction(
    client: TestClient, record: dict[str, Any], settings: ServingSettings
) -> None:
    exact = _predict(client, record)["probability"]
    serve_parts.VARIANTS["api, trees + append"]()
    first, second = _predict(client, record), _predict(client, record)
    assert 0 < first["probability"] < 1
    assert first["probability"] == second["probability"] != exact  # the trees without their features: not exact
    assert _logged(settings) == 1  # only the prediction made before the patch
    appended = Path(str(settings.prediction_log) + ".append").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)[0] for line in appended] == [first["request_id"], second["request_id"]]


def test_the_ratio_is_each_median_p50_over_the_empty_endpoints() -> None:
    def load(p50: float) -> Load:
        return Load(1, 1000.0, p50, 1.0, 100, 0, 200.0)

    rows = serve_parts.report({serve_parts.EMPTY: [load(0.2), load(0.1), load(0.3)], "api": [load(0.5), load(0.4)]})
    assert [(r["server"], r["ratio"]) for r in rows] == [(serve_parts.EMPTY, 1.0), ("api", pytest.approx(2.25))]
