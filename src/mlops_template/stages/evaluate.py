"""Stage `evaluate`: test metrics against a baseline, slices, the fairness audit, DVC plots and the model card."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import average_precision_score

from mlops_template.core import io
from mlops_template.core.config import EvaluateParams, Params
from mlops_template.core.errors import StageInputError
from mlops_template.core.params_check import fairness_problems, slice_problems
from mlops_template.data import schema
from mlops_template.data.splits import read_split
from mlops_template.model import fairness, model_card
from mlops_template.model.artifact import ServedModel
from mlops_template.model.features import INPUT_COLUMNS
from mlops_template.model.metrics import (
    DIGITS,
    calibration_points,
    classification_metrics,
    precision_recall_points,
    roc_points,
    slice_metrics,
)
from mlops_template.model.scoring import served_scores
from mlops_template.stages import stage_main

logger = logging.getLogger("mlops_template.stages.evaluate")  # not __main__ under python -m


class _Fitted:
    """The served model as scikit-learn's permutation_importance expects an estimator (already fitted)."""

    def __init__(self, served: ServedModel) -> None:
        self.served = served

    def fit(self, *_: object) -> _Fitted:
        return self


def _served_average_precision(estimator: _Fitted, rows: pd.DataFrame, labels: np.ndarray) -> float:
    return float(average_precision_score(labels, served_scores(estimator.served, rows)))


def feature_importance(served: ServedModel, test: pd.DataFrame, params: EvaluateParams, seed: int) -> pd.DataFrame:
    """Permutation importance of each raw input column for average precision, on a test sample."""
    sample = test.sample(n=min(len(test), params.importance_max_rows), random_state=seed)
    found = permutation_importance(
        _Fitted(served),
        sample[list(INPUT_COLUMNS)],
        sample[schema.LABEL].to_numpy(dtype=int),
        scoring=_served_average_precision,
        n_repeats=params.importance_repeats,
        random_state=seed,
    )
    frame = pd.DataFrame(
        {"feature": list(INPUT_COLUMNS), "importance": found.importances_mean, "std": found.importances_std}
    )
    return frame.sort_values(["importance", "feature"], ascending=[False, True]).round(DIGITS).reset_index(drop=True)


def evaluate(
    params: Params, served: ServedModel, test: pd.DataFrame
) -> tuple[dict[str, Any], dict[str, Any], dict[str, pd.DataFrame]]:
    """Metrics (served model and prior baseline), slice metrics and plot tables for the test split."""
    settings = params.evaluate
    y = test[schema.LABEL].to_numpy(dtype=int)
    scores = served_scores(served, test)
    baseline = np.full(len(y), float(served.metadata["train_prevalence"]))
    threshold = served.threshold
    metrics = {
        "model": classification_metrics(y, scores, threshold, settings.calibration_bins),
        "baseline": classification_metrics(y, baseline, threshold, settings.calibration_bins),
        "threshold": threshold,
        "model_version": served.version,
        "test": {"rows": len(y), "positives": int(y.sum())},
    }
    mistakes = slice_problems(settings.slices, schema.active())  # the words of `params check`
    if mistakes:
        raise StageInputError("\n".join(mistakes))
    slices = slice_metrics(
        test[list(settings.slices)],
        y,
        scores,
        threshold=threshold,
        bins=settings.calibration_bins,
        min_rows=settings.min_slice_rows,
    )
    # The confusion matrix speaks the task's words (the contract's class names), not 0 and 1.
    classes = np.array([schema.NEGATIVE_CLASS, schema.POSITIVE_CLASS])
    plots = {
        "roc": roc_points(y, scores, settings.curve_points),
        "precision_recall": precision_recall_points(y, scores, settings.curve_points),
        "calibration": calibration_points(y, scores, settings.calibration_bins),
        "confusion": pd.DataFrame({"actual": classes[y], "predicted": classes[(scores >= threshold).astype(int)]}),
        "feature_importance": feature_importance(served, test, settings, params.base.seed),
    }
    return metrics, slices, plots


def fairness_audit(params: Params, served: ServedModel, test: pd.DataFrame) -> dict[str, Any]:
    """The fairness audit of the served model at its threshold (reports/fairness.json): the groups of
    `evaluate.fairness`, each group's rates with intervals, and the largest gaps."""
    settings = params.evaluate.fairness
    mistakes = fairness_problems(settings, schema.active())  # the words of `params check`
    if mistakes:
        raise StageInputError("\n".join(mistakes))
    labels = test[schema.LABEL].to_numpy(dtype=int)
    flagged = served_scores(served, test) >= served.threshold
    found = fairness.audit(
        labels,
        {"model": flagged},
        fairness.groupings(test, settings.groups),
        settings,
        seed=params.base.seed,
        positive=schema.POSITIVE_CLASS,
    )
    return {"threshold": served.threshold, "model_version": served.version, **found.as_json("model")}


def run(
    params: Params, *, served_dir: Path, ingest_dir: Path, data_dvc: Path, quality_path: Path, reports_dir: Path
) -> dict[str, Any]:
    served = ServedModel.load(served_dir)
    test = read_split(ingest_dir / "test.parquet")
    metrics, slices, plots = evaluate(params, served, test)
    audited = fairness_audit(params, served, test)
    weeks = io.read_json(ingest_dir / "weeks.json")
    quality = io.read_json(quality_path) if quality_path.is_file() else {}
    card = model_card.build(
        params,
        served,
        metrics=metrics,
        slices=slices,
        fairness=audited,
        weeks=weeks,
        quality=quality,
        data=model_card.data_version(data_dvc),
    )
    markdown = model_card.render_markdown(card)
    io.write_json(reports_dir / "metrics.json", metrics)
    io.write_json(reports_dir / "slices.json", slices)
    io.write_json(reports_dir / "fairness.json", audited)
    for name, frame in plots.items():
        io.write_csv(reports_dir / "plots" / f"{name}.csv", frame)
    io.write_json(reports_dir / "model_card.json", card)
    io.write_text(reports_dir / "model_card.md", markdown)
    model = metrics["model"]
    logger.info(
        "test: roc_auc=%s average_precision=%s precision=%s recall=%s (baseline average_precision=%s)",
        model["roc_auc"],
        model["average_precision"],
        model["precision"],
        model["recall"],
        metrics["baseline"]["average_precision"],
    )
    return metrics


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--served", type=Path, default=Path("models/served"))
    parser.add_argument("--ingest", type=Path, default=Path("artifacts/ingest"))
    parser.add_argument("--data-dvc", type=Path, default=Path("data.dvc"))
    parser.add_argument("--quality", type=Path, default=Path("reports/data_quality.json"))
    parser.add_argument("--reports", type=Path, default=Path("reports"))


def main(argv: list[str] | None = None) -> int:
    return stage_main(
        "evaluate",
        argv,
        _arguments,
        lambda p, a: run(
            p,
            served_dir=a.served,
            ingest_dir=a.ingest,
            data_dvc=a.data_dvc,
            quality_path=a.quality,
            reports_dir=a.reports,
        ),
    )


if __name__ == "__main__":
    raise SystemExit(main())
