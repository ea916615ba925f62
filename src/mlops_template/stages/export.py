"""Stage `export`: the trained pipeline as the artifact the API serves, proven equal to it.

Writes `models/served/` (model.onnx, contract.json, served.json with sha256 hashes) and
`reports/export.json`, a DVC metric with the largest probability difference between scikit-learn and
the exported graph over every validation and test row. Above `PARITY_TOLERANCE` the stage fails and
the last good artifact stays in place.
"""

from __future__ import annotations

import argparse
import logging
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_template.core import io
from mlops_template.core.config import Params
from mlops_template.data import schema
from mlops_template.data.contract import export_contract
from mlops_template.data.splits import HELD_OUT, read_split
from mlops_template.model import artifact
from mlops_template.model.estimator import ModelBundle, load_bundle
from mlops_template.model.onnx_export import (
    OPSET,
    PARITY_TOLERANCE,
    ExportError,
    build_onnx,
    graph_input_columns,
    graph_inputs,
)
from mlops_template.stages import stage_main

logger = logging.getLogger("mlops_template.stages.export")  # not __main__ under python -m

PARITY_SPLITS = HELD_OUT  # every row the threshold and the metrics are measured on


def reference_values(train: pd.DataFrame) -> dict[str, Any]:
    """Each input's training reference: median number, most frequent category, median time (to the second)."""
    found: dict[str, Any] = {}
    for column in graph_input_columns():
        values = train[column.name].dropna()
        if values.empty:
            msg = f"ingest: input column {column.name!r} has no value in the training split"
            raise ExportError(msg)
        if column.kind == "numeric":
            found[column.name] = float(np.median(values.to_numpy(dtype=np.float64)))
        elif column.kind == "categorical":
            counts = values.astype(str).value_counts()
            found[column.name] = sorted(counts[counts == counts.max()].index)[0]
        else:
            seconds = pd.to_datetime(values, utc=True).dt.as_unit("ns").astype("int64") // 1_000_000_000
            median = pd.Timestamp(int(np.median(seconds.to_numpy())), unit="s", tz="UTC")
            found[column.name] = median.isoformat()
    return found


def parity(bundle: ModelBundle, served: artifact.ServedModel, rows: pd.DataFrame) -> dict[str, Any]:
    """The largest |scikit-learn - served| probability over `rows`, and where it is."""
    expected = bundle.predict_proba(rows)
    found = served.predict_columns(graph_inputs(rows))
    difference = np.abs(expected - found)
    worst = int(np.argmax(difference)) if len(difference) else 0
    return {
        "max_abs_diff": float(difference.max()) if len(difference) else 0.0,
        "rows": len(rows),
        "tolerance": PARITY_TOLERANCE,
        "worst_row_id": str(rows[schema.ID].iloc[worst]) if len(rows) else None,
    }


def metadata(bundle: ModelBundle, params: Params, hashes: dict[str, str], reference: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": artifact.FORMAT,
        "version": artifact.artifact_version(hashes),
        "files": hashes,
        "runtime": {"onnx_opset": OPSET, "onnx": version("onnx"), "exported_with": "mlops_template.model.onnx_export"},
        "threshold": bundle.threshold,
        "threshold_rule": bundle.threshold_rule,
        "model_kind": params.train.model.kind,
        "calibration": params.train.calibration.method,
        "train_prevalence": bundle.train_prevalence,
        "trained_weeks": list(bundle.trained_weeks),
        "validation": bundle.validation,
        "inputs": [{"name": c.name, "kind": c.kind} for c in graph_input_columns()],
        "reference": reference,
        "explain_method": artifact.ServedModel.EXPLAIN_METHOD,
    }


def export(
    params: Params, bundle: ModelBundle, splits: dict[str, pd.DataFrame], out_dir: Path
) -> tuple[artifact.ServedModel, dict[str, Any]]:
    """Write the artifact into `out_dir` (a fresh directory), load it back, measure parity."""
    model_bytes = build_onnx(bundle.pipeline).SerializeToString(deterministic=True)
    contract_text = io.to_json(export_contract())
    (out_dir / artifact.MODEL).write_bytes(model_bytes)
    (out_dir / artifact.CONTRACT).write_text(contract_text, encoding="utf-8")
    hashes = {
        artifact.MODEL: artifact.sha256_file(out_dir / artifact.MODEL),
        artifact.CONTRACT: artifact.sha256_file(out_dir / artifact.CONTRACT),
    }
    found = metadata(bundle, params, hashes, reference_values(splits["train"]))
    (out_dir / artifact.METADATA).write_text(io.to_json(found), encoding="utf-8")
    served = artifact.ServedModel.load(out_dir)
    rows = pd.concat([splits[name] for name in PARITY_SPLITS], ignore_index=True)
    measured = parity(bundle, served, rows)
    report = {"parity": measured, "version": served.version, "model_bytes": len(model_bytes)}
    if measured["max_abs_diff"] > PARITY_TOLERANCE:
        msg = (
            f"exported model differs from the trained one by {measured['max_abs_diff']:.3g} "
            f"(row {measured['worst_row_id']}; rule: at most {PARITY_TOLERANCE} on every evaluation row); "
            "the previous artifact is kept"
        )
        raise ExportError(msg)
    return served, report


def run(params: Params, model_path: Path, ingest_dir: Path, out_dir: Path, report_path: Path) -> dict[str, Any]:
    bundle = load_bundle(model_path)
    splits = {name: read_split(ingest_dir / f"{name}.parquet") for name in ("train", *PARITY_SPLITS)}
    with io.atomic_dir(out_dir) as temporary:
        served, report = export(params, bundle, splits, temporary)
    io.write_json(report_path, report)
    logger.info(
        "exported version %s (%d bytes): max |sklearn - served| %.3g over %d rows",
        served.version,
        report["model_bytes"],
        report["parity"]["max_abs_diff"],
        report["parity"]["rows"],
    )
    return report


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=Path("models/model.joblib"))
    parser.add_argument("--ingest", type=Path, default=Path("artifacts/ingest"))
    parser.add_argument("--out", type=Path, default=Path("models/served"))
    parser.add_argument("--report", type=Path, default=Path("reports/export.json"))


def main(argv: list[str] | None = None) -> int:
    return stage_main("export", argv, _arguments, lambda p, a: run(p, a.model, a.ingest, a.out, a.report))


if __name__ == "__main__":
    raise SystemExit(main())
