"""The model artifact and the pure pieces of training: estimator choice, threshold rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve
from sklearn.pipeline import Pipeline

from mlops_template.core import io
from mlops_template.core.config import (
    FixedRule,
    HistGradientBoostingParams,
    MaxF1Rule,
    MinCostRule,
    MinPrecisionRule,
    ThresholdRule,
    TrainParams,
)
from mlops_template.core.errors import StageInputError

BOTH_CLASSES = 2


@dataclass(frozen=True)
class ModelBundle:
    """What `train` writes and serving loads: raw rows in, calibrated probability of the positive class out."""

    pipeline: Pipeline  # fitted transformer + calibrated classifier
    threshold: float  # flag a row when probability >= threshold
    threshold_rule: str
    train_prevalence: float
    trained_weeks: tuple[str, ...]
    validation: dict[str, float] = field(default_factory=dict)

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of the positive class for each raw contract row."""
        return np.asarray(self.pipeline.predict_proba(rows)[:, 1], dtype=float)


def load_bundle(path: Path) -> ModelBundle:
    """The model that `train` wrote; a clear error if it is missing or something else."""
    bundle = joblib.load(io.require_artifact(path, "train"))
    if not isinstance(bundle, ModelBundle):
        msg = f"{path}: holds a {type(bundle).__name__}, not a ModelBundle written by train"
        raise StageInputError(msg)
    return bundle


def build_classifier(params: TrainParams, seed: int) -> ClassifierMixin:
    """The estimator named in `train.model`, wrapped for calibrated probabilities."""
    model = params.model
    estimator: ClassifierMixin
    if isinstance(model, HistGradientBoostingParams):
        estimator = HistGradientBoostingClassifier(
            learning_rate=model.learning_rate,
            max_iter=model.max_iter,
            max_leaf_nodes=model.max_leaf_nodes,
            min_samples_leaf=model.min_samples_leaf,
            l2_regularization=model.l2_regularization,
            early_stopping=False,
            random_state=seed,
        )
    else:
        estimator = LogisticRegression(
            C=model.C, max_iter=model.max_iter, class_weight=model.class_weight, random_state=seed
        )
    return CalibratedClassifierCV(estimator, method=params.calibration.method, cv=params.calibration.folds)


def _min_cost_threshold(y_true: np.ndarray, scores: np.ndarray, rule: MinCostRule) -> float:
    """The threshold with the least expected cost; flagging nothing is a candidate too."""
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    positives = y_true.sum()
    true_pos = recall * positives
    predicted_pos = np.divide(true_pos, precision, out=np.zeros_like(true_pos), where=precision > 0)
    cost = rule.false_negative_cost * (positives - true_pos) + rule.false_positive_cost * (predicted_pos - true_pos)
    if rule.false_negative_cost * positives <= cost.min():
        return float(np.nextafter(scores.max(), np.inf))
    return float(thresholds[int(np.argmin(cost))])


def choose_threshold(y_true: np.ndarray, scores: np.ndarray, rule: ThresholdRule) -> float:
    """The decision threshold that `rule` picks on validation labels and scores."""
    if isinstance(rule, FixedRule):
        return rule.value
    if len(np.unique(y_true)) < BOTH_CLASSES:
        msg = "the validation split holds one class only; cannot choose a threshold (add weeks or use rule: fixed)"
        raise StageInputError(msg)
    if isinstance(rule, MinCostRule):
        return _min_cost_threshold(y_true, scores, rule)
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    if isinstance(rule, MaxF1Rule):
        f1 = np.divide(
            2 * precision * recall, precision + recall, out=np.zeros_like(precision), where=precision + recall > 0
        )
        return float(thresholds[int(np.argmax(f1))])
    if isinstance(rule, MinPrecisionRule):
        reachable = np.flatnonzero(precision >= rule.target)
        if reachable.size == 0:
            msg = (
                f"train.threshold.target={rule.target}: no threshold reaches that precision on the "
                f"validation split (best {precision.max():.3f})"
            )
            raise StageInputError(msg)
        return float(thresholds[reachable[np.argmax(recall[reachable])]])
    # MinRecallRule: the highest threshold that still catches the target share of positives.
    reachable = np.flatnonzero(recall >= rule.target)
    return float(thresholds[reachable[np.argmax(thresholds[reachable])]])
