"""The review queue and its summary: which predictions are listed, what the labels measure, who may see them."""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from mlops_template.model.proportions import wilson_interval
from mlops_template.serving import review
from mlops_template.serving.app import create_app
from mlops_template.serving.predlog import PredictionLog, new_request_id
from tests.support.api_server import API_KEY_SPEC, AUTH, VALID_RECORD
from tests.support.serving_settings import MakeSettings

REVIEW_KEY = "reviewer-key-0123456789"
PREDICT_KEY = "predictor-key-0123456789"
CLIENT_KEY = "client-key-0123456789ab"  # a bare key: predict and feedback, never review


@pytest.fixture
def log(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """An empty prediction log with the API's schema."""
    predlog = PredictionLog(tmp_path / "predictions.sqlite3")
    predlog.open()
    yield predlog.connection
    predlog.close()


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 (the queue's sample, repeatable in a test)


VERSION = "v1"


def add(
    connection: sqlite3.Connection,
    probability: float,
    *,
    threshold: float = 0.5,
    truth: int | None = None,
    version: str = VERSION,
) -> str:
    """One logged prediction of `version` (and its label, when `truth` is given); returns its request id."""
    request_id = new_request_id()
    inputs = json.dumps({**VALID_RECORD, "transaction_id": f"tx-{request_id[-6:]}"})
    flagged = int(probability >= threshold)
    row = (request_id, "b", "2026-11-02T00:00:00Z", version, inputs, probability, flagged, threshold, 1.0)
    connection.execute("INSERT INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
    if truth is not None:
        connection.execute(
            "INSERT INTO feedback (request_id, label, received_at) VALUES (?, ?, ?)", (request_id, truth, "now")
        )
    return request_id


# --- the queue ------------------------------------------------------------------------------------


def test_flagged_predictions_come_first_then_a_sample_of_the_others(log: sqlite3.Connection) -> None:
    flagged = {add(log, p) for p in (0.6, 0.9, 0.7, 0.8, 0.95, 0.55)}
    others = {add(log, 0.1) for _ in range(20)}
    items = review.queue(log, 8, seeded(1), VERSION)
    assert [item.why for item in items] == ["flagged"] * 6 + ["sampled"] * 2
    assert {item.request_id for item in items[:6]} == flagged
    assert {item.request_id for item in items[6:]} <= others
    assert items[0].inputs["transaction_id"].startswith("tx-")


def test_the_flagged_ones_are_a_random_sample_not_the_riskiest(log: sqlite3.Connection) -> None:
    # 30 flagged, 6 listed at a time: a sample, so precision from the reviewed ones stands for all flagged.
    probabilities = [0.51 + 0.01 * n for n in range(30)]
    for probability in probabilities:
        add(log, probability)
    for _ in range(10):
        add(log, 0.1)
    picked = [item.probability for seed in range(200) for item in review.queue(log, 8, seeded(seed), VERSION)[:6]]
    assert len(picked) == 1200
    assert set(picked) == set(probabilities)  # every flagged one gets listed, not only the riskiest six
    top_six = sorted(probabilities)[-6:]
    assert sum(p in top_six for p in picked) / len(picked) == pytest.approx(0.2, abs=0.05)
    assert sum(picked) / len(picked) == pytest.approx(sum(probabilities) / 30, abs=0.015)


def test_a_quarter_of_the_queue_is_sampled_even_when_many_are_flagged(log: sqlite3.Connection) -> None:
    for _ in range(30):
        add(log, 0.9)
    for _ in range(30):
        add(log, 0.1)
    items = review.queue(log, 20, seeded(2), VERSION)
    assert [item.why for item in items].count("sampled") == 5
    assert len(items) == 20


def test_too_few_unflagged_ones_are_filled_with_flagged_ones(log: sqlite3.Connection) -> None:
    for _ in range(10):
        add(log, 0.9)
    add(log, 0.1)
    items = review.queue(log, 8, seeded(3), VERSION)
    assert [item.why for item in items].count("sampled") == 1
    assert len(items) == 8


def test_labelled_predictions_and_old_ones_are_not_listed(log: sqlite3.Connection) -> None:
    old = add(log, 0.99)
    add(log, 0.9, truth=1)
    add(log, 0.1, truth=0)
    recent = add(log, 0.6)
    items = review.queue(log, 10, seeded(4), VERSION, window=3)  # the window: the two labelled ones and `recent`
    assert [item.request_id for item in items] == [recent]
    assert old not in {item.request_id for item in items}


# --- the summary ----------------------------------------------------------------------------------


def counts(flagged: int, unflagged: int, labelled: dict[tuple[int, int], int]) -> review.ReviewCounts:
    return review.ReviewCounts(model_version=VERSION, flagged=flagged, unflagged=unflagged, labelled=labelled)


def test_precision_is_the_share_of_reviewed_flagged_ones_that_are_positive_with_wilsons_interval() -> None:
    found = review.summary(counts(10, 90, {(1, 1): 6, (1, 0): 4}))
    assert found["precision"]["value"] == 0.6
    assert found["precision"]["interval"] == pytest.approx(list(wilson_interval(6, 10, 0.95)))
    assert found["reviewed"] == found["reviewed_flagged"] == 10
    assert found["recall"] == {"value": None, "interval": None}  # no unflagged one reviewed: misses unknown


def test_recall_weighs_the_sampled_misses_by_how_many_they_stand_for() -> None:
    # 100 flagged, all reviewed: 50 positive. 900 unflagged, 90 reviewed (one in ten): 9 positive, so
    # about 90 positives missed in all: recall 50 / (50 + 90), not the 50 / 59 of the reviewed rows alone.
    found = review.summary(counts(100, 900, {(1, 1): 50, (1, 0): 50, (0, 1): 9, (0, 0): 81}))
    assert found["recall"]["value"] == pytest.approx(50 / 140)
    low, high = found["recall"]["interval"]
    assert low < 50 / 140 < high
    assert found["miss_rate"]["value"] == pytest.approx(0.1)


@given(
    flagged=st.integers(0, 60),
    unflagged=st.integers(0, 60),
    data=st.data(),
)
def test_labelling_everything_gives_the_plain_recall_inside_its_interval(
    flagged: int, unflagged: int, data: st.DataObject
) -> None:
    true_positives = data.draw(st.integers(0, flagged))
    missed = data.draw(st.integers(0, unflagged))
    labelled = {(1, 1): true_positives, (1, 0): flagged - true_positives, (0, 1): missed, (0, 0): unflagged - missed}
    found = review.summary(counts(flagged, unflagged, labelled))
    assert found["reviewed"] == flagged + unflagged
    if true_positives + missed == 0:
        assert found["recall"]["value"] is None
        return
    plain = true_positives / (true_positives + missed)
    assert found["recall"]["value"] == pytest.approx(plain)
    low, high = found["recall"]["interval"]
    assert 0.0 <= low <= plain + 1e-12
    assert plain - 1e-12 <= high <= 1.0


def test_the_summary_reads_the_latest_label_of_each_prediction(log: sqlite3.Connection) -> None:
    relabelled = add(log, 0.9, truth=0)
    log.execute("INSERT INTO feedback (request_id, label, received_at) VALUES (?, 1, 'later')", (relabelled,))
    add(log, 0.1, truth=0)
    add(log, 0.2)
    found = review.read_counts(log, VERSION)
    assert found == review.ReviewCounts(VERSION, flagged=1, unflagged=2, labelled={(1, 1): 1, (0, 0): 1})


def test_the_queue_and_the_summary_cover_one_model_version(log: sqlite3.Connection) -> None:
    for _ in range(5):  # the previous model: flagged everything, all wrong
        add(log, 0.9, truth=0, version="v0")
        add(log, 0.95, version="v0")
    add(log, 0.9, truth=1)
    add(log, 0.2, truth=0)
    unlabelled = {add(log, 0.7), add(log, 0.3)}
    found = review.read_counts(log, VERSION)
    assert found == review.ReviewCounts(VERSION, flagged=2, unflagged=2, labelled={(1, 1): 1, (0, 0): 1})
    assert review.summary(found)["model_version"] == VERSION
    assert review.summary(found)["precision"]["value"] == 1.0
    items = review.queue(log, 10, seeded(5), VERSION)
    assert {item.request_id for item in items} == unlabelled
    assert {item.model_version for item in items} == {VERSION}
    assert review.read_counts(log, "v0").labelled == {(1, 0): 5}


# --- the routes -----------------------------------------------------------------------------------


@pytest.fixture
def reviewer(make_settings: MakeSettings) -> Iterator[TestClient]:
    keys = f"{API_KEY_SPEC},{REVIEW_KEY}:review,{PREDICT_KEY}:predict,{CLIENT_KEY}"
    with TestClient(create_app(make_settings(api_keys=SecretStr(keys))), raise_server_exceptions=False) as client:
        yield client


def predict(client: TestClient, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answer = client.post("/v1/predict", json={"records": records}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def test_the_queue_lists_logged_predictions_with_the_contracts_words(reviewer: TestClient) -> None:
    records = [{**VALID_RECORD, "transaction_id": f"tx-{n}"} for n in range(5)]
    results = predict(reviewer, records)
    answer = reviewer.get("/v1/review/queue", params={"size": 3}, headers={"X-API-Key": REVIEW_KEY})
    assert answer.status_code == 200
    queue = answer.json()
    assert queue["classes"] == {"positive": "fraud", "negative": "legit"}
    assert queue["id_column"] == "transaction_id"
    assert len(queue["items"]) == 3
    assert {item["request_id"] for item in queue["items"]} <= {result["request_id"] for result in results}
    assert all(item["inputs"]["transaction_id"].startswith("tx-") for item in queue["items"])


def test_a_label_through_feedback_leaves_the_queue_and_counts_in_the_summary(reviewer: TestClient) -> None:
    (result,) = predict(reviewer, [VALID_RECORD])
    labelled = reviewer.post("/v1/feedback", json={"request_id": result["request_id"], "label": "fraud"}, headers=AUTH)
    assert labelled.status_code == 200
    queue = reviewer.get("/v1/review/queue", headers={"X-API-Key": REVIEW_KEY}).json()
    assert queue["items"] == []
    summary = reviewer.get("/v1/review/summary", headers={"X-API-Key": REVIEW_KEY}).json()
    assert summary["reviewed"] == 1
    assert summary["model_version"] == reviewer.get("/v1/model", headers=AUTH).json()["version"]
    decided = "reviewed_flagged" if result["label_value"] else "reviewed_unflagged"
    assert summary[decided] == 1


@pytest.mark.parametrize("path", ["/v1/review/queue", "/v1/review/summary"])
def test_a_key_without_review_gets_a_403_naming_it(reviewer: TestClient, path: str) -> None:
    for key in (PREDICT_KEY, CLIENT_KEY):
        answer = reviewer.get(path, headers={"X-API-Key": key})
        assert answer.status_code == 403
        assert answer.json() == {"detail": f"this API key lacks the scope 'review' ({path} needs it)"}


@pytest.mark.parametrize(
    ("size", "rule"), [("0", "greater_than_equal"), ("101", "less_than_equal"), ("many", "int_parsing")]
)
def test_a_bad_queue_size_is_a_422_naming_the_field_and_the_rule(reviewer: TestClient, size: str, rule: str) -> None:
    answer = reviewer.get("/v1/review/queue", params={"size": size}, headers={"X-API-Key": REVIEW_KEY})
    assert answer.status_code == 422
    assert answer.json()["detail"] == f"1 invalid field(s): size ({rule})"
    assert answer.json()["errors"][0]["field"] == "size"


def test_an_unknown_query_parameter_is_refused(reviewer: TestClient) -> None:
    answer = reviewer.get("/v1/review/queue", params={"sise": "3"}, headers={"X-API-Key": REVIEW_KEY})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["rule"] == "extra_forbidden"


def test_another_versions_predictions_are_neither_listed_nor_counted(reviewer: TestClient) -> None:
    (result,) = predict(reviewer, [VALID_RECORD])
    served = reviewer.get("/v1/model", headers=AUTH).json()["version"]
    log = reviewer.app.state.serving.predlog.connection
    add(log, 0.9, truth=0, version=f"{served}-previous")
    add(log, 0.9, version=f"{served}-previous")
    queue = reviewer.get("/v1/review/queue", headers={"X-API-Key": REVIEW_KEY}).json()
    assert [item["request_id"] for item in queue["items"]] == [result["request_id"]]
    summary = reviewer.get("/v1/review/summary", headers={"X-API-Key": REVIEW_KEY}).json()
    assert summary["model_version"] == served
    assert summary["reviewed"] == 0
    assert sum(summary["predictions"].values()) == 1


def test_json_answers_tell_a_browser_not_to_guess_their_type(reviewer: TestClient) -> None:
    answers = [
        reviewer.get("/v1/review/summary", headers={"X-API-Key": REVIEW_KEY}),  # a route's answer
        reviewer.get("/v1/review/summary", headers={"X-API-Key": CLIENT_KEY}),  # the key middleware's 403
        reviewer.get("/v1/review/summary"),  # and its 401
    ]
    assert [answer.status_code for answer in answers] == [200, 403, 401]
    for answer in answers:
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["x-content-type-options"] == "nosniff"
