"""BentoML 1.4 serving the exported artifact, as a BentoML user would write it: bench-serve's first peer.

    .tools/peers/bentoml/bin/bentoml serve service:FraudDetector --working-dir benchmarks/peers/bentoml \
        --host 127.0.0.1 --port 3000        # MLOPS_MODEL_DIR=models/served, after `make bench-peers`

Runs in its own venv (requirements.txt here), never the project's. The artifact is loaded and run by
the project's own `model/artifact.py` (numpy and onnxruntime only, the same pinned versions), so the
model, its hash checks and its input conversion are exactly what our API runs: what differs is only
the server around it. One worker, no auth, no access log, no prediction log, as the issue measured it.
`POST /predict` takes the same body as our API's `/v1/predict`: `{"record": {...}}`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import bentoml

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "src"))  # the package's artifact module, not the package's dependencies
from mlops_template.model.artifact import ServedModel  # noqa: E402


@bentoml.service(workers=1, logging={"access": {"enabled": False}})
class FraudDetector:
    def __init__(self) -> None:
        self.model = ServedModel.load(Path(os.environ.get("MLOPS_MODEL_DIR", REPO / "models/served")))

    @bentoml.api
    def predict(self, record: dict[str, Any]) -> dict[str, Any]:
        probability = float(self.model.predict_records([record])[0])
        label = int(probability >= self.model.threshold)
        return {"probability": probability, "label": label, "threshold": self.model.threshold}
