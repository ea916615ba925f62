"""Feature transformations: pure functions and the sklearn transformer fitted by `featurize`.

What the model sees is declared, not coded: the inputs and their roles come from the contract
(`contract.yaml`), their treatments from params.yaml `featurize:`. No column is named here. The
fitted transformer is the first step of the model artifact and carries its column lists with it, so
serving applies exactly the transformations that training did, to raw contract rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from mlops_template.core.config import FeaturizeParams
from mlops_template.core.contract_spec import ContractSpec
from mlops_template.core.errors import ConfigError
from mlops_template.core.params_check import featurize_problems
from mlops_template.data import schema

HOUR_FEATURES = ("hour_sin", "hour_cos", "is_night")
WEEKEND_FEATURES = ("is_weekend",)
DAY_OF_WEEK_FEATURES = ("day_sin", "day_cos")
TIME_FEATURES = (*HOUR_FEATURES, *WEEKEND_FEATURES)  # the default: hour and weekend on
NIGHT_ENDS_HOUR = 6
SATURDAY = 5
MINUTES_PER_DAY = 1440
DAYS_PER_WEEK = 7


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


def _day_of_week_table() -> np.ndarray:
    """(day_sin, day_cos) for each day of the week, Monday = 0: [7, 2] (a table, as above)."""
    angle = 2 * np.pi * np.arange(DAYS_PER_WEEK) / DAYS_PER_WEEK
    return np.stack([np.sin(angle), np.cos(angle)], axis=1)


MINUTE_OF_DAY_TABLE = _minute_of_day_table()
DAY_OF_WEEK_TABLE = _day_of_week_table()


def input_columns(contract: ContractSpec | None = None) -> tuple[str, ...]:
    """The model's raw inputs in the contract's order: the event time, numeric and categorical columns."""
    spec = contract or schema.active()
    return spec.by_role("event_time", "numeric", "categorical")


class _InputColumns(Sequence[str]):
    """`INPUT_COLUMNS`: the active contract's inputs, read when used (the contract can change)."""

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return input_columns()[index]

    def __len__(self) -> int:
        return len(input_columns())

    def __iter__(self) -> Iterator[str]:
        return iter(input_columns())

    def __repr__(self) -> str:
        return repr(input_columns())


INPUT_COLUMNS: Sequence[str] = _InputColumns()


