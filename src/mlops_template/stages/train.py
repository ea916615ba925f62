"""Stage `train`: fit the calibrated classifier on train features, choose the threshold on valid."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from mlops_template.core import io
from mlops_template.core.config import Params
from mlops_template.core.errors import StageInputError
from mlops_template.data import schema
from mlops_template.model.estimator import ModelBundle, build_classifier, choose_threshold
from mlops_template.model.metrics import classification_metrics
from mlops_template.stages import stage_main

logger = logging.getLogger("mlops_template.stages.train")  # not __main__ under python -m


def _read_features(path: Path) -> pd.DataFrame:
    return io.read_parquet_artifact(path, [schema.LABEL], "featurize")


def _split_xy(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    return frame.drop(columns=[schema.LABEL]), frame[schema.LABEL].to_numpy(dtype=int)


def train(
    params: Params, transformer: Pipeline, train_features: pd.DataFrame, valid_features: pd.DataFrame, weeks: list[str]
) -> ModelBundle:
    """Fit, calibrate, choose the threshold; return the bundle (raw rows in, probability out)."""
    x_train, y_train = _split_xy(train_features)
    if len(np.unique(y_train)) < 2:  # noqa: PLR2004
        msg = "the training split holds one class only; a classifier needs both (add weeks of data)"
        raise StageInputError(msg)
    minority = int(min(y_train.sum(), len(y_train) - y_train.sum()))
    folds = params.train.calibration.folds
    if minority < folds:
        msg = f"train.calibration.folds={folds}: the training split has only {minority} positive row(s)"
        raise StageInputError(msg)
    classifier = build_classifier(params.train, params.base.seed)
    classifier.fit(x_train, y_train)
    x_valid, y_valid = _split_xy(valid_features)
    scores = classifier.predict_proba(x_valid)[:, 1]
    threshold = choose_threshold(y_valid, scores, params.train.threshold)
    found = classification_metrics(y_valid, scores, threshold, bins=10)
    validation = {k: v for k, v in found.items() if v is not None}
    pipeline = Pipeline([("features", transformer), ("classifier", classifier)])
    return ModelBundle(
        pipeline=pipeline,
        threshold=round(threshold, 6),
        threshold_rule=params.train.threshold.rule,
        train_prevalence=round(float(y_train.mean()), 6),
        trained_weeks=tuple(weeks),
        validation=validation,
    )


def run(params: Params, features_dir: Path, weeks_path: Path, model_path: Path) -> ModelBundle:
    transformer = joblib.load(io.require_artifact(features_dir / "transformer.joblib", "featurize"))
    weeks = io.read_json(weeks_path)["train"] if weeks_path.is_file() else []
    bundle = train(
        params,
        transformer,
        _read_features(features_dir / "train.parquet"),
        _read_features(features_dir / "valid.parquet"),
        weeks,
    )
    io.write_joblib(model_path, bundle)
    logger.info(
        "trained %s: threshold %.4f (%s), validation %s",
        params.train.model.kind,
        bundle.threshold,
        bundle.threshold_rule,
        {k: bundle.validation[k] for k in ("average_precision", "precision", "recall") if k in bundle.validation},
    )
    return bundle


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--features", type=Path, default=Path("artifacts/features"))
    parser.add_argument("--weeks", type=Path, default=Path("artifacts/ingest/weeks.json"))
    parser.add_argument("--model", type=Path, default=Path("models/model.joblib"))


def main(argv: list[str] | None = None) -> int:
    return stage_main("train", argv, _arguments, lambda p, a: run(p, a.features, a.weeks, a.model))


if __name__ == "__main__":
    raise SystemExit(main())
