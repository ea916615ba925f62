"""POST /v1/feedback: the true label for an earlier prediction (labels arrive late)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from mlops_template.serving.predlog import PredictionLogError, UnknownRequestError
from mlops_template.serving.routes._http import (
    ERROR_RESPONSES,
    ApiError,
    current_model,
    json_body,
    json_response,
    json_result,
    parse_body,
)
from mlops_template.serving.schemas import ErrorResponse
from mlops_template.serving.state import serving_state

router = APIRouter(prefix="/v1", tags=["feedback"])

NOTE = "Feedback is append-only: the latest label received for a request id supersedes earlier ones."


@router.post(
    "/feedback",
    operation_id="feedback",
    summary="Record the true label of an earlier prediction",
    description=f"`request_id` comes from a /v1/predict result; an id the log does not hold is refused (404). {NOTE}",
    openapi_extra=json_body("FeedbackRequest"),
    responses={
        200: json_result("FeedbackResponse", "The label is recorded."),
        404: {"model": ErrorResponse, "description": "No prediction with this request id."},
        **ERROR_RESPONSES,
    },
)
async def feedback(request: Request) -> Response:
    state = serving_state(request)
    schemas = current_model(state).schemas
    payload = await parse_body(request, schemas.feedback_request)
    request_id: str = payload.request_id  # type: ignore[attr-defined]
    label: int = payload.label  # type: ignore[attr-defined]
    try:
        receipt = await state.predlog.add_feedback(request_id, label)
    except UnknownRequestError as exc:
        raise ApiError(404, str(exc)) from None
    except PredictionLogError as exc:
        raise ApiError(503, f"feedback not recorded: {exc}", headers={"Retry-After": "1"}) from None
    return json_response(
        {
            "request_id": receipt.request_id,
            "label": schemas.positive if receipt.label else schemas.negative,
            "label_value": receipt.label,
            "received_at": receipt.received_at,
            "supersedes": receipt.supersedes,
            "note": NOTE,
        }
    )
