"""The review queue: which logged predictions a person should label next, and what their labels measure.

Both cover one model version, the one served: another version's predictions measure another model.

The queue takes the newest `QUEUE_WINDOW` predictions of that version that hold no label yet and draws
two random samples from them: one of the ones the model flagged, one of the others. The unflagged sample
is what lets a reviewer's labels measure what the model misses (reviewing flagged predictions alone gives
precision, never recall); the flagged one is random too, not the riskiest first, so that the labelled
flagged predictions stand for all the flagged ones and precision from a partial review is unbiased. At
least a quarter of a queue is unflagged, more when too few are flagged; the flagged ones come first.

The summary treats the labelled predictions as two strata, flagged and not flagged, each labelled at
random within itself (the queue samples both):

- precision: the share of labelled flagged predictions that are positive, with Wilson's interval;
- recall: the flagged count times precision, over that plus the unflagged count times the miss rate
  (the share of labelled unflagged predictions that are positive). Labelling everything gives the plain
  recall; labelling a sample of the unflagged weighs each sampled miss by how many it stands for. Its
  interval puts the two Wilson intervals' ends together (lowest precision with the highest miss rate,
  and the reverse), each at `1 - (1 - confidence) / 2`, so both hold together with at least `confidence`.

Reads only: the log is written by serving/predlog.py. Standard library only (sqlite3, json, random).
"""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import dataclass
from typing import Any

from mlops_template.model.proportions import wilson_interval

QUEUE_WINDOW = 5000  # the newest predictions a queue is drawn from
SAMPLED_SHARE = 0.25  # the least share of a queue drawn at random from the unflagged predictions
CONFIDENCE = 0.95

# The row ids of the newest `window` predictions of `version` without a label and with `decision` (1 flagged,
# 0 not), to sample from without reading their inputs.
_IDS = """SELECT id FROM (SELECT rowid AS id, request_id, label FROM predictions WHERE model_version = :version
        ORDER BY rowid DESC LIMIT :window)
    WHERE request_id NOT IN (SELECT request_id FROM feedback) AND label = :decision"""
_BY_ID = """SELECT request_id, created_at, model_version, inputs, probability, label, threshold
    FROM predictions WHERE rowid = ?"""
_COUNTS = "SELECT label, count(*) FROM predictions WHERE model_version = ? GROUP BY label"
_LABELLED = """SELECT p.label, f.label, count(*) FROM predictions AS p
    JOIN latest_feedback AS f ON f.request_id = p.request_id WHERE p.model_version = ? GROUP BY p.label, f.label"""


@dataclass(frozen=True)
class QueueItem:
    request_id: str
    created_at: str
    model_version: str
    inputs: dict[str, Any]
    probability: float
    flagged: bool
    threshold: float
    why: str  # "flagged" or "sampled"

    def as_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "created_at": self.created_at,
            "model_version": self.model_version,
            "inputs": self.inputs,
            "probability": self.probability,
            "flagged": self.flagged,
            "threshold": self.threshold,
            "why": self.why,
        }


def _item(row: tuple[Any, ...], why: str) -> QueueItem:
    request_id, created_at, version, inputs, probability, label, threshold = row
    return QueueItem(request_id, created_at, version, json.loads(inputs), probability, label == 1, threshold, why)


def _ids(connection: sqlite3.Connection, version: str, window: int, decision: int) -> list[int]:
    arguments = {"version": version, "window": window, "decision": decision}
    return [row_id for (row_id,) in connection.execute(_IDS, arguments)]


