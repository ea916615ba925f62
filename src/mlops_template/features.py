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
    """Cyclic hour of day, night and weekend flags from the UTC timestamp."""
    ts = pd.to_datetime(timestamps[schema.TIMESTAMP], utc=True)
    hour = ts.dt.hour + ts.dt.minute / 60.0
    angle = 2 * np.pi * hour / 24.0
    return pd.DataFrame(
        {
            "hour_sin": np.sin(angle),
            "hour_cos": np.cos(angle),
            "is_night": (hour < NIGHT_ENDS_HOUR).astype("float64"),
            "is_weekend": (ts.dt.day_of_week >= SATURDAY).astype("float64"),
        },
        index=timestamps.index,
    )


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
                        ("log", FunctionTransformer(np.log1p, feature_names_out="one-to-one")),
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
