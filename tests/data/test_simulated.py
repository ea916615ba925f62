"""The simulated source: deterministic per (seed, week), realistic, and drifting as documented."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from mlops_template.core.config import SimulatedSourceParams
from mlops_template.data import schema
from mlops_template.data.sources import event_time
from mlops_template.data.sources.simulated import generate_week, simulate_batch


def _params(**overrides: Any) -> SimulatedSourceParams:
    return SimulatedSourceParams.model_validate({"kind": "simulated", "rows_per_week": 4000, **overrides})


def test_same_week_same_rows_whatever_came_before() -> None:
    params = _params()
    first = generate_week(params, 1, "2026-W40")
    generate_week(params, 1, "2026-W39")  # generating another week in between changes nothing
    again = generate_week(params, 1, "2026-W40")
    pd.testing.assert_frame_equal(first, again)


def test_different_weeks_and_seeds_differ() -> None:
    params = _params()
    base = generate_week(params, 1, "2026-W40")
    assert not base["amount"].equals(generate_week(params, 1, "2026-W41")["amount"])
    assert not base["amount"].equals(generate_week(params, 2, "2026-W40")["amount"])


def test_rows_lie_in_their_week_sorted_with_unique_ids() -> None:
    rows = generate_week(_params(), 3, "2026-W40")
    stamps = rows[schema.TIMESTAMP]
    assert stamps.is_monotonic_increasing
    assert stamps.min() >= pd.Timestamp("2026-09-28", tz="UTC")
    assert stamps.max() < pd.Timestamp("2026-10-05", tz="UTC")
    assert rows[schema.ID].is_unique


# At the 250k-row benchmark's size (250_000 // 12 rows a week), seed 42's 2026-W37 draws two rows in the
# last minute of Sunday whose jitter once carried them into Monday, and `data generate` refused the week.
# new_fraud_pattern adds card-testing rows, drawn by the same code, on top of the same base rows.
@pytest.mark.parametrize("scenario", ["none", "new_fraud_pattern"])
def test_rows_drawn_in_the_last_seconds_of_sunday_stay_in_their_week(scenario: str) -> None:
    week = "2026-W37"
    params = _params(rows_per_week=20_833, drift={"scenario": scenario, "start_week": week, "strength": 1.0})
    stamps = generate_week(params, 42, week)[schema.TIMESTAMP]
    start, end = event_time.week_bounds(week)
    assert (stamps >= end - pd.Timedelta(minutes=1)).sum() >= 2  # the draw does reach the edge
    assert stamps.min() >= start
    assert stamps.max() < end
    assert event_time.refusal(stamps, f"{week}.csv", now=end + pd.Timedelta(days=1)) is None


def test_realistic_shape() -> None:
    rows = generate_week(_params(fraud_rate=0.015), 5, "2026-W40")
    assert 0.005 < rows[schema.LABEL].mean() < 0.04
    assert set(rows["channel"]) == {"pos", "online", "atm"}
    online = rows["channel"] == "online"
    assert rows.loc[online, "distance_from_home_km"].isna().all()  # missing not at random
    assert rows.loc[~online, "device_type"].isna().all()
    assert 0 < rows["customer_age"].isna().mean() < 0.1


def test_fraud_is_learnable() -> None:
    rows = generate_week(_params(), 5, "2026-W40")
    fraud = rows[schema.LABEL] == 1
    assert rows.loc[fraud, "amount"].median() > rows.loc[~fraud, "amount"].median()
    assert rows.loc[fraud, "txn_count_24h"].mean() > rows.loc[~fraud, "txn_count_24h"].mean()


def _drifted(scenario: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    params = _params(drift={"scenario": scenario, "start_week": "2026-W41", "strength": 1.0})
    return generate_week(params, 9, "2026-W40"), generate_week(params, 9, "2026-W41")


def test_no_drift_before_the_start_week() -> None:
    for scenario in ("covariate_shift", "new_fraud_pattern", "prior_shift"):
        before, _ = _drifted(scenario)
        pd.testing.assert_frame_equal(before, generate_week(_params(), 9, "2026-W40"))


def test_covariate_shift_moves_inputs() -> None:
    before, after = _drifted("covariate_shift")
    assert after["amount"].median() > 1.3 * before["amount"].median()
    assert (after["channel"] == "online").mean() > (before["channel"] == "online").mean() + 0.05


def test_prior_shift_raises_the_fraud_rate() -> None:
    before, after = _drifted("prior_shift")
    assert after[schema.LABEL].mean() > 2 * before[schema.LABEL].mean()


def test_new_fraud_pattern_is_card_testing() -> None:
    before, after = _drifted("new_fraud_pattern")

    def pattern(rows: pd.DataFrame) -> pd.Series:
        return (
            (rows["merchant_category"] == "digital_goods") & (rows["amount"] < 4) & (rows["device_type"] == "desktop")
        )

    assert pattern(after).sum() > pattern(before).sum() + 30
    assert after.loc[pattern(after), schema.LABEL].mean() > 0.5
    assert before.loc[pattern(before), schema.LABEL].mean() < 0.2


@pytest.mark.parametrize("rate", [0.0, 0.01])
def test_batches_carry_the_configured_dirt(rate: float) -> None:
    params = _params(dirty_rate=rate)
    batch = simulate_batch(params, 4, "2026-W40")
    clean = generate_week(params, 4, "2026-W40")
    extra = len(batch) - len(clean)
    assert (extra == 0) if rate == 0 else (10 < extra < 80)
    assert batch.duplicated().sum() == extra  # re-deliveries are exact copies


def test_natural_variation_moves_the_base_rate_volume_and_a_seasonal_input_not_the_risk() -> None:
    # Given a year of natural variation (small weeks: only the week's factors matter here)
    params = _params(rows_per_week=3000, drift={"scenario": "natural_variation", "start_week": "2026-W01"})
    weeks = {w: generate_week(params, 9, w) for w in ("2026-W02", "2026-W28", "2026-W31", "2026-W52")}
    domestic = {
        w: rows.loc[rows["is_cross_border"] == 0, "distance_from_home_km"].median() for w, rows in weeks.items()
    }
    # Then the distance from home follows the season (longest in July), payday and holiday weeks are busier
    assert domestic["2026-W28"] > 2 * domestic["2026-W02"]
    assert len(weeks["2026-W31"]) == 3600  # 2026-08-01 falls in W31: payday
    assert len(weeks["2026-W52"]) == 4200  # the year-end holidays
    # And the same weeks without the scenario are the plain ones, row for row
    plain = _params(rows_per_week=3000)
    assert len(generate_week(plain, 9, "2026-W52")) == 3000


def test_natural_variation_shocks_the_base_rate_from_week_to_week() -> None:
    params = _params(rows_per_week=20_000, drift={"scenario": "natural_variation", "start_week": "2026-W01"})
    plain = _params(rows_per_week=20_000)
    rates = [generate_week(params, 9, f"2026-W{n:02d}")[schema.LABEL].mean() for n in range(10, 16)]
    plain_rates = [generate_week(plain, 9, f"2026-W{n:02d}")[schema.LABEL].mean() for n in range(10, 16)]
    assert pd.Series(rates).std() > 2 * pd.Series(plain_rates).std()
