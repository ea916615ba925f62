"""The app factory: settings, middleware, routers; the model is loaded in the lifespan, never at import.

Middleware, outermost first, all pure ASGI (no per-request task or body copy):
metrics (sees every answer, even a 401 or a 413) -> CORS (only when MLOPS_CORS_ORIGINS is set) ->
API keys and their scopes -> body size limit -> the routes.

FastAPI documents the routes, Starlette serves them. Each resource is an `APIRouter` (its OpenAPI:
summary, request and response schemas, error answers), and every endpoint takes only the `Request`
and returns a `Response`: it validates its body itself, against models built from the contract at
load time. FastAPI's per-request dependency solving would have nothing to do, yet costs about 20 us
a request (measured); so the same endpoints are mounted as plain Starlette routes and the OpenAPI
document is generated from the routers.

Run it with `mlops-template serve`, or `uvicorn --factory mlops_template.serving.app:create_app`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from prometheus_client import disable_created_metrics
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mlops_template import __version__
from mlops_template.serving.auth import (
    KEY_PATHS,
    PUBLIC_PATHS,
    ROUTE_SCOPES,
    SCHEMES,
    SCOPES,
    ApiKeyMiddleware,
    load_api_keys,
)
from mlops_template.serving.limits import BodySizeLimitMiddleware
from mlops_template.serving.predlog import PredictionLog
from mlops_template.serving.prometheus import MetricsMiddleware, ServingMetrics
from mlops_template.serving.routes import ROUTERS
from mlops_template.serving.routes._http import AUTH_RESPONSES, JSON, ApiError, error_response, json_response
from mlops_template.serving.settings import ServingSettings, load_settings
from mlops_template.serving.state import ModelHolder, ServingState

TITLE = "mlops-template model API"
DESCRIPTION = """Predictions with probabilities and confidence, explanations and feedback for the model
exported by the pipeline. Request bodies follow the model's data contract (`contract.json`): the
schemas below are built from it when the model loads. Every route but /health, /ready, /metrics and
the page for people (GET /, not described here) needs an API key (`Authorization: Bearer <key>` or
`X-API-Key: <key>`); /v1/me answers any valid key with its scopes, every other route needs its own scope
(each operation's `security` names it; a key without it gets a 403 naming it): """


def _scopes_description() -> str:
    """Which routes each scope opens, from the one table in serving/auth.py."""
    parts = []
    for scope in SCOPES:
        paths = ", ".join(path for path, needed in ROUTE_SCOPES.items() if needed == scope)
        parts.append(f"`{scope}` ({paths or 'reserved: no route yet'})")
    return "; ".join(parts) + "."


DESCRIPTION += _scopes_description()
CONTRACT_COMPONENTS = (
    *("PredictRequest", "ExplainRequest", "FeedbackRequest"),
    *("PredictResponse", "ExplainResponse", "FeedbackResponse", "PredictionResult"),
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ServingState = app.state.serving
    state.predlog.open()
    state.models.load_at_start()
    try:
        yield
    finally:
        state.predlog.close()
        state.metrics.close()


async def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)  # noqa: S101 (registered for ApiError only)
    return error_response(exc)


async def _internal_error(_request: Request, _exc: Exception) -> Response:
    # The traceback goes to the server log (Starlette re-raises after this answer); the client gets no detail.
    return json_response({"detail": "internal error (logged on the server)"}, 500)


def _component_schemas(state: ServingState) -> dict[str, Any]:
    loaded = state.models.current
    if loaded is None:
        placeholder = {"type": "object", "description": "Built from the model's data contract once a model is loaded."}
        return dict.fromkeys(CONTRACT_COMPONENTS, placeholder)
    schemas = loaded.schemas
    components: dict[str, Any] = {}
    for model in (schemas.predict_request, schemas.explain_request, schemas.feedback_request, *schemas.responses):
        found = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(found.pop("$defs", {}))
        components[model.__name__] = found
    return components


def _openapi(app: FastAPI, state: ServingState) -> dict[str, Any]:
    """The OpenAPI document for the model loaded now (rebuilt after a reload)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(title=TITLE, version=__version__, description=DESCRIPTION, routes=list(DOCUMENTED))
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {}).update(_component_schemas(state))
    if state.api_keys is not None:
        components["securitySchemes"] = SCHEMES
        error = {"$ref": "#/components/schemas/ErrorResponse"}
        for path, operations in schema["paths"].items():
            if path in PUBLIC_PATHS:
                continue
            # OpenAPI 3.1 lets a non-OAuth security requirement list the roles it needs: here, the one scope
            # (none for a path any valid key may call).
            needed = None if path in KEY_PATHS else ROUTE_SCOPES[path]
            for operation in operations.values():
                operation["security"] = [{name: [needed] if needed else []} for name in SCHEMES]
                for status, response in AUTH_RESPONSES.items():
                    content = {JSON: {"schema": error}}
                    described = response["description"]
                    if status == HTTPStatus.FORBIDDEN and needed:
                        described = f"Wrong API key, or a key without the scope `{needed}`."
                    operation["responses"][str(status)] = {"description": described, "content": content}
    app.openapi_schema = schema
    return schema


DOCUMENTED = tuple(route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute))


def _serve_routes(app: FastAPI) -> None:
    """Mount each documented endpoint as a plain Starlette route (see the module docstring)."""
    for route in DOCUMENTED:
        app.add_route(
            route.path, route.endpoint, methods=sorted(route.methods or ()), name=route.name, include_in_schema=False
        )


def _paths(app: FastAPI) -> frozenset[str]:
    """Every path the app answers (the metrics' route label; anything else counts as unmatched)."""
    return frozenset(route.path for route in app.routes if isinstance(route, Route))


def create_app(settings: ServingSettings | None = None) -> FastAPI:
    """The API, configured from `settings` (default: the environment). Refuses to build without keys."""
    settings = settings if settings is not None else load_settings()
    # The *_created series double a scrape and say nothing a dashboard uses.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    api_keys = load_api_keys(settings)
    metrics = ServingMetrics(settings.monitor_report)
    app = FastAPI(
        title=TITLE,
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Swagger UI fetches scripts from a CDN and cannot send keys: offered only when auth is off (development).
        docs_url="/docs" if api_keys is None else None,
        redoc_url=None,
        # FastAPI's own OpenTelemetry hooks cost a provider lookup per request; this app reports to Prometheus.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    models = ModelHolder(settings.model_dir, settings.max_batch, metrics, on_change=lambda: _forget_openapi(app))
    predlog = PredictionLog(settings.prediction_log, settings.prediction_log_busy_ms)
    state = ServingState(settings=settings, metrics=metrics, predlog=predlog, models=models, api_keys=api_keys)
    app.state.serving = state
    _serve_routes(app)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(Exception, _internal_error)
    app.openapi = lambda: _openapi(app, state)  # type: ignore[method-assign]

    # add_middleware puts each one outside the previous: the last added runs first.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    if api_keys is not None:
        app.add_middleware(ApiKeyMiddleware, keys=api_keys)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=_paths(app))
    return app


def _forget_openapi(app: FastAPI) -> None:
    app.openapi_schema = None  # the next GET /openapi.json describes the new model's contract
