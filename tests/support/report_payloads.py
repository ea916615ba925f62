"""The PR report's inputs as the report command gathers them (git, DVC), built from plain dicts.

`revision` is what `sources` hands `render.render`: the base and head metrics and slices, the
params diff, the data versions, the gate's verdict and the plots, each settable by a test.
"""

from __future__ import annotations

from typing import Any

from mlops_template.release.pr_report import sources


def metrics(ap: float = 0.45, recall: float = 0.44, brier: float = 0.0129) -> dict[str, Any]:
    model = {"roc_auc": 0.86, "average_precision": ap, "precision": 0.53, "recall": recall, "f1": 0.48}
    model |= {"brier": brier, "calibration_error": 0.0028}
    return {"model": model, "threshold": 0.205, "test": {"rows": 4996, "positives": 91}}


def flatten(payload: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in payload.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def metrics_diff(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """What `dvc metrics diff --all --json` says for reports/metrics.json."""
    before, after = flatten(old or {}), flatten(new)
    return {"reports/metrics.json": {key: {"old": before.get(key), "new": value} for key, value in after.items()}}


def slices(atm_recall: float = 0.25) -> dict[str, Any]:
    atm = {
        "average_precision": 0.40,
        "positives": 4,
        "precision": 0.2,
        "recall": atm_recall,
        "roc_auc": 0.87,
        "rows": 409,
    }
    pos = {"average_precision": 0.34, "positives": 36, "precision": 0.53, "recall": 0.25, "roc_auc": 0.80, "rows": 3041}
    return {"channel": {"atm": atm, "pos": pos}}


def plots(shift: float = 0.0) -> dict[str, dict[str, list[Any]]]:
    fpr = [i / 199 for i in range(200)]
    return {
        "roc": {"fpr": fpr, "tpr": [min(1.0, (x + shift) ** 0.3) for x in fpr], "threshold": fpr},
        "precision_recall": {"recall": fpr[::-1], "precision": [0.02 + 0.6 * x for x in fpr], "threshold": fpr},
        "calibration": {
            "bin": [0.0, 1.0, 3.0],
            "mean_predicted": [0.01, 0.14, 0.35],
            "fraction_positive": [0.01, 0.12, 0.37],
        },
        "feature_importance": {
            "feature": ["amount", "txn_count_24h"],
            "importance": [0.1 + shift, 0.39],
            "std": [0, 0],
        },
    }


def gate(decision: str = "pass", diff: float = 0.02, champion: bool = True) -> dict[str, Any]:
    interval = {"value": 0.45, "low": 0.34, "high": 0.54}
    side = {"version": "a581636cccd4", "threshold": 0.2, "metrics": {"average_precision": interval, "recall": interval}}
    change = {"value": diff, "low": diff - 0.015, "high": diff + 0.015}
    rule = {"floor": 0.2, "max_regression": 0.03, "min_gain": 0.005}
    return {
        "decision": decision,
        "reason": "the reason" if decision == "pass" else "average_precision may have regressed by more than 0.0300",
        "rows": 4996,
        "weeks": ["2026-W46"],
        "candidate": side,
        "champion": side if champion else None,
        "difference": {"average_precision": change, "recall": change} if champion else None,
        "rules": {"average_precision": rule, "recall": rule, "require_gain": False},
        "bootstrap": {"resamples": 1000, "confidence": 0.95, "seed": 42, "replicates_used": 1000},
    }


def revision(
    base_metrics: dict[str, Any] | None,
    head_metrics: dict[str, Any],
    *,
    params_diff: dict[str, Any] | None = None,
    base_slices: dict[str, Any] | None = None,
    head_slices: dict[str, Any] | None = None,
    gate_json: dict[str, Any] | None = None,
    first: bool = False,
) -> dict[str, Any]:
    data = {"md5": "466db64d.dir", "quality": {"train_rows": 49964, "valid_rows": 4998, "test_rows": 4996}}
    return {
        "base": {"rev": "origin/main", "commit": "1" * 40},
        "head": {"rev": "workspace", "commit": "2" * 40},
        "params_diff": params_diff or {},
        "metrics_diff": metrics_diff(base_metrics, head_metrics),
        "slices": {"base": None if first else (base_slices or slices()), "head": head_slices or slices()},
        "data": {"base": None if first else data, "head": data},
        "gate": gate_json,
        "mlflow_run_url": None,
        "plots": {"base": None if first else plots(), "head": plots(0.01)},
        "calibration_bins": 10,
        "words": sources.task_words(),
    }
