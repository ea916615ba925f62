"""Feature transformations: pure functions and the sklearn transformer fitted by `featurize`.

The fitted transformer is the first step of the model artifact, so serving applies exactly the
transformations that training did, to raw contract rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from mlops_template.config import FeaturizeParams
from mlops_template.data import schema

TIME_FEATURES = ("hour_sin", "hour_cos", "is_night", "is_weekend")
NIGHT_ENDS_HOUR = 6
SATURDAY = 5
MINUTES_PER_DAY = 1440


def _minute_of_day_table() -> np.ndarray:
    """(hour_sin, hour_cos, is_night) for each minute of the day: [1440, 3].

    A table, not sin/cos at run time: the served ONNX graph looks the same rows up, so training and
    serving get bit-identical features (two sin implementations can differ in the last bit, and a tree
    threshold can sit exactly on a training value).
    """
    minute = np.arange(MINUTES_PER_DAY)
    hour = minute // 60 + (minute % 60) / 60.0
    angle = 2 * np.pi * hour / 24.0
    return np.stack([np.sin(angle), np.cos(angle), (hour < NIGHT_ENDS_HOUR).astype("float64")], axis=1)


MINUTE_OF_DAY_TABLE = _minute_of_day_table()
INPUT_COLUMNS: tuple[str, ...] = tuple(c for c in schema.COLUMNS if c not in schema.NON_FEATURES)


def model_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """Select the model's input columns and give them plain numpy dtypes (NA -> NaN)."""
    out = frame.loc[:, list(INPUT_COLUMNS)].copy()
    for name in schema.NUMERIC_FEATURES:
        out[name] = pd.to_numeric(out[name], errors="coerce").astype("float64")
    for name in schema.CATEGORICAL_FEATURES:
        values = out[name].astype(object)
        out[name] = values.where(values.notna(), "missing")
    return out


def time_features(timestamps: pd.DataFrame) -> pd.DataFrame:
    """Cyclic hour of day (to the minute), night and weekend flags from the UTC timestamp."""
    ts = pd.to_datetime(timestamps[schema.TIMESTAMP], utc=True)
    minute = (ts.dt.hour * 60 + ts.dt.minute).to_numpy(dtype="int64")
    by_minute = MINUTE_OF_DAY_TABLE[minute]
    return pd.DataFrame(
        {
            "hour_sin": by_minute[:, 0],
            "hour_cos": by_minute[:, 1],
            "is_night": by_minute[:, 2],
            "is_weekend": (ts.dt.day_of_week >= SATURDAY).astype("float64").to_numpy(),
        },
        index=timestamps.index,
    )


def log1p_float32(values: pd.DataFrame) -> pd.DataFrame:
    """log(1 + x), rounded to float32 precision.

    The served graph's `Log` and numpy's `log1p` may differ in the last bits of a float64; rounded to
    float32 they agree (unless a value sits within 1e-16 of a float32 rounding boundary, which the
    export stage's parity check would catch), and float32 keeps 7 significant digits of the log.
    """
    logged = np.log1p(values.to_numpy(dtype="float64")).astype("float32").astype("float64")
    return pd.DataFrame(logged, index=values.index, columns=values.columns)


def _time_feature_names(_transformer: object, _names: object) -> list[str]:
    return list(TIME_FEATURES)


def _input_names(_transformer: object, _names: object) -> list[str]:
    return list(INPUT_COLUMNS)


def build_transformer(params: FeaturizeParams) -> Pipeline:
    """An unfitted transformer from raw contract rows to a numeric feature frame."""
    numeric = [c for c in schema.NUMERIC_FEATURES if c != "amount"]
    columns = ColumnTransformer(
        [
            ("time", FunctionTransformer(time_features, feature_names_out=_time_feature_names), [schema.TIMESTAMP]),
            (
                "amount",
                Pipeline(
                    [
                        ("log", FunctionTransformer(log1p_float32, feature_names_out="one-to-one")),
                        ("scale", StandardScaler()),
                    ]
                ),
                ["amount"],
            ),
            (
                "numeric",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                numeric,
            ),
            (
                "categorical",
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist",
                    min_frequency=params.min_category_frequency,
                    sparse_output=False,
                ),
                list(schema.CATEGORICAL_FEATURES),
            ),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )
    pipeline = Pipeline(
        [("inputs", FunctionTransformer(model_inputs, feature_names_out=_input_names)), ("columns", columns)]
    )
    pipeline.set_output(transform="pandas")
    return pipeline
