"""ROC AUC with its standard error: the monitor's measure of ranking quality, which a base rate does not move.

Average precision mixes ranking with the base rate (at a 14% base rate a model ranks as well as at
32% and scores a lower AP), so the monitor judges performance by ROC AUC and recall at the
threshold, both conditional on the label. The standard error is Hanley & McNeil's (1982), enough for
the one-sided test against the reference (no bootstrap: it runs on every reference week too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Auc:
    value: float
    standard_error: float
    positives: int
    negatives: int


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> Auc | None:
    """The area under the ROC curve (ties count half) and its standard error; None without both classes."""
    labels = np.asarray(labels, dtype=np.int64)
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = stats.rankdata(np.asarray(scores, dtype=np.float64))
    area = float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))
    q1, q2 = area / (2 - area), 2 * area * area / (1 + area)
    variance = (area * (1 - area) + (positives - 1) * (q1 - area * area) + (negatives - 1) * (q2 - area * area)) / (
        positives * negatives
    )
    return Auc(area, math.sqrt(max(variance, 0.0)), positives, negatives)


def drop_p_value(reference: Auc, live: Auc) -> float:
    """One-sided p-value that the live AUC is below the reference's (independent samples, normal)."""
    spread = math.hypot(reference.standard_error, live.standard_error)
    drop = reference.value - live.value
    if spread == 0:
        return 0.0 if drop > 0 else 1.0
    return float(stats.norm.sf(drop / spread))
