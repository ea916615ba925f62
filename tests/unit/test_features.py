"""Feature transforms: fitted on train only, deterministic, shape-preserving, total on the contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings

from mlops_template.config import FeaturizeParams, Params
from mlops_template.data import schema
from mlops_template.features import TIME_FEATURES, build_transformer, time_features
from mlops_template.stages.featurize import fit_transform


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


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(schema.CONTRACT.strategy(size=12))
def test_any_contract_frame_survives_featurize(clean_week: pd.DataFrame, drawn: pd.DataFrame) -> None:
    transformer = build_transformer(FeaturizeParams(min_category_frequency=5)).fit(_typed(clean_week))
    first = transformer.transform(drawn)
    second = transformer.transform(drawn)
    assert first.shape[0] == len(drawn)
    assert list(first.index) == list(drawn.index)
    assert not first.isna().any().any()
    pd.testing.assert_frame_equal(first, second)  # deterministic


def test_feature_names_are_stable(clean_week: pd.DataFrame) -> None:
    rows = _typed(clean_week)
    names = build_transformer(FeaturizeParams()).fit(rows).get_feature_names_out().tolist()
    assert names[: len(TIME_FEATURES)] == list(TIME_FEATURES)
    assert "amount" in names
    assert "customer_age" in names
    assert "missingindicator_customer_age" in names
