"""POST /v1/admin/reload: load the model directory again and swap it in, or keep the old one."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from mlops_template.serving.routes._http import ApiError, json_response
from mlops_template.serving.schemas import ErrorResponse
from mlops_template.serving.state import serving_state

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class Reloaded(BaseModel):
    version: str
    previous_version: str | None
    changed: bool


@router.post(
    "/reload",
    operation_id="reload",
    summary="Reload the model from the model directory",
    description="Loads and verifies the artifact off the event loop, then swaps it in atomically: requests in "
    "flight finish on the model they started with. A bad artifact is refused (409) and the current model "
    "keeps serving. With several workers, each reloads only when it receives this call: restart the "
    "workers (SIGHUP to the server) to reload them all.",
    response_model=Reloaded,
    responses={409: {"model": ErrorResponse, "description": "The artifact was refused; nothing changed."}},
)
async def reload(request: Request) -> Response:
    models = serving_state(request).models
    try:
        loaded, previous = await models.reload()
    except Exception as exc:
        still = f"still serving {models.current.version}" if models.current else "no model loaded"
        raise ApiError(409, f"reload refused ({still}): {exc}") from None
    old = previous.version if previous else None
    return json_response({"version": loaded.version, "previous_version": old, "changed": old != loaded.version})
