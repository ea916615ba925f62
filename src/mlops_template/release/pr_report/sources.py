"""The report's I/O: files at a revision (`git show REV:path`), DVC's params and metrics diffs, the
MLflow run. Everything is turned into the plain dicts `render.render` takes.

The head is the working tree by default (where `dvc repro` and `mlops-template gate` just wrote their
results in CI), or a commit with `--head-rev`.

The base is often a commit whose reports were written by older code: keys that were renamed since
(`LEGACY_QUALITY_KEYS`) are read under their new names, so a rename is not reported as one metric
that vanished and another that appeared.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from mlops_template.core.config import TrackingParams
from mlops_template.core.errors import MlopsTemplateError

logger = logging.getLogger(__name__)

PLOTS = ("roc", "precision_recall", "calibration", "feature_importance")
WORKSPACE = "workspace"
QUALITY_FILE = "reports/data_quality.json"
# reports/data_quality.json keys written before the metric keys became task-neutral -> their names now.
LEGACY_QUALITY_KEYS = {f"{split}_fraud_rate": f"{split}_positive_rate" for split in ("train", "valid", "test")}


class ReportError(MlopsTemplateError):
    """A revision or a DVC diff the report needs cannot be read."""


def _run(args: list[str], root: Path) -> subprocess.CompletedProcess[str]:
    # git and `python -m dvc` with arguments built here; never a shell.
    return subprocess.run(args, cwd=root, capture_output=True, text=True, check=False)  # noqa: S603


def resolve(root: Path, rev: str) -> str:
    found = _run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], root)
    if found.returncode != 0:
        msg = f"{rev!r} is not a commit of the repository at {root} (in CI: checkout with fetch-depth: 0)"
        raise ReportError(msg)
    return found.stdout.strip()


def read_text_at(root: Path, rev: str | None, path: str) -> str | None:
    """A file at a commit (None: the working tree); None when it does not exist there."""
    if rev is None:
        target = root / path
        return target.read_text(encoding="utf-8") if target.is_file() else None
    found = _run(["git", "show", f"{rev}:{path}"], root)
    return found.stdout if found.returncode == 0 else None


def read_json_at(root: Path, rev: str | None, path: str) -> Any:
    text = read_text_at(root, rev, path)
    return json.loads(text) if text else None


def read_table_at(root: Path, rev: str | None, path: str) -> dict[str, list[Any]] | None:
    """A plot CSV as columns; numbers as floats, anything else (feature names) kept as text."""
    text = read_text_at(root, rev, path)
    if not text:
        return None
    rows = list(csv.DictReader(io.StringIO(text)))
    columns: dict[str, list[Any]] = {name: [row[name] for row in rows] for name in (rows[0] if rows else {})}
    for name, values in columns.items():
        try:
            columns[name] = [float(value) for value in values]
        except ValueError:
            continue
    return columns


def task_words() -> dict[str, str]:
    """The task's words (what a row is, the class names) from the data contract, for the report."""
    from mlops_template.data import schema  # noqa: PLC0415 - pandas and pandera: only when a report is written

    return {"row": schema.ROW_NOUN, "positive": schema.POSITIVE_CLASS, "negative": schema.NEGATIVE_CLASS}


def upgrade_quality(quality: dict[str, Any]) -> dict[str, Any]:
    """A data_quality.json with legacy keys renamed (a key already under its new name wins)."""
    upgraded = {LEGACY_QUALITY_KEYS.get(key, key): value for key, value in quality.items()}
    upgraded.update({key: value for key, value in quality.items() if key in LEGACY_QUALITY_KEYS.values()})
    return upgraded


def upgrade_metrics_diff(diff: dict[str, Any]) -> dict[str, Any]:
    """`dvc metrics diff` with data_quality.json's legacy keys merged into their new names.

    A base with `test_fraud_rate` and a head with `test_positive_rate` give DVC two entries (old only,
    new only); they become one entry with both sides, and `diff` when both are numbers.
    """
    entries = diff.get(QUALITY_FILE)
    if not entries:
        return diff
    merged = {key: dict(entry) for key, entry in entries.items() if key not in LEGACY_QUALITY_KEYS}
    for legacy, key in LEGACY_QUALITY_KEYS.items():
        if legacy not in entries:
            continue
        entry = merged.setdefault(key, {"old": None, "new": None})
        for side in ("old", "new"):
            if entry.get(side) is None:
                entry[side] = entries[legacy].get(side)
        old, new = entry.get("old"), entry.get("new")
        entry.pop("diff", None)
        if isinstance(old, int | float) and isinstance(new, int | float):
            entry["diff"] = new - old
    return {**diff, QUALITY_FILE: merged}


