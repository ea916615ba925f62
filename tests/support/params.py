"""params.yaml as tests use it: the shipped one, a small one for speed, and writing one to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.support.workspace import REPO


def shipped_params_dict() -> dict[str, Any]:
    """The repository's params.yaml, as a fresh dict each call (tests change it freely)."""
    raw: dict[str, Any] = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    return raw


def small_params_dict() -> dict[str, Any]:
    """The shipped params, shrunk: a few hundred rows a week, a small model, no MLflow."""
    raw = shipped_params_dict()
    raw["source"].update(rows_per_week=600, fraud_rate=0.05, customers=500)
    raw["train"]["model"].update(max_iter=20)
    raw["evaluate"].update(min_slice_rows=20, importance_repeats=1, importance_max_rows=300)
    raw["tracking"]["enabled"] = False
    return raw


def write_params(path: Path, raw: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path
