"""GET /v1/review/queue and /v1/review/summary: the human check of the model (scope `review`).

The queue lists logged predictions of the served model version without a label: a random sample of the
flagged ones first, then a random sample of the others; a reviewer labels each through POST /v1/feedback.
The summary measures precision and recall on the labelled ones of the served version, with intervals
(serving/review.py says how).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from mlops_template.serving import review
from mlops_template.serving.routes._http import ERROR_RESPONSES, ApiError, current_model, json_response
from mlops_template.serving.schemas import field_errors
from mlops_template.serving.schemas import summary as errors_summary
from mlops_template.serving.state import ServingState, serving_state

router = APIRouter(prefix="/v1/review", tags=["review"])
T = TypeVar("T")
_RANDOM = random.SystemRandom()
MAX_QUEUE = 100


SIZE_PARAMETER = {
    "name": "size",
    "in": "query",
    "required": False,
    "description": "How many predictions to list.",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_QUEUE, "default": 20},
}


class QueueQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(20, ge=1, le=MAX_QUEUE, description="How many predictions to list.")


class QueueItem(BaseModel):
    request_id: str
    created_at: str
    model_version: str
    inputs: dict[str, object] = Field(description="The logged record, as the API validated it.")
    probability: float
    flagged: bool
    threshold: float
    why: str = Field(description="'flagged' (the model flagged it) or 'sampled' (drawn at random from the others).")


class Queue(BaseModel):
    classes: dict[str, str] = Field(description="The labels a reviewer gives: the contract's class names.")
    id_column: str | None = Field(description="The contract's id column, inside `inputs`.")
    items: list[QueueItem]


class Share(BaseModel):
    value: float | None
    interval: list[float] | None
    hits: int
    total: int


class Recall(BaseModel):
    value: float | None
    interval: list[float] | None


class Summary(BaseModel):
    model_version: str = Field(description="The served model version: the summary counts its predictions only.")
    confidence: float
    predictions: dict[str, int] = Field(description="Predictions of that version in the log, flagged and unflagged.")
    reviewed: int
    reviewed_flagged: int
    reviewed_unflagged: int
    precision: Share = Field(description="Labelled positive among the labelled flagged predictions (Wilson).")
    miss_rate: Share = Field(description="Labelled positive among the labelled unflagged predictions (Wilson).")
    recall: Recall = Field(description="Flagged positives over all positives, each stratum weighted by its size.")


def _read_only(path: Path, busy_ms: int, read: Callable[[sqlite3.Connection], T]) -> T:
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=busy_ms / 1000)
    try:
        return read(connection)
    finally:
        connection.close()


async def _reading(state: ServingState, read: Callable[[sqlite3.Connection], T]) -> T:
    """`read` on a read-only connection of its own, in a worker thread: a scan of a large log never holds
    up the event loop that answers predictions (WAL lets it read while the log is written)."""
    log = state.predlog
    try:
        return await asyncio.to_thread(_read_only, log.path, log.busy_ms, read)
    except sqlite3.Error as exc:
        raise ApiError(
            503, f"prediction log {log.path.name}: not readable ({exc})", headers={"Retry-After": "1"}
        ) from None


@router.get(
    "/queue",
    operation_id="review_queue",
    summary="Predictions to review next",
    description=f"Up to `size` (1 to {MAX_QUEUE}) unlabelled predictions among the newest "
    f"{review.QUEUE_WINDOW} of the served model version in the log: a random sample of the flagged ones first, "
    f"then a random sample of the others (at least {review.SAMPLED_SHARE:.0%} of the queue), so that labels "
    "measure precision without bias and misses too.",
    response_model=Queue,
    responses={422: ERROR_RESPONSES[422], 503: ERROR_RESPONSES[503]},
    openapi_extra={"parameters": [SIZE_PARAMETER]},
)
async def queue(request: Request) -> Response:
    state = serving_state(request)
    loaded = current_model(state)
    schemas, contract = loaded.schemas, loaded.summary["contract"]
    try:
        query = QueueQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        errors = field_errors(exc)
        raise ApiError(422, errors_summary(errors), extra={"errors": errors}) from None
    version = loaded.version
    items = await _reading(state, lambda connection: review.queue(connection, query.size, _RANDOM, version))
    return json_response(
        {
            "classes": {"positive": schemas.positive, "negative": schemas.negative},
            "id_column": contract.get("id"),
            "items": [item.as_json() for item in items],
        }
    )


@router.get(
    "/summary",
    operation_id="review_summary",
    summary="Precision and recall on the reviewed predictions",
    description="For the served model version: counts of labelled predictions, precision (Wilson interval), the "
    "miss rate among unflagged ones, and recall estimated from both strata, each weighted by its size in the log.",
    response_model=Summary,
    responses={503: ERROR_RESPONSES[503]},
)
async def summary(request: Request) -> Response:
    state = serving_state(request)
    version = current_model(state).version
    counts = await _reading(state, lambda connection: review.read_counts(connection, version))
    return json_response(review.summary(counts))
