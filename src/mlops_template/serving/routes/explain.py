"""POST /v1/explain: which inputs pushed one prediction most, and by how much."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from mlops_template.serving.routes._http import (
    ERROR_RESPONSES,
    current_model,
    json_body,
    json_response,
    json_result,
    parse_body,
)
from mlops_template.serving.schemas import confidence
from mlops_template.serving.state import serving_state

router = APIRouter(prefix="/v1", tags=["predictions"])


@router.post(
    "/explain",
    operation_id="explain",
    summary="Explain one prediction",
    description="The prediction for one record and each input's contribution to it, computed on the served "
    "model; `method` names how. Explanations are not written to the prediction log.",
    openapi_extra=json_body("ExplainRequest"),
    responses={200: json_result("ExplainResponse", "The prediction and its contributions."), **ERROR_RESPONSES},
)
async def explain(request: Request) -> Response:
    loaded = current_model(serving_state(request))
    payload = await parse_body(request, loaded.schemas.explain_request)
    model = loaded.model
    record = dict(payload.record)  # type: ignore[attr-defined]
    contributions = model.explain_record(record)
    (probability,) = model.predict_records([record]).tolist()
    value = 1 if probability >= model.threshold else 0
    return json_response(
        {
            "method": model.EXPLAIN_METHOD,
            "label": loaded.schemas.positive if value else loaded.schemas.negative,
            "label_value": value,
            "probability": probability,
            "confidence": confidence(probability, model.threshold),
            "threshold": model.threshold,
            "model_version": model.version,
            "contributions": [
                {
                    "feature": c.feature,
                    "value": c.value,
                    "reference": c.reference,
                    "contribution": c.contribution,
                }
                for c in contributions
            ],
        }
    )
