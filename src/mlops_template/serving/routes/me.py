"""GET /v1/me: what the presented key may do (any valid key): its scopes and the API's request limits."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from mlops_template.serving.auth import SCOPES, presented_key
from mlops_template.serving.routes._http import json_response
from mlops_template.serving.state import serving_state

router = APIRouter(prefix="/v1", tags=["keys"])


class KeyInfo(BaseModel):
    scopes: list[str] = Field(description="The scopes this key holds (every scope when auth is disabled).")
    authenticated: bool = Field(description="False when the API runs without keys (MLOPS_AUTH_DISABLED).")
    max_batch: int = Field(description="The most records one /v1/predict call may hold.")
    max_body_bytes: int = Field(description="The largest request body accepted, in bytes.")


@router.get(
    "/me",
    operation_id="me",
    summary="The presented key's scopes",
    description="Any valid key may ask: the page shows only the tabs its key's scopes open. The key itself is "
    "never echoed.",
    response_model=KeyInfo,
)
async def me(request: Request) -> Response:
    state = serving_state(request)
    scopes: frozenset[str] = frozenset(SCOPES)
    if state.api_keys is not None:
        # The middleware let only a valid key through; its scopes are looked up again here, so no other
        # route pays for passing them along.
        key = presented_key(request.scope["headers"])
        scopes = (state.api_keys.scopes_of(key) if key is not None else None) or frozenset()
    return json_response(
        {
            "scopes": [scope for scope in SCOPES if scope in scopes],
            "authenticated": state.api_keys is not None,
            "max_batch": state.settings.max_batch,
            "max_body_bytes": state.settings.max_body_bytes,
        }
    )