def model_inputs(
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Select the model's input columns and give them plain numpy dtypes (NA -> NaN, "missing").

    The column lists default to the active contract's; the fitted transformer passes its own.
    """
    if columns is None or numeric is None or categorical is None:
        spec = schema.active()
        columns, numeric, categorical = input_columns(spec), spec.by_role("numeric"), spec.by_role("categorical")
    out = frame.loc[:, list(columns)].copy()
    for name in numeric:
        out[name] = pd.to_numeric(out[name], errors="coerce").astype("float64")
    for name in categorical:
        values = out[name].astype(object)
        out[name] = values.where(values.notna(), "missing")
    return out


def time_feature_names(*, hour: bool = True, weekend: bool = True, day_of_week: bool = False) -> list[str]:
    chosen = ((hour, HOUR_FEATURES), (weekend, WEEKEND_FEATURES), (day_of_week, DAY_OF_WEEK_FEATURES))
    return [name for on, names in chosen if on for name in names]


def time_features(
    timestamps: pd.DataFrame, *, hour: bool = True, weekend: bool = True, day_of_week: bool = False
) -> pd.DataFrame:
    """From the (single) event-time column, in UTC: the cyclic hour of day (to the minute) with a
    night flag, a weekend flag and the cyclic day of the week, each group on or off."""
    ts = pd.to_datetime(timestamps.iloc[:, 0], utc=True)
    found: dict[str, np.ndarray] = {}
    if hour:
        minute = (ts.dt.hour * 60 + ts.dt.minute).to_numpy(dtype="int64")
        by_minute = MINUTE_OF_DAY_TABLE[minute]
        found.update(hour_sin=by_minute[:, 0], hour_cos=by_minute[:, 1], is_night=by_minute[:, 2])
    weekday = ts.dt.day_of_week.to_numpy(dtype="int64")
    if weekend:
        found["is_weekend"] = (weekday >= SATURDAY).astype("float64")
    if day_of_week:
        by_day = DAY_OF_WEEK_TABLE[weekday]
        found.update(day_sin=by_day[:, 0], day_cos=by_day[:, 1])
    names = time_feature_names(hour=hour, weekend=weekend, day_of_week=day_of_week)
    return pd.DataFrame(found, index=timestamps.index, columns=names)


def log1p_float32(values: pd.DataFrame) -> pd.DataFrame:
    """log(1 + x), rounded to float32 precision.

    The served graph's `Log` and numpy's `log1p` may differ in the last bits of a float64; rounded to
    float32 they agree (unless a value sits within 1e-16 of a float32 rounding boundary, which the
    export stage's parity check would catch), and float32 keeps 7 significant digits of the log.
    """
    logged = np.log1p(values.to_numpy(dtype="float64")).astype("float32").astype("float64")
    return pd.DataFrame(logged, index=values.index, columns=values.columns)


def _time_feature_names(transformer: FunctionTransformer, _names: object) -> list[str]:
    return time_feature_names(**(transformer.kw_args or {}))


def _input_names(transformer: FunctionTransformer, _names: object) -> list[str]:
    return list((transformer.kw_args or {})["columns"])


def _numeric_block(
    params: FeaturizeParams, columns: list[str], contract: ContractSpec, *, log: bool
) -> Pipeline | FunctionTransformer:
    """[log] -> [impute, when a column of the block may be null] -> [scale]; identity if none applies."""
    steps: list[tuple[str, Any]] = []
    if log:
        steps.append(("log", FunctionTransformer(log1p_float32, feature_names_out="one-to-one")))
    treatment = params.numeric
    if treatment.impute != "none" and any(contract.column(name).nullable for name in columns):
        imputer = SimpleImputer(strategy=treatment.impute, add_indicator=treatment.missing_indicator)
        steps.append(("impute", imputer))
    if treatment.scale:
        steps.append(("scale", StandardScaler()))
    return Pipeline(steps) if steps else FunctionTransformer(feature_names_out="one-to-one")


def build_transformer(params: FeaturizeParams, contract: ContractSpec | None = None) -> Pipeline:
    """An unfitted transformer from raw contract rows to a numeric feature frame.

    Blocks, in this order (each only when it has columns): event-time features, logged numeric
    columns, the other numeric columns, one-hot categorical columns.
    """
    spec = contract or schema.active()
    problems = featurize_problems(params, spec)
    if problems:
        raise ConfigError("\n".join(problems))
    numeric = spec.by_role("numeric")
    logged = [name for name in numeric if name in params.numeric.log]
    plain = [name for name in numeric if name not in params.numeric.log]
    categorical = list(spec.by_role("categorical"))
    blocks: list[tuple[str, Any, list[str]]] = []
    flags = params.event_time.model_dump()
    if any(flags.values()):
        time = FunctionTransformer(time_features, kw_args=flags, feature_names_out=_time_feature_names)
        blocks.append(("time", time, [spec.one("event_time")]))
    if logged:
        blocks.append(("log", _numeric_block(params, logged, spec, log=True), logged))
    if plain:
        blocks.append(("numeric", _numeric_block(params, plain, spec, log=False), plain))
    if categorical:
        encoder = OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            min_frequency=params.categorical.min_category_frequency,
            sparse_output=False,
        )
        blocks.append(("categorical", encoder, categorical))
    columns = ColumnTransformer(blocks, remainder="drop", verbose_feature_names_out=False)
    inputs = {"columns": list(input_columns(spec)), "numeric": list(numeric), "categorical": categorical}
    pipeline = Pipeline(
        [
            ("inputs", FunctionTransformer(model_inputs, kw_args=inputs, feature_names_out=_input_names)),
            ("columns", columns),
        ]
    )
    pipeline.set_output(transform="pandas")
    return pipeline
