"""Micro-batching: concurrent requests share one model call, and each gets its own records' answers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from mlops_template.model.artifact import ServedModel
from mlops_template.serving.batching import Batcher
from tests.support.api_server import AUTH, VALID_RECORD


def variants(count: int) -> list[dict[str, Any]]:
    """Records that the model scores differently (amount and distance vary)."""
    return [{**VALID_RECORD, "amount": 5.0 + 97.0 * i, "distance_from_home_km": 0.5 + 40.0 * i} for i in range(count)]


@pytest.fixture(scope="module")
def model(served_dir: Path) -> ServedModel:
    return ServedModel.load(served_dir)


def test_concurrent_requests_share_one_call_and_each_gets_its_own_answers(model: ServedModel) -> None:
    records = variants(12)
    requests = [records[0:1], records[1:5], records[5:6], records[6:12]]  # one, several, one, several
    batcher = Batcher(model)

    async def together() -> list[list[float]]:
        return list(await asyncio.gather(*(batcher.predict(request) for request in requests)))

    answers = asyncio.run(together())
    assert batcher.calls == 1
    for request, answer in zip(requests, answers, strict=True):
        alone = model.predict_records(request).tolist()
        assert answer == alone  # the same floats: a row's score does not depend on its batch
    assert len({p for answer in answers for p in answer}) > 1  # the records really differ


def test_requests_in_later_turns_get_calls_of_their_own(model: ServedModel) -> None:
    batcher = Batcher(model)

    async def one_after_another() -> list[list[float]]:
        return [await batcher.predict([record]) for record in variants(3)]

    answers = asyncio.run(one_after_another())
    assert batcher.calls == 3
    assert [a for (a,) in answers] == model.predict_records(variants(3)).tolist()


class Broken(ServedModel):
    def __init__(self) -> None:  # no artifact: only predict_records is used
        pass

    def predict_records(self, records: Any) -> np.ndarray:
        msg = f"the runtime failed on {len(records)} row(s)"
        raise RuntimeError(msg)


def test_a_failed_call_fails_every_request_of_its_batch_and_the_next_batch_runs() -> None:
    batcher = Batcher(Broken())

    async def together() -> list[BaseException | list[float]]:
        return list(await asyncio.gather(*(batcher.predict([VALID_RECORD]) for _ in range(3)), return_exceptions=True))

    found = asyncio.run(together())
    assert [str(f) for f in found] == ["the runtime failed on 3 row(s)"] * 3
    assert isinstance(found[0], RuntimeError)
    found_again = asyncio.run(together())
    assert batcher.calls == 2
    assert [str(f) for f in found_again] == ["the runtime failed on 3 row(s)"] * 3


def test_the_predict_route_scores_through_the_loaded_models_batcher(client: TestClient) -> None:
    batcher = client.app.state.serving.models.current.batcher  # type: ignore[attr-defined]
    before = batcher.calls
    answer = client.post("/v1/predict", json={"records": variants(3)}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert batcher.calls == before + 1
    expected = batcher.model.predict_records(variants(3)).tolist()
    assert [r["probability"] for r in answer.json()["results"]] == expected