def queue(
    connection: sqlite3.Connection, size: int, rng: random.Random, version: str, window: int = QUEUE_WINDOW
) -> list[QueueItem]:
    """Up to `size` unlabelled predictions of `version` among its newest `window`: a random sample of the
    flagged ones first, then a random sample of the others."""
    sampled_at_least = max(1, round(size * SAMPLED_SHARE)) if size > 1 else 0
    flagged, others = _ids(connection, version, window, 1), _ids(connection, version, window, 0)
    n_others = min(len(others), size - min(len(flagged), size - sampled_at_least))
    n_flagged = min(len(flagged), size - n_others)  # too few unflagged ones: more flagged ones fill the queue
    chosen = [(row_id, "flagged") for row_id in rng.sample(flagged, n_flagged)]
    chosen += [(row_id, "sampled") for row_id in rng.sample(others, n_others)]
    return [_item(connection.execute(_BY_ID, (row_id,)).fetchone(), why) for row_id, why in chosen]


@dataclass(frozen=True)
class Share:
    """hits of total, with an interval (None when total is 0)."""

    hits: int
    total: int
    confidence: float

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.hits, self.total, self.confidence)

    def as_json(self) -> dict[str, Any]:
        value = self.value
        interval = list(self.interval) if value is not None else None
        return {"value": value, "interval": interval, "hits": self.hits, "total": self.total}


def _ratio(flagged_positives: float, missed_positives: float) -> float | None:
    total = flagged_positives + missed_positives
    return flagged_positives / total if total > 0 else None


@dataclass(frozen=True)
class ReviewCounts:
    """What the log holds of one model version: predictions by decision, and labelled ones by decision and
    true label."""

    model_version: str
    flagged: int  # predictions the model flagged
    unflagged: int
    labelled: dict[tuple[int, int], int]  # (decision, true label) -> count

    def labelled_of(self, decision: int, truth: int | None = None) -> int:
        return sum(n for (d, t), n in self.labelled.items() if d == decision and truth in (None, t))


def read_counts(connection: sqlite3.Connection, version: str) -> ReviewCounts:
    decisions = dict(connection.execute(_COUNTS, (version,)).fetchall())
    labelled = {(int(d), int(t)): int(n) for d, t, n in connection.execute(_LABELLED, (version,)).fetchall()}
    return ReviewCounts(version, int(decisions.get(1, 0)), int(decisions.get(0, 0)), labelled)


def summary(counts: ReviewCounts, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """Labelled counts, precision and recall (estimates and intervals) from `counts` (see the module doc)."""
    precision = Share(counts.labelled_of(1, 1), counts.labelled_of(1), confidence)
    missed = Share(counts.labelled_of(0, 1), counts.labelled_of(0), confidence)
    recall: dict[str, Any] = {"value": None, "interval": None}
    joint = 1 - (1 - confidence) / 2
    precision_joint, missed_joint = (
        Share(precision.hits, precision.total, joint),
        Share(missed.hits, missed.total, joint),
    )
    # Without a label among the unflagged the misses are unknown, unless nothing was left unflagged.
    known_misses = missed.total > 0 or counts.unflagged == 0
    known_hits = precision.total > 0 or counts.flagged == 0
    if known_misses and known_hits:
        p, m = precision.value or 0.0, missed.value or 0.0
        (p_low, p_high), (m_low, m_high) = precision_joint.interval, missed_joint.interval
        if counts.flagged == 0:
            p_low = p_high = 0.0
        if counts.unflagged == 0:
            m_low = m_high = 0.0
        value = _ratio(counts.flagged * p, counts.unflagged * m)
        low = _ratio(counts.flagged * p_low, counts.unflagged * m_high)
        high = _ratio(counts.flagged * p_high, counts.unflagged * m_low)
        if value is not None:
            recall = {"value": value, "interval": [low or 0.0, 1.0 if high is None else high]}
    return {
        "model_version": counts.model_version,
        "confidence": confidence,
        "predictions": {"flagged": counts.flagged, "unflagged": counts.unflagged},
        "reviewed": precision.total + missed.total,
        "reviewed_flagged": precision.total,
        "reviewed_unflagged": missed.total,
        "precision": precision.as_json(),
        "miss_rate": missed.as_json(),
        "recall": recall,
    }
