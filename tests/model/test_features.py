"""Feature transforms: declared by the contract's roles and params' treatments, fitted on train only,
deterministic, shape-preserving and total on the contract."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_template.core.config import (
    CategoricalTreatment,
    EventTimeTreatment,
    FeaturizeParams,
    NumericTreatment,
    Params,
    parse_params,
)
from mlops_template.core.contract_spec import default_contract
from mlops_template.core.errors import ConfigError
from mlops_template.data import schema
from mlops_template.model.features import TIME_FEATURES, build_transformer, time_features
from mlops_template.stages.featurize import fit_transform
from tests.support.params import shipped_params_dict
from tests.support.workspace import EXAMPLE

SRC = Path(__file__).resolve().parents[2] / "src" / "mlops_template"
# Today's transformer on the default contract and params (what the shipped model was trained on).
DEFAULT_FEATURES = [
    *TIME_FEATURES,
    "amount",
    "is_cross_border",
    "customer_age",
    "account_age_days",
    "distance_from_home_km",
    "txn_count_24h",
    "missingindicator_customer_age",
    "missingindicator_distance_from_home_km",
]

treatments = st.builds(
    FeaturizeParams,
    numeric=st.builds(
        NumericTreatment,
        impute=st.sampled_from(["median", "mean", "none"]),
        missing_indicator=st.booleans(),
        scale=st.booleans(),
        log=st.sampled_from([(), ("amount",), ("amount", "txn_count_24h")]),
    ),
    categorical=st.builds(CategoricalTreatment, min_category_frequency=st.integers(1, 200)),
    event_time=st.builds(EventTimeTreatment, hour=st.booleans(), weekend=st.booleans(), day_of_week=st.booleans()),
)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    return schema.validate(frame).valid


def test_time_features_are_cyclic_and_flag_nights_and_weekends() -> None:
    stamps = pd.DataFrame(
        {schema.TIMESTAMP: pd.to_datetime(["2026-10-03 00:00Z", "2026-10-05 12:00Z", "2026-10-05 03:30Z"], utc=True)}
    )
    found = time_features(stamps)
    assert list(found.columns) == list(TIME_FEATURES)
    np.testing.assert_allclose(found["hour_sin"] ** 2 + found["hour_cos"] ** 2, 1.0)
    assert found["is_weekend"].tolist() == [1.0, 0.0, 0.0]  # Saturday, Monday, Monday
    assert found["is_night"].tolist() == [1.0, 0.0, 1.0]
    days = time_features(stamps, hour=False, weekend=False, day_of_week=True)
    assert list(days.columns) == ["day_sin", "day_cos"]
    np.testing.assert_allclose(days.iloc[1].to_numpy(), [0.0, 1.0], atol=1e-15)  # Monday = day 0
    np.testing.assert_allclose(days.iloc[0].to_numpy(), [np.sin(10 * np.pi / 7), np.cos(10 * np.pi / 7)])


def test_the_default_params_give_todays_features(clean_week: pd.DataFrame) -> None:
    # Given the shipped params and the default contract
    params = parse_params(shipped_params_dict())
    assert schema.active() == default_contract()
    # When the transformer is fitted
    names = build_transformer(params.featurize).fit(_typed(clean_week)).get_feature_names_out().tolist()
    # Then its features are today's: time, logged amount, imputed numeric, one-hot categories
    assert names[: len(DEFAULT_FEATURES)] == DEFAULT_FEATURES
    assert [n for n in names[len(DEFAULT_FEATURES) :] if not n.startswith(("merchant_category_", "channel_"))] == [
        "device_type_desktop",
        "device_type_missing",
        "device_type_mobile",
    ]


def test_fit_on_train_only(clean_week: pd.DataFrame, small_params: Params) -> None:
    rows = _typed(clean_week)
    train, valid = rows.iloc[:400], rows.iloc[400:].copy()
    valid["amount"] = valid["amount"] * 1000  # a shift the scaler must not learn from
    transformer, features = fit_transform(small_params.featurize, {"train": train, "valid": valid})
    assert abs(features["train"]["amount"].mean()) < 1e-6  # standardised on train
    assert features["valid"]["amount"].mean() > 2  # valid is transformed with train's statistics
    refit = build_transformer(small_params.featurize).fit(train)
    pd.testing.assert_frame_equal(refit.transform(valid), transformer.transform(valid))


def test_unseen_categories_and_all_missing_values_are_handled(clean_week: pd.DataFrame) -> None:
    rows = _typed(clean_week)
    transformer = build_transformer(FeaturizeParams()).fit(rows)
    odd = rows.iloc[:3].copy()
    odd["merchant_category"] = "cash"  # rare or unseen in this channel
    odd["customer_age"] = pd.NA
    odd["distance_from_home_km"] = np.nan
    out = transformer.transform(odd)
    assert not out.isna().any().any()
    assert np.isfinite(out.to_numpy()).all()


def _fitted(params: FeaturizeParams, clean_week: pd.DataFrame) -> tuple[Any, pd.DataFrame]:
    rows = _typed(clean_week)
    return build_transformer(params).fit(rows), rows


@pytest.mark.parametrize(
    ("treatment", "check"),
    [
        (
            {"numeric": {"scale": False, "log": []}},
            lambda out, raw: np.array_equal(out["txn_count_24h"], raw["txn_count_24h"].astype(float)),
        ),
        (
            {"numeric": {"scale": False, "log": ["amount"]}},
            lambda out, raw: np.allclose(out["amount"], np.log1p(raw["amount"].astype(float)), rtol=1e-7),
        ),
        (
            {"numeric": {"impute": "none", "scale": False}},
            lambda out, raw: out["customer_age"].isna().sum() == raw["customer_age"].isna().sum() > 0,
        ),
        (
            {"numeric": {"impute": "mean", "scale": False}},
            lambda out, raw: np.isclose(
                out.loc[raw["customer_age"].isna().to_numpy(), "customer_age"].iloc[0],
                raw["customer_age"].astype(float).mean(),
            ),
        ),
        (
            {"numeric": {"impute": "median", "scale": False, "missing_indicator": False}},
            lambda out, _: not any(c.startswith("missingindicator") for c in out.columns),
        ),
        (
            {"event_time": {"hour": False, "weekend": False}},
            lambda out, _: not set(TIME_FEATURES) & set(out.columns),
        ),
        (
            {"event_time": {"hour": False, "weekend": True, "day_of_week": True}},
            lambda out, _: list(out.columns[:3]) == ["is_weekend", "day_sin", "day_cos"],
        ),
        (
            {"categorical": {"min_category_frequency": 100_000}},  # every category is rare: one pooled column each
            lambda out, _: [c for c in out.columns if c.startswith("channel_")] == ["channel_infrequent_sklearn"],
        ),
    ],
)
def test_each_declared_treatment_does_what_it_says(
    clean_week: pd.DataFrame, treatment: dict[str, Any], check: Any
) -> None:
    params = FeaturizeParams.model_validate(treatment, strict=False)
    transformer, rows = _fitted(params, clean_week)
    out = transformer.transform(rows)
    assert check(out, rows)


@pytest.mark.parametrize(
    ("treatment", "message"),
    [
        ({"numeric": {"log": ["channel"]}}, r"featurize.numeric.log: 'channel' is a categorical column"),
        ({"numeric": {"log": ["amout"]}}, r"featurize.numeric.log: 'amout' is not a column of the contract"),
        ({"numeric": {"log": ["amount", "amount"]}}, r"featurize.numeric.log: 'amount' is listed twice"),
        ({"numeric": {"log": ["is_fraud"]}}, r"featurize.numeric.log: 'is_fraud' is a label column"),
    ],
)
def test_a_treatment_that_does_not_fit_the_contract_is_refused(treatment: dict[str, Any], message: str) -> None:
    params = FeaturizeParams.model_validate(treatment, strict=False)
    with pytest.raises(ConfigError, match=message):
        build_transformer(params)


def test_log_needs_a_declared_non_negative_minimum() -> None:
    spec = default_contract()
    columns = [c.model_copy(update={"min": -5}) if c.name == "txn_count_24h" else c for c in spec.columns]
    changed = spec.model_copy(update={"columns": columns})
    params = FeaturizeParams.model_validate({"numeric": {"log": ["txn_count_24h"]}}, strict=False)
    with pytest.raises(ConfigError, match=r"'txn_count_24h' may be negative \(declared min: -5; rule: log needs"):
        build_transformer(params, changed)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(params=treatments, drawn=schema.CONTRACT.strategy(size=12))
def test_any_declared_treatment_on_any_contract_frame_is_deterministic_and_shape_preserving(
    clean_week: pd.DataFrame, params: FeaturizeParams, drawn: pd.DataFrame
) -> None:
    # Given any declared treatment, fitted on a clean week
    transformer, _ = _fitted(params, clean_week)
    names = transformer.get_feature_names_out().tolist()
    # When any frame the contract accepts is transformed twice
    first = transformer.transform(drawn)
    second = transformer.transform(drawn)
    # Then rows in = rows out, in order, under the fitted names, and the same values each time
    assert first.shape == (len(drawn), len(names))
    assert list(first.index) == list(drawn.index)
    assert list(first.columns) == names
    pd.testing.assert_frame_equal(first, second)
    if params.numeric.impute != "none":
        assert not first.isna().any().any()


def test_no_code_names_a_column_of_the_default_data() -> None:
    # The code that turns rows into a served model reads columns from the contract, never by name.
    # ("timestamp" is also the served artifact's name for the event-time input kind.)
    names = [c.name for c in default_contract().columns if c.role != "event_time"]
    pattern = re.compile("|".join(map(re.escape, names)))
    files = [SRC / "model/features.py", SRC / "model/onnx_export.py", SRC / "data/contract.py", SRC / "data/schema.py"]
    files += sorted((SRC / "stages").glob("*.py"))
    found = {
        f"{path.relative_to(SRC)}:{number}": line.strip()
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line)
    }
    assert found == {}


example_treatments = st.builds(
    FeaturizeParams,
    numeric=st.builds(
        NumericTreatment,
        impute=st.sampled_from(["median", "mean", "none"]),
        missing_indicator=st.booleans(),
        scale=st.booleans(),
        log=st.sampled_from([(), ("loan_amount",), ("loan_amount", "annual_income")]),
    ),
    categorical=st.builds(CategoricalTreatment, min_category_frequency=st.integers(1, 500)),
    event_time=st.builds(EventTimeTreatment, hour=st.booleans(), weekend=st.booleans(), day_of_week=st.booleans()),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(params=example_treatments, data=st.data())
def test_any_treatment_on_another_contracts_frames_is_deterministic_and_shape_preserving(
    params: FeaturizeParams, data: st.DataObject
) -> None:
    # Given the example's contract (other names, other roles) and one of its weeks to fit on
    previous = schema.use(EXAMPLE / "contract.yaml")
    try:
        week = pd.read_csv(EXAMPLE / "data" / "2026-W30.csv", dtype=schema.TEXT_COLUMNS)
        transformer = build_transformer(params).fit(schema.validate(week).valid)
        drawn = data.draw(schema.CONTRACT.strategy(size=10))
        # When any frame that contract accepts is transformed twice
        first, second = transformer.transform(drawn), transformer.transform(drawn)
    finally:
        schema.use(previous)
    # Then rows in = rows out under the fitted names, the same each time
    assert first.shape == (len(drawn), len(transformer.get_feature_names_out()))
    assert list(first.index) == list(drawn.index)
    assert list(first.columns) == transformer.get_feature_names_out().tolist()
    pd.testing.assert_frame_equal(first, second)
