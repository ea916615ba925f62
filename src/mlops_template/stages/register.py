"""Stage `register`: log the evaluated model to MLflow (one run) and register a model version.

A stage of its own because a fresh clone reproduces the committed metrics and card, so DVC rightly
skips `evaluate` there; tracking must still happen wherever a model is trained. The stage's output
is a small deterministic record of what was logged (never the run id, so dvc.lock stays stable):
it is missing in a fresh clone, so the model is logged there, and present after a no-op repro, so
nothing is logged twice.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from pathlib import Path
from typing import Any

from mlops_template.core import io
from mlops_template.core.config import Params, find_project_root
from mlops_template.model import tracking
from mlops_template.model.artifact import ServedModel
from mlops_template.model.estimator import load_bundle
from mlops_template.stages import stage_main

logger = logging.getLogger("mlops_template.stages.register")  # not __main__ under python -m


def _read_report(path: Path) -> Any:
    io.require_artifact(path, "evaluate")
    return io.read_json(path) if path.suffix == ".json" else path.read_text(encoding="utf-8")


def run(params: Params, model_path: Path, served_dir: Path, reports_dir: Path, record_path: Path) -> dict[str, Any]:
    bundle = load_bundle(model_path)
    served = ServedModel.load(served_dir)
    metrics = _read_report(reports_dir / "metrics.json")
    card = _read_report(reports_dir / "model_card.json")
    markdown = _read_report(reports_dir / "model_card.md")
    record: dict[str, Any] = {
        "model_sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
        "served_version": served.version,
        "data_version": card["data"]["version"].get("md5"),
        "registered_model": params.tracking.registered_model,
        "logged": params.tracking.enabled,
    }
    if params.tracking.enabled:
        tracking.log_run(
            params,
            bundle,
            metrics=metrics,
            card=card,
            card_markdown=markdown,
            root=find_project_root(),
            served_dir=served_dir,
        )
    else:
        logger.info("tracking.enabled is false: nothing logged to MLflow")
    io.write_json(record_path, record)
    return record


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=Path("models/model.joblib"))
    parser.add_argument("--served", type=Path, default=Path("models/served"))
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    parser.add_argument("--record", type=Path, default=Path("artifacts/registered.json"))


def main(argv: list[str] | None = None) -> int:
    return stage_main("register", argv, _arguments, lambda p, a: run(p, a.model, a.served, a.reports, a.record))


if __name__ == "__main__":
    raise SystemExit(main())
