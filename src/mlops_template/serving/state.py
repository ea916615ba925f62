"""What the app holds while it runs: the loaded model (swapped atomically on reload) and its services.

A request takes `holder.current` once and uses that object to the end, so a reload never changes
the model under a request in flight: the old one finishes its requests and is then dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request

from mlops_template.model.artifact import ArtifactError, ServedModel
from mlops_template.serving.auth import ApiKeys
from mlops_template.serving.batching import Batcher
from mlops_template.serving.predlog import PredictionLog, utc_now
from mlops_template.serving.prometheus import ServingMetrics
from mlops_template.serving.schemas import CONFIDENCE, ContractSchemas, build_schemas
from mlops_template.serving.settings import ServingSettings

logger = logging.getLogger(__name__)

MODEL_CARD = "model_card.json"


@dataclass(frozen=True)
class LoadedModel:
    """A verified model with the request models built from its contract."""

    model: ServedModel
    schemas: ContractSchemas
    summary: dict[str, Any]  # GET /v1/model
    batcher: Batcher  # /v1/predict scores through it: concurrent requests in one model call

    @property
    def version(self) -> str:
        return self.model.version


def _model_card(directory: Path) -> dict[str, Any] | None:
    path = directory / MODEL_CARD
    if not path.is_file():
        return None
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"{path}: not readable JSON ({exc})"
        raise ArtifactError(msg) from None
    return card if isinstance(card, dict) else None


def load_model(directory: Path, max_batch: int) -> LoadedModel:
    """Load and verify the artifact, build its schemas, and check it predicts on its reference record.

    The check catches a graph that loads but cannot run (a hash only proves the file is the exported
    one), and warms the session up so the first request does not pay for it.
    """
    model = ServedModel.load(directory)
    schemas = build_schemas(model.contract, max_batch)
    try:
        (probability,) = model.predict_records([model.reference]).tolist()
    except Exception as exc:
        msg = f"{directory}: the model does not run on its own reference record ({type(exc).__name__}: {exc})"
        raise ArtifactError(msg) from exc
    if not (isinstance(probability, float) and math.isfinite(probability) and 0.0 <= probability <= 1.0):
        msg = f"{directory}: the model returns {probability!r} for its reference record (rule: a probability in [0, 1])"
        raise ArtifactError(msg)
    metadata = model.metadata
    summary = {
        "version": model.version,
        "threshold": model.threshold,
        "threshold_rule": metadata.get("threshold_rule"),
        "model_kind": metadata.get("model_kind"),
        "calibration": metadata.get("calibration"),
        "confidence": CONFIDENCE,
        "explanation_method": model.EXPLAIN_METHOD,
        "loaded_at": utc_now(),
        "classes": {"positive": schemas.positive, "negative": schemas.negative},
        "contract": model.contract,
        "inputs": [{"name": spec.name, "kind": spec.kind} for spec in model.inputs],
        "metadata": {key: value for key, value in metadata.items() if key not in ("files", "reference")}
        | {"files": metadata.get("files", {}), "reference": model.reference},
        "model_card": _model_card(directory),
    }
    return LoadedModel(model=model, schemas=schemas, summary=summary, batcher=Batcher(model))


class ModelHolder:
    """The current model, how to replace it, and why there is none when there is none."""

    def __init__(
        self, directory: Path, max_batch: int, metrics: ServingMetrics, on_change: Callable[[], None] = lambda: None
    ) -> None:
        self.directory = directory
        self.max_batch = max_batch
        self.metrics = metrics
        self.on_change = on_change
        self.current: LoadedModel | None = None
        self.problem: str | None = "not loaded yet"
        self._lock = asyncio.Lock()

    def _swap(self, loaded: LoadedModel) -> LoadedModel | None:
        previous, self.current, self.problem = self.current, loaded, None
        self.metrics.model_loaded(loaded.version, previous.version if previous else None)
        self.on_change()
        logger.info(
            "serving model %s from %s (was %s)", loaded.version, self.directory, previous.version if previous else None
        )
        return previous

    def _refused(self, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ArtifactError) else str(exc)
        if self.current is None:
            self.problem = reason
        self.metrics.model_refused(ready=self.current is not None)
        logger.error(
            "model refused, %s: %s", f"still serving {self.current.version}" if self.current else "not ready", reason
        )

    def load_at_start(self) -> None:
        """Load in the lifespan; a bad artifact leaves the app up but not ready (GET /ready says why)."""
        try:
            self._swap(load_model(self.directory, self.max_batch))
        except Exception as exc:  # anything that prevents serving is reported, not raised
            self._refused(exc)

    async def reload(self) -> tuple[LoadedModel, LoadedModel | None]:
        """Load the model directory again off the event loop and swap it in; on failure keep the old one."""
        async with self._lock:
            try:
                loaded = await asyncio.to_thread(load_model, self.directory, self.max_batch)
            except Exception as exc:
                self._refused(exc)
                raise
            return loaded, self._swap(loaded)


@dataclass
class ServingState:
    """Everything the routes need, on `app.state.serving`."""

    settings: ServingSettings
    metrics: ServingMetrics
    predlog: PredictionLog
    models: ModelHolder
    api_keys: ApiKeys | None


def serving_state(request: Request) -> ServingState:
    state: ServingState = request.app.state.serving
    return state
