"""Every compared model's probabilities for the same rows, each from its served artifact.

What is measured is what is served: a model is scored by `model/scoring.py` through the artifact the
API would load (hashes checked), at the threshold in its own `served.json`. The baseline (the prior)
scores every row at the training split's positive rate and, like `evaluate`'s baseline, flags no row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlops_template.data import schema
from mlops_template.experiments.compare.refs import RefError, Resolved
from mlops_template.model.artifact import ServedModel
from mlops_template.model.scoring import served_scores

PRIOR_DIGITS = 6  # as train rounds the training prevalence it records


@dataclass(frozen=True)
class Scored:
    """One model's probabilities for the compared rows, with what names it."""

    ref: str
    kind: str
    source: str
    version: str
    threshold: float | None  # None: the baseline, which flags no row
    scores: np.ndarray

    @property
    def flagged(self) -> np.ndarray:
        return self.scores >= (math.inf if self.threshold is None else self.threshold)

    @property
    def cut(self) -> float:
        """The threshold as a number (above every probability for the baseline)."""
        return math.inf if self.threshold is None else self.threshold


def prior(train: pd.DataFrame) -> float:
    """The training split's positive rate: the baseline's probability for every row."""
    return round(float(train[schema.LABEL].astype("int64").mean()), PRIOR_DIGITS)


def score(resolved: Resolved, rows: pd.DataFrame, prior_rate: float) -> Scored:
    """`resolved`'s probabilities for `rows` (contract rows, as ingest writes them)."""
    if resolved.directory is None:
        scores = np.full(len(rows), prior_rate, dtype=np.float64)
        return Scored(resolved.ref, resolved.kind, resolved.source, f"prior {prior_rate}", None, scores)
    served = ServedModel.load(resolved.directory)
    try:
        scores = served_scores(served, rows)
    except KeyError as exc:  # a model of another contract: an input the rows do not have
        have = sorted(spec.name for spec in served.inputs)
        msg = f"REF {resolved.ref!r}: the model takes the input {exc.args[0]!r}, which the contract in use lacks "
        msg += f"(a model of another contract; its inputs: {have})"
        raise RefError(msg) from None
    return Scored(resolved.ref, resolved.kind, resolved.source, served.version, served.threshold, scores)