def dvc_json(root: Path, *args: str) -> dict[str, Any]:
    found = _run([sys.executable, "-m", "dvc", *args, "--json"], root)
    if found.returncode != 0:
        msg = f"dvc {' '.join(args)}: {found.stderr.strip() or found.stdout.strip()}"
        raise ReportError(msg)
    parsed: dict[str, Any] = json.loads(found.stdout or "{}")
    return parsed


def data_side(root: Path, rev: str | None) -> dict[str, Any] | None:
    """The data version and per-split rows and weeks at a revision (None if it has no pipeline results)."""
    dvc_file = read_text_at(root, rev, "data.dvc")
    quality = read_json_at(root, rev, QUALITY_FILE)
    card = read_json_at(root, rev, "reports/model_card.json") or {}
    if dvc_file is None and quality is None:
        return None
    outs = (yaml.safe_load(dvc_file) or {}).get("outs", [{}]) if dvc_file else [{}]
    weeks = card.get("data", {}).get("weeks", {})
    return {"md5": outs[0].get("md5"), "quality": upgrade_quality(quality or {}), "weeks": weeks}


def mlflow_run_url(head_commit: str, experiment: str) -> str | None:
    """The link to the head commit's MLflow run, only when MLFLOW_TRACKING_URI is an http(s) server."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri.startswith(("http://", "https://")):
        return None
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient  # noqa: PLC0415 - heavy, and only this link needs it
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    try:
        client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(experiment)
        runs = (
            client.search_runs(
                [found.experiment_id],
                filter_string=f"tags.git_commit = '{head_commit}'",
                order_by=["attributes.start_time DESC"],
                max_results=1,
            )
            if found
            else []
        )
    except (MlflowException, OSError) as exc:
        logger.warning("MLflow at %s: no run link (%s)", uri, exc)
        return None
    if not runs:
        logger.info("MLflow at %s has no run for commit %s", uri, head_commit[:12])
        return None
    return f"{uri.rstrip('/')}/#/experiments/{runs[0].info.experiment_id}/runs/{runs[0].info.run_id}"


def gather(root: Path, base_rev: str, head_rev: str | None, gate_path: Path | None) -> dict[str, Any]:
    """Everything `render.render` needs, for base `base_rev` and head `head_rev` (None: working tree)."""
    base_commit = resolve(root, base_rev)
    head_commit = resolve(root, head_rev or "HEAD")
    head_arg = [head_commit] if head_rev else []
    params_diff = dvc_json(root, "params", "diff", base_commit, *head_arg)
    metrics_diff = upgrade_metrics_diff(dvc_json(root, "metrics", "diff", base_commit, *head_arg, "--all"))
    head_at = head_commit if head_rev else None
    head_params = yaml.safe_load(read_text_at(root, head_at, "params.yaml") or "{}") or {}
    if gate_path is not None and not head_rev:
        gate = json.loads(gate_path.read_text(encoding="utf-8")) if gate_path.is_file() else None
    else:
        gate = read_json_at(root, head_at, "reports/gate.json")
    plots = {
        side: {name: table for name in PLOTS if (table := read_table_at(root, rev, f"reports/plots/{name}.csv"))}
        for side, rev in (("base", base_commit), ("head", head_at))
    }
    experiment = head_params.get("tracking", {}).get("experiment", TrackingParams.model_fields["experiment"].default)
    return {
        "base": {"rev": base_rev, "commit": base_commit},
        "head": {"rev": head_rev or WORKSPACE, "commit": head_commit},
        "params_diff": params_diff,
        "metrics_diff": metrics_diff,
        "slices": {
            "base": read_json_at(root, base_commit, "reports/slices.json"),
            "head": read_json_at(root, head_at, "reports/slices.json"),
        },
        "data": {"base": data_side(root, base_commit), "head": data_side(root, head_at) or {}},
        "gate": gate,
        "mlflow_run_url": mlflow_run_url(head_commit, experiment),
        "plots": plots,
        "calibration_bins": head_params.get("evaluate", {}).get("calibration_bins", 10),
        "words": task_words(),
    }
