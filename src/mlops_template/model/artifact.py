"""The served artifact: load it, verify its hashes, and run it (numpy and onnxruntime only).

The export stage writes a directory with `model.onnx` (features + calibrated classifier, float64),
`contract.json` (the data contract) and `served.json` (threshold, inputs, reference values, sha256 of
each file). `evaluate` measures this artifact through this module, and the API serves it through this
module: what is measured is what is served.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import onnxruntime as ort

from mlops_template.core.errors import MlopsTemplateError

FORMAT = 1
METADATA = "served.json"
MODEL = "model.onnx"
CONTRACT = "contract.json"
MISSING_CATEGORY = "missing"  # what training saw for a missing categorical value
OUTPUT = "probability"
InputKind = Literal["numeric", "categorical", "timestamp"]


class ArtifactError(MlopsTemplateError):
    """The served artifact is missing, altered (hash mismatch) or of an unknown format."""


@dataclass(frozen=True)
class InputSpec:
    name: str
    kind: InputKind


@dataclass(frozen=True)
class Contribution:
    """How much one input moved a prediction: probability minus the probability at its reference."""

    feature: str
    value: object
    reference: object
    contribution: float


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def artifact_version(file_hashes: Mapping[str, str]) -> str:
    """A short, stable version id: the same files give the same id, any change gives another."""
    joined = "\n".join(f"{name}:{digest}" for name, digest in sorted(file_hashes.items()))
    return hashlib.sha256(joined.encode()).hexdigest()[:12]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"{path}: not found (export the model first: `dvc repro export`)"
        raise ArtifactError(msg) from None
    except (OSError, ValueError) as exc:
        msg = f"{path}: not readable JSON ({exc})"
        raise ArtifactError(msg) from None
    if not isinstance(found, dict):
        msg = f"{path}: expected a JSON object"
        raise ArtifactError(msg)
    return found


def epoch_seconds(value: Any) -> int:
    """A timestamp (datetime, aware or naive = UTC, or ISO 8601 text) as whole seconds since 1970 UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    if not isinstance(value, datetime):
        msg = f"timestamp: expected a datetime or ISO 8601 text (got {value!r})"
        raise ArtifactError(msg)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds: float = value.timestamp()
    return math.floor(seconds)


def _session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    # One thread per worker: latency for single rows, and workers (processes) give the parallelism.
    options.intra_op_num_threads = int(os.environ.get("MLOPS_ORT_THREADS", "1"))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return options


class ServedModel:
    """A loaded, verified artifact: raw rows in, probability of the positive class out."""

    EXPLAIN_METHOD: ClassVar[str] = (
        "single-input occlusion: the probability minus the probability with that one input set to its "
        "training reference value (median for numbers, most frequent value for categories)"
    )

    def __init__(self, directory: Path, metadata: dict[str, Any], contract: dict[str, Any], model: bytes) -> None:
        self.directory = directory
        self.metadata = metadata
        self.contract = contract
        self.version: str = metadata["version"]
        self.threshold: float = float(metadata["threshold"])
        self.inputs: tuple[InputSpec, ...] = tuple(InputSpec(i["name"], i["kind"]) for i in metadata["inputs"])
        self.reference: dict[str, Any] = dict(metadata["reference"])
        try:
            self._session = ort.InferenceSession(model, _session_options(), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for a bad graph
            msg = f"{directory / MODEL}: onnxruntime cannot load it ({exc})"
            raise ArtifactError(msg) from exc

    @classmethod
    def load(cls, directory: Path) -> ServedModel:
        """Read `directory`, refuse it unless every file matches the sha256 in served.json."""
        metadata = _read_json(directory / METADATA)
        if metadata.get("format") != FORMAT:
            msg = f"{directory / METADATA}: format {metadata.get('format')!r} is not {FORMAT} (re-export the model)"
            raise ArtifactError(msg)
        hashes: dict[str, str] = metadata.get("files", {})
        for name in (MODEL, CONTRACT):
            if name not in hashes:
                msg = f"{directory / METADATA}: files.{name}: no sha256 recorded"
                raise ArtifactError(msg)
        blobs: dict[str, bytes] = {}
        for name, expected in sorted(hashes.items()):
            try:
                blobs[name] = (directory / name).read_bytes()
            except FileNotFoundError:
                msg = f"{directory / name}: not found (the artifact is incomplete)"
                raise ArtifactError(msg) from None
            found = hashlib.sha256(blobs[name]).hexdigest()
            if found != expected:
                msg = f"{directory / name}: sha256 {found} does not match {expected} in {METADATA} (altered or corrupt)"
                raise ArtifactError(msg)
        if artifact_version(hashes) != metadata.get("version"):
            msg = f"{directory / METADATA}: version {metadata.get('version')!r} does not match its file hashes"
            raise ArtifactError(msg)
        contract = json.loads(blobs[CONTRACT])
        return cls(directory, metadata, contract, blobs[MODEL])

    # --- inference ------------------------------------------------------------------------------

    def predict_columns(self, columns: Mapping[str, Any]) -> np.ndarray:
        """Probabilities for columnar inputs already in the graph's types (see `columns_from_records`)."""
        feeds = {spec.name: np.asarray(columns[spec.name]).reshape(-1, 1) for spec in self.inputs}
        (probability,) = self._session.run([OUTPUT], feeds)
        return np.asarray(probability, dtype=np.float64)

    def columns_from_records(self, records: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        """Records (JSON-like values, None for missing) as the graph's typed input columns."""
        columns: dict[str, np.ndarray] = {}
        for spec in self.inputs:
            values = [record.get(spec.name) for record in records]
            if spec.kind == "numeric":
                columns[spec.name] = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
            elif spec.kind == "categorical":
                columns[spec.name] = np.array([MISSING_CATEGORY if v is None else str(v) for v in values], dtype=object)
            else:
                columns[spec.name] = np.array([epoch_seconds(v) for v in values], dtype=np.int64)
        return columns

    def predict_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Probability of the positive class for each record."""
        if not records:
            return np.empty(0, dtype=np.float64)
        return self.predict_columns(self.columns_from_records(records))

    def explain_record(self, record: Mapping[str, Any]) -> list[Contribution]:
        """Each input's effect on this prediction, largest first (see EXPLAIN_METHOD)."""
        variants = [dict(record), *({**record, spec.name: self.reference[spec.name]} for spec in self.inputs)]
        probabilities = self.predict_records(variants)
        found = [
            Contribution(
                feature=spec.name,
                value=record.get(spec.name),
                reference=self.reference[spec.name],
                contribution=float(probabilities[0] - probabilities[position + 1]),
            )
            for position, spec in enumerate(self.inputs)
        ]
        return sorted(found, key=lambda c: (-abs(c.contribution), c.feature))
