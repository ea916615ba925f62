"""GET /v1/model: what is served: version, threshold, contract, explanation method, model card."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from mlops_template.serving.routes._http import ERROR_RESPONSES, current_model, json_response
from mlops_template.serving.schemas import ModelSummary
from mlops_template.serving.state import serving_state

router = APIRouter(prefix="/v1", tags=["model"])


@router.get(
    "/model",
    operation_id="model",
    summary="The served model and its card",
    response_model=ModelSummary,
    responses={503: ERROR_RESPONSES[503]},
)
async def model(request: Request) -> Response:
    return json_response(current_model(serving_state(request)).summary)
