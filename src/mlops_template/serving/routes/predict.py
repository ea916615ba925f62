"""POST /v1/predict: one record or a bounded batch; each result logged before it is returned."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from starlette.responses import Response

from mlops_template.serving.predlog import PredictionLogError, PredictionRow, new_request_id, utc_now
from mlops_template.serving.routes._http import (
    ERROR_RESPONSES,
    ApiError,
    current_model,
    json_body,
    json_response,
    json_result,
    parse_body,
)
from mlops_template.serving.schemas import CONFIDENCE_DESCRIPTION, confidence
from mlops_template.serving.state import serving_state

router = APIRouter(prefix="/v1", tags=["predictions"])

DESCRIPTION = f"""Score one record (`{{"record": {{...}}}}`) or a batch (`{{"records": [...]}}`).

Each record is checked against the data contract the model was trained with; a 422 names every bad
field, the rule it broke and the value. Each result carries the label (class name and 0/1), the
calibrated probability of the positive class, a confidence, the threshold, the model version and a
request id, which /v1/feedback takes once the true label is known. Every prediction is in the
prediction log before the answer is sent.

**confidence**: {CONFIDENCE_DESCRIPTION}"""


@router.post(
    "/predict",
    operation_id="predict",
    summary="Predict one record or a batch",
    description=DESCRIPTION,
    openapi_extra=json_body("PredictRequest"),
    responses={200: json_result("PredictResponse", "One result per record, in order."), **ERROR_RESPONSES},
)
async def predict(request: Request) -> Response:
    started = time.perf_counter()
    state = serving_state(request)
    loaded = current_model(state)  # this model serves the whole request, even if a reload swaps it
    payload = await parse_body(request, loaded.schemas.predict_request)
    records = payload.records if payload.records is not None else [payload.record]  # type: ignore[attr-defined]
    model = loaded.model
    # A validated model's __dict__ is its field values: a read-only mapping for the runtime, without a copy.
    # Scored with the records of the requests that arrived in the same turn of the loop (serving/batching.py).
    probabilities = await loaded.batcher.predict([record.__dict__ for record in records])
    threshold, version = model.threshold, model.version
    positive, negative = loaded.schemas.positive, loaded.schemas.negative
    batch_id, created_at = new_request_id(), utc_now()
    latency_ms = (time.perf_counter() - started) * 1000.0
    results: list[dict[str, object]] = []
    rows: list[PredictionRow] = []
    for record, probability in zip(records, probabilities, strict=True):
        request_id = new_request_id()
        value = 1 if probability >= threshold else 0
        results.append(
            {
                "request_id": request_id,
                "label": positive if value else negative,
                "label_value": value,
                "probability": probability,
                "confidence": confidence(probability, threshold),
                "threshold": threshold,
                "model_version": version,
            }
        )
        inputs = record.model_dump_json()
        rows.append((request_id, batch_id, created_at, version, inputs, probability, value, threshold, latency_ms))
    try:
        await state.predlog.add_predictions(rows)
    except PredictionLogError as exc:
        raise ApiError(503, f"prediction not recorded, so not returned: {exc}", headers={"Retry-After": "1"}) from None
    state.metrics.observe_predictions((str(r["label"]) for r in results), probabilities)
    return json_response({"results": results})
