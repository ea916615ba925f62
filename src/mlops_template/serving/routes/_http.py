"""What every route shares: JSON in (content type, strict parsing, readable 4xx), JSON out, errors."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from mlops_template.serving.schemas import ErrorResponse, ValidationErrorResponse, field_errors, summary
from mlops_template.serving.state import LoadedModel, ServingState

ModelT = TypeVar("ModelT", bound=BaseModel)
JSON = "application/json"
# A browser must never take an answer for another type than JSON (a script, a page): the API's answers
# hold other clients' inputs.
NOSNIFF = {"X-Content-Type-Options": "nosniff"}


class ApiError(Exception):
    """An error answer: status, a one-line detail, optional extra fields and headers."""

    def __init__(
        self, status: int, detail: str, *, extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def json_response(content: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(content, separators=(",", ":"), default=_default, allow_nan=False)
    return Response(body, status_code=status, headers={**NOSNIFF, **(headers or {})}, media_type=JSON)


def error_response(exc: ApiError) -> Response:
    return json_response({"detail": exc.detail, **exc.extra}, exc.status, exc.headers)


def current_model(state: ServingState) -> LoadedModel:
    loaded = state.models.current
    if loaded is None:
        detail = f"no model loaded ({state.models.problem}); see GET /ready"
        raise ApiError(503, detail, headers={"Retry-After": "5"})
    return loaded


async def parse_body(request: Request, model: type[ModelT]) -> ModelT:
    """The body validated as `model`: 415 if not JSON, 400 if malformed, 422 naming every bad field."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type != JSON and not (media_type.startswith("application/") and media_type.endswith("+json")):
        shown = repr(content_type) if content_type else "none"
        raise ApiError(415, f"Content-Type {shown} is not supported (rule: application/json)")
    try:
        body = await request.body()
    except ClientDisconnect:
        raise ApiError(400, "the client closed the connection before sending the whole body") from None
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = field_errors(exc)
        if any(error["rule"] == "json_invalid" for error in errors):
            raise ApiError(400, f"malformed JSON body: {errors[0]['message']}") from None
        raise ApiError(422, summary(errors), extra={"errors": errors}) from None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Malformed JSON or Content-Length."},
    413: {"model": ErrorResponse, "description": "Body over the size limit."},
    415: {"model": ErrorResponse, "description": "Body not JSON."},
    422: {"model": ValidationErrorResponse, "description": "Every bad field, the rule it broke and the value."},
    503: {"model": ErrorResponse, "description": "No model loaded (see GET /ready) or the prediction log is down."},
}
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "No API key."},
    403: {"model": ErrorResponse, "description": "Wrong API key."},
}


def json_body(component: str) -> dict[str, Any]:
    """OpenAPI for a JSON request body whose schema is a component built from the contract at run time."""
    schema = {"$ref": f"#/components/schemas/{component}"}
    return {"requestBody": {"required": True, "content": {JSON: {"schema": schema}}}}


def json_result(component: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{component}"}}}}
