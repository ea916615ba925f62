"""The model card: what the model is, what it was trained on, how good it is, where it fails.

Everything in it is a pure function of the pipeline's inputs, so a fresh clone reproduces it byte
for byte (and `dvc.lock` stays unchanged). The code version is the git commit that carries the
card; run-specific facts (MLflow run id, the commit at training time) are added to the copy logged
to MLflow.
"""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

from mlops_template.core.config import Params
from mlops_template.data import schema
from mlops_template.model.artifact import ServedModel

LIBRARIES = ("mlops-template", "scikit-learn", "pandas", "numpy", "pandera", "pyarrow", "joblib", "onnx", "onnxruntime")


def data_version(data_dvc: Path) -> dict[str, Any]:
    """The data version DVC recorded for `data/`: its md5, size and file count."""
    if not data_dvc.is_file():
        return {"md5": None, "note": f"{data_dvc.name} not found"}
    out = yaml.safe_load(data_dvc.read_text(encoding="utf-8"))["outs"][0]
    return {"md5": out.get("md5"), "size": out.get("size"), "files": out.get("nfiles"), "path": out.get("path")}


def library_versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def contract_summary() -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "dtype": str(column.dtype),
            "nullable": bool(column.nullable),
            "unique": bool(column.unique),
            "checks": [str(check.error or check.name) for check in column.checks],
        }
        for name, column in schema.CONTRACT.columns.items()
    ]


