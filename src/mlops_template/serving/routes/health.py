"""GET /health (the process answers) and GET /ready (a verified model is loaded); no key needed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from mlops_template.serving.routes._http import json_response
from mlops_template.serving.state import serving_state

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    model_version: str | None = None
    reason: str | None = None


@router.get("/health", operation_id="health", summary="Liveness: the process answers", response_model=Health)
async def health(_request: Request) -> Response:
    return json_response({"status": "ok"})


@router.get(
    "/ready",
    operation_id="ready",
    summary="Readiness: a model is loaded and its hashes verified",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready; `reason` says why."}},
)
async def ready(request: Request) -> Response:
    models = serving_state(request).models
    loaded = models.current
    if loaded is None:
        return json_response({"status": "not ready", "reason": models.problem}, 503, {"Retry-After": "5"})
    return json_response({"status": "ready", "model_version": loaded.version})
