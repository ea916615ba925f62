"""GET /metrics: Prometheus text format (summed over workers in multiprocess mode); no key needed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from mlops_template.serving.state import serving_state

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Metrics."}},
)
async def metrics(request: Request) -> Response:
    body, content_type = serving_state(request).metrics.render()
    return Response(body, media_type=content_type)