def build(
    params: Params,
    served: ServedModel,
    *,
    metrics: dict[str, Any],
    slices: dict[str, Any],
    weeks: dict[str, list[str]],
    fairness: dict[str, Any] | None = None,
    quality: dict[str, Any],
    data: dict[str, Any],
) -> dict[str, Any]:
    return {
        "model": {
            "name": params.tracking.registered_model,
            "estimator": params.train.model.model_dump(),
            "calibration": params.train.calibration.model_dump(),
            "threshold": served.threshold,
            "threshold_rule": params.train.threshold.model_dump(),
            "inputs": "raw rows of the data contract (see schema)",
            "output": f"calibrated probability that the {schema.ROW_NOUN} is {schema.POSITIVE_CLASS}",
        },
        "served": {
            "version": served.version,
            "format": "ONNX (float64 features and trees), run by onnxruntime; evaluated as served",
            "files": served.metadata["files"],
            "explain_method": served.EXPLAIN_METHOD,
        },
        "task": {
            "row": schema.ROW_NOUN,
            "label": schema.LABEL,
            "positive_class": schema.POSITIVE_CLASS,
            "negative_class": schema.NEGATIVE_CLASS,
        },
        "intended_use": schema.INTENDED_USE,
        "limitations": list(schema.LIMITATIONS),
        "data": {"version": data, "weeks": weeks, "quality": quality},
        "metrics": metrics,
        "slices": slices,
        "fairness": fairness,
        "validation": served.metadata["validation"],
        "params": params.model_dump(mode="json"),
        "schema": contract_summary(),
        "environment": library_versions(),
        "code_version": "the git commit that contains this card: git log -1 --format=%H -- reports/model_card.json",
        "audit": (
            "every training, gate decision, deployment and rollback of this model, append-only (audit.jsonl on the "
            f"`audit` branch): git fetch origin audit && mlops-template audit show {served.version}"
        ),
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _ci(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "n/a"
    return f"{entry['value']:.4f} [{entry['low']:.4f}, {entry['high']:.4f}]"


GAP_WORDS = {
    "recall": "recall gap",
    "false_positive_rate": "false positive rate gap",
    "equalized_odds": "equalized odds difference",
    "flagged_share_ratio": "flagged-share ratio (1 is parity)",
}


def fairness_lines(audit: dict[str, Any] | None, positive: str) -> list[str]:
    """The fairness section: per grouping, each group's rates at the threshold and the largest gaps."""
    if not audit or not audit.get("groupings"):
        return ["", "## Fairness", "", "No groups declared (params.yaml `evaluate.fairness.groups`)."]
    rules = audit["rules"]
    lines = [
        "",
        "## Fairness (at the threshold)",
        "",
        (
            f"Groups from params.yaml `evaluate.fairness`, {rules['confidence']:.0%} bootstrap intervals "
            f"({rules['resamples']} resamples). A group with fewer than {rules['min_rows']} rows or "
            f"{rules['min_positives']} {positive} rows is too small to judge, and is left out of the gaps."
        ),
    ]
    for column, found in audit["groupings"].items():
        lines += [
            "",
            f"### {column}",
            "",
            f"| group | rows | {positive} | false positive rate | recall | flagged share | precision |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, group in found["groups"].items():
            counts = f"| {name} | {group['rows']['value']} | {group['positives']['value']} "
            if group["too_small"]:
                lines.append(counts + f"| {group['too_small']} | | | |")
            else:
                cells = (_ci(group[m]) for m in ("false_positive_rate", "recall", "flagged_share", "precision"))
                lines.append(counts + "| " + " | ".join(cells) + " |")
        lines.append("")
        for metric, gap in found["gaps"].items():
            if gap["value"] is None:
                lines.append(f"- {GAP_WORDS[metric]}: not measured ({gap['reason']})")
            else:
                pair = (
                    (gap["lowest"], gap["highest"])
                    if metric == "flagged_share_ratio"
                    else (gap["highest"], gap["lowest"])
                )
                between = f"{pair[0]} {'/' if metric == 'flagged_share_ratio' else 'minus'} {pair[1]}"
                lines.append(f"- {GAP_WORDS[metric]}: {_ci(gap)} ({between})")
    return lines


def render_markdown(card: dict[str, Any]) -> str:
    """The card for people: the numbers that matter first, everything else after."""
    model, metrics, data = card["model"], card["metrics"], card["data"]
    positive = card["task"]["positive_class"]
    names = ("roc_auc", "average_precision", "precision", "recall", "f1", "brier", "calibration_error")
    lines = [
        f"# Model card: {model['name']}",
        "",
        (
            f"**Estimator:** {model['estimator']['kind']} with {model['calibration']['method']} calibration "
            f"({model['calibration']['folds']} folds). **Threshold:** {model['threshold']:.4f} "
            f"(rule `{model['threshold_rule']['rule']}`)."
        ),
        "",
        (
            f"**Served artifact:** version `{card['served']['version']}` (ONNX, evaluated exactly as the API "
            f"serves it). **Explanations:** {card['served']['explain_method']}."
        ),
        "",
        f"**Intended use.** {card['intended_use']}",
        "",
        "## Test metrics (latest week)",
        "",
        "| metric | model | baseline (prior) |",
        "| --- | ---: | ---: |",
        *(f"| {n} | {_fmt(metrics['model'][n])} | {_fmt(metrics['baseline'][n])} |" for n in names),
        "",
        f"Test rows: {metrics['test']['rows']}, of which {positive}: {metrics['test']['positives']}.",
        "",
        "## Slices",
        "",
        f"| slice | value | rows | {positive} | average precision | recall |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for column, values in card["slices"].items():
        lines.extend(
            f"| {column} | {value} | {m['rows']} | {m['positives']} "
            f"| {_fmt(m['average_precision'])} | {_fmt(m['recall'])} |"
            for value, m in values.items()
        )
    lines += fairness_lines(card.get("fairness"), positive)
    lines += [
        "",
        "## Data",
        "",
        f"- Version (md5 of `data/` in data.dvc): `{data['version'].get('md5')}`",
        *(f"- {split}: {', '.join(weeks)}" for split, weeks in data["weeks"].items()),
        (
            f"- Rows read {data['quality'].get('rows_read')}, rejected {data['quality'].get('rows_rejected')}, "
            f"duplicates dropped {data['quality'].get('duplicates_dropped')}"
        ),
        "",
        "## Limitations",
        "",
        *(f"- {item}" for item in card["limitations"]),
        "",
        "## Schema",
        "",
        "| column | dtype | nullable | checks |",
        "| --- | --- | --- | --- |",
        *(
            f"| {c['name']} | {c['dtype']} | {'yes' if c['nullable'] else 'no'} | {', '.join(c['checks']) or '-'} |"
            for c in card["schema"]
        ),
        "",
        "## Environment",
        "",
        ", ".join(f"{k} {v}" for k, v in card["environment"].items()),
        "",
        f"Code version: {card['code_version']}.",
        "",
        f"Audit trail: {card['audit']}.",
        "",
    ]
    return "\n".join(lines)
