"""What one trial measures: the walk-forward average precision of its model params.

The same features and calibration as the pipeline: each fold fits `featurize`'s transformer
(`model/features.py`) on its training weeks only, and `train`'s calibrated classifier
(`model/estimator.py`) on their features. The featurize params are not searched, so each fold's
features are computed once per process and shared by every trial. Each fold's score is reported
to the pruner as it comes, earliest fold first (the cheapest), so a bad trial stops after one fold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.metrics import average_precision_score

from mlops_template.core.config import Params, TrainParams
from mlops_template.data import schema
from mlops_template.experiments.folds import Fold
from mlops_template.experiments.search_space import BASELINE, suggest_model
from mlops_template.model.estimator import build_classifier
from mlops_template.model.features import build_transformer

logger = logging.getLogger(__name__)

MODEL = "model"  # user attribute: the model params a trial ran with, as train.model would hold them
WORKER = "worker"  # user attribute: which process runs the trial (for resuming after a kill)


@dataclass(frozen=True)
class FoldFeatures:
    """One fold as the classifier sees it: features of its training weeks and of its measured week."""

    step: int
    week: str
    x_train: pd.DataFrame
    y_train: np.ndarray
    x_measured: pd.DataFrame
    y_measured: np.ndarray


def _labels(frame: pd.DataFrame) -> np.ndarray:
    return frame[schema.LABEL].to_numpy(dtype=int)


def featurize_fold(params: Params, fold: Fold) -> FoldFeatures:
    """Fit the transformer on the fold's training weeks only (as `featurize` fits on train), apply it to both."""
    transformer = build_transformer(params.featurize)
    transformer.fit(fold.train)
    return FoldFeatures(
        step=fold.step,
        week=fold.week,
        x_train=transformer.transform(fold.train),
        y_train=_labels(fold.train),
        x_measured=transformer.transform(fold.measured),
        y_measured=_labels(fold.measured),
    )


def fold_score(train: TrainParams, seed: int, fold: FoldFeatures) -> float:
    """Average precision on the fold's week of the calibrated classifier fitted on the weeks before it."""
    classifier = build_classifier(train, seed)
    classifier.fit(fold.x_train, fold.y_train)
    scores = classifier.predict_proba(fold.x_measured)[:, 1]
    return float(average_precision_score(fold.y_measured, scores))


class Objective:
    """Optuna's objective: the mean of the fold scores, each reported to the pruner as it comes."""

    def __init__(self, params: Params, folds: list[FoldFeatures], worker: dict[str, Any] | None = None) -> None:
        self.params = params
        self.folds = folds
        self.worker = worker

    def __call__(self, trial: optuna.Trial) -> float:
        if self.worker is not None:
            trial.set_user_attr(WORKER, self.worker)
        model = suggest_model(trial, self.params.tune, self.params.train.model)
        trial.set_user_attr(MODEL, model.model_dump(mode="json"))
        train = self.params.train.model_copy(update={"model": model})
        # Today's params are never pruned: every other trial is compared with their full score.
        prunable = not trial.user_attrs.get(BASELINE, False)
        scores = []
        for fold in self.folds:
            score = fold_score(train, self.params.base.seed, fold)
            scores.append(score)
            trial.report(score, fold.step)
            last = fold.step == self.folds[-1].step
            if prunable and not last and trial.should_prune():
                msg = f"fold {fold.step + 1} ({fold.week}): average precision {score:.4f}, below the median there"
                raise optuna.TrialPruned(msg)
        return float(np.mean(scores))
