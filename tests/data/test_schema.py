"""The data contract: what it accepts, what it rejects, and that it says why."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_template.core.config import SimulatedSourceParams
from mlops_template.core.errors import DataContractError
from mlops_template.data import schema
from mlops_template.data.sources.simulated import generate_week, make_dirty


def _reasons(result: schema.ContractResult) -> list[str]:
    return result.rejected["reasons"].tolist()


def test_clean_batch_passes_whole(clean_week: pd.DataFrame) -> None:
    result = schema.validate(clean_week)
    assert result.rejected.empty
    assert len(result.valid) == len(clean_week)
    assert str(result.valid[schema.TIMESTAMP].dtype) == "datetime64[ns, UTC]"
    assert str(result.valid["customer_age"].dtype) == "Int64"


def test_wrong_type_is_rejected_with_value(clean_week: pd.DataFrame) -> None:
    clean_week.loc[3, "amount"] = "12,50"
    clean_week.loc[4, schema.TIMESTAMP] = "yesterday"
    clean_week.loc[5, "customer_age"] = 41.5
    result = schema.validate(clean_week)
    assert len(result.rejected) == 3
    reasons = _reasons(result)
    assert "amount: not a valid float64 (got '12,50')" in reasons[0]
    assert "timestamp: not a valid datetime64[ns, UTC] (got 'yesterday')" in reasons[1]
    assert "customer_age: not a valid Int64 (got 41.5)" in reasons[2]


def test_out_of_range_values_name_the_rule(clean_week: pd.DataFrame) -> None:
    clean_week.loc[0, "amount"] = -5.0
    clean_week.loc[1, "customer_age"] = 150
    result = schema.validate(clean_week)
    assert _reasons(result) == [
        "amount: in_range(0.01, 50000.0) (got -5.0)",
        "customer_age: in_range(18, 110) (got 150)",
    ]


def test_unknown_category_lists_the_allowed(clean_week: pd.DataFrame) -> None:
    clean_week.loc[2, "channel"] = "carrier_pigeon"
    result = schema.validate(clean_week)
    assert _reasons(result) == ["channel: one of ['pos', 'online', 'atm'] (got 'carrier_pigeon')"]


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("transaction_id", "t" * 129, "transaction_id: at most 128 characters (rule: max_length)"),
        ("customer_id", "c" * 65, "customer_id: at most 64 characters (rule: max_length)"),
        ("transaction_id", "tx\x00-1", "transaction_id: no control characters (U+0000-U+001F, U+007F-U+009F)"),
        ("customer_id", "\x1b[31mc-1", "customer_id: no control characters"),
        ("customer_id", "c-1\n", "customer_id: no control characters"),
        ("customer_id", "c\x7f", "customer_id: no control characters"),
        ("customer_id", "c\x85", "customer_id: no control characters"),
    ],
)
def test_a_free_string_too_long_or_holding_a_control_character_is_quarantined(
    clean_week: pd.DataFrame, column: str, value: str, reason: str
) -> None:
    clean_week.loc[4, column] = value
    result = schema.validate(clean_week)
    assert result.rejected.index.tolist() == [4]
    assert _reasons(result)[0].startswith(reason)
    assert result.rejected.loc[4, column] == value  # quarantine keeps the raw row


def test_the_boundary_length_and_other_characters_pass(clean_week: pd.DataFrame) -> None:
    clean_week.loc[0, schema.ID] = "t" * 128
    clean_week.loc[1, schema.ID] = "é" * 128  # characters, not bytes
    clean_week.loc[2, "customer_id"] = "c" * 64
    clean_week.loc[3, "customer_id"] = "nbsp\xa0zwj\u200dok"  # no-break space, zero-width joiner: not controls
    result = schema.validate(clean_week)
    assert result.rejected.empty


def test_a_huge_value_is_named_not_copied_into_its_reason(clean_week: pd.DataFrame) -> None:
    clean_week.loc[0, schema.ID] = "x" * 1_000_000
    (reason,) = _reasons(schema.validate(clean_week))
    assert (
        reason
        == f"transaction_id: at most 128 characters (rule: max_length) (got {'x' * 60!r}... (1000000 characters))"
    )


def test_duplicated_ids_reject_every_copy(clean_week: pd.DataFrame) -> None:
    clean_week.loc[9, schema.ID] = clean_week.loc[8, schema.ID]
    result = schema.validate(clean_week)
    assert result.rejected.index.tolist() == [8, 9]
    assert all("transaction_id: unique (duplicated id)" in r for r in _reasons(result))


def test_null_in_required_column(clean_week: pd.DataFrame) -> None:
    clean_week.loc[7, "channel"] = None
    result = schema.validate(clean_week)
    assert _reasons(result) == ["channel: not nullable (got nan)"]


def test_every_failure_of_a_row_is_reported(clean_week: pd.DataFrame) -> None:
    clean_week.loc[0, "amount"] = "abc"
    clean_week.loc[0, "channel"] = "fax"
    clean_week.loc[0, "customer_age"] = 5
    (reason,) = _reasons(schema.validate(clean_week))
    assert "amount: not a valid float64" in reason
    assert "channel: one of" in reason
    assert "customer_age: in_range" in reason


def test_rejected_rows_keep_their_raw_values_and_position(clean_week: pd.DataFrame) -> None:
    clean_week.loc[11, "amount"] = "n/a"
    result = schema.validate(clean_week)
    assert result.rejected.index.tolist() == [11]
    assert result.rejected.loc[11, "amount"] == "n/a"
    assert result.rejected_share == pytest.approx(1 / len(clean_week))


def test_all_null_column_fails_the_batch(clean_week: pd.DataFrame) -> None:
    clean_week["customer_age"] = None
    with pytest.raises(DataContractError, match=r"\['customer_age'\] entirely null in 600 rows"):
        schema.validate(clean_week, "data/2026-W40.csv")


def test_empty_batch_fails(clean_week: pd.DataFrame) -> None:
    with pytest.raises(DataContractError, match=re.escape("data/empty.csv: batch has no rows")):
        schema.validate(clean_week.iloc[0:0], "data/empty.csv")


def test_missing_column_fails(clean_week: pd.DataFrame) -> None:
    with pytest.raises(DataContractError, match=r"missing column\(s\) \['amount'\]"):
        schema.validate(clean_week.drop(columns=["amount"]))


def test_unknown_column_fails(clean_week: pd.DataFrame) -> None:
    with pytest.raises(DataContractError, match=r"unknown column\(s\) \['ip_address'\]"):
        schema.validate(clean_week.assign(ip_address="10.0.0.1"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema.CONTRACT.strategy(size=15))
def test_any_frame_the_contract_accepts_passes_validation(frame: pd.DataFrame) -> None:
    """The parse layer never rejects what the pandera contract itself accepts."""
    result = schema.validate(frame)
    assert result.rejected.empty
    assert len(result.valid) == len(frame)


weeks = st.builds(lambda w: f"2026-W{w:02d}", st.integers(min_value=1, max_value=52))
seeds = st.integers(min_value=0, max_value=2**31)


@settings(max_examples=15, deadline=None)
@given(
    seed=seeds, week=weeks, scenario=st.sampled_from(["none", "covariate_shift", "new_fraud_pattern", "prior_shift"])
)
def test_simulator_honours_the_contract_for_any_seed_and_week(seed: int, week: str, scenario: str) -> None:
    params = SimulatedSourceParams.model_validate(
        {
            "kind": "simulated",
            "rows_per_week": 300,
            "customers": 200,
            "drift": {"scenario": scenario, "start_week": "2026-W01"},
        }
    )
    rows = generate_week(params, seed, week)
    schema.CONTRACT.validate(rows)  # the typed frame, as generated
    assert schema.validate(rows).rejected.empty  # and through the raw parse path


@settings(max_examples=15, deadline=None)
@given(seed=seeds, rate=st.floats(min_value=0.001, max_value=0.2))
def test_contract_rejects_exactly_the_corrupted_rows(seed: int, rate: float) -> None:
    params = SimulatedSourceParams.model_validate({"kind": "simulated", "rows_per_week": 300, "customers": 200})
    rows = generate_week(params, seed, "2026-W40")
    batch, dirty_ids = make_dirty(rows, rate, np.random.default_rng(seed))
    result = schema.validate(batch.drop_duplicates())
    assert sorted(result.rejected[schema.ID]) == sorted(dirty_ids)
