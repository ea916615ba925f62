"""A window of the prediction log built in process: what the API would have logged for rows it scored.

For the monitor's tests and its benchmark (benchmarks/bench_monitor.py), which judge simulated weeks
without running the API. A row is what the API records (monitoring/logsource.py reads it back in
this shape): the request's inputs, the served artifact's probability and decision, and the feedback
label once it has arrived. Labels arrive late, as chargebacks do: each after a delay drawn uniformly
from LABEL_DELAY_DAYS; a window judged at time `now` holds only the labels that arrived before `now`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops_template.data import schema
from mlops_template.model.artifact import ServedModel

LABEL_DELAY_DAYS = (2.0, 12.0)


def log_frame(
    rows: pd.DataFrame,
    scores: np.ndarray,
    served: ServedModel,
    *,
    seed: int,
    now: pd.Timestamp | None = None,
    version: str | None = None,
) -> pd.DataFrame:
    """Contract rows (with their label) as the log's window: labels that arrived before `now` only."""
    rng = np.random.default_rng(seed)
    stamps = pd.to_datetime(rows[schema.TIMESTAMP], utc=True)
    delay = pd.to_timedelta(rng.uniform(*LABEL_DELAY_DAYS, len(rows)), unit="D")
    label_ts = stamps + delay
    arrived = np.ones(len(rows), dtype=bool) if now is None else (label_ts < now).to_numpy()
    frame = pd.DataFrame(
        {
            "request_id": rows[schema.ID].astype(str).to_numpy(),
            "ts": stamps.to_numpy(),
            "model_version": version or served.version,
        }
    )
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    for name in schema.COLUMNS:
        if name not in (schema.ID, schema.LABEL):
            frame[name] = rows[name].to_numpy()
    frame["probability"] = scores.astype(np.float64)
    frame["prediction"] = (scores >= served.threshold).astype(np.int64)
    frame["latency_ms"] = 1.0
    labels = rows[schema.LABEL].astype("Int64").where(arrived).to_numpy()  # <NA> until it has arrived
    frame["label"] = pd.array(labels, dtype="Int64")
    frame["label_ts"] = pd.Series(label_ts.to_numpy()).where(arrived)
    frame["label_ts"] = pd.to_datetime(frame["label_ts"], utc=True)
    return frame
