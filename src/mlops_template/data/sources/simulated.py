"""A simulated, deterministic source of labelled card transactions (fraud detection).

Each ISO week is one batch generated from (seed, week): the same week always yields the same rows,
whatever was generated before. The generating process is known, so drift scenarios starting at a
configured week give later stages a ground truth to detect and recover from:

- covariate_shift: larger amounts, more online and cross-border spending; P(fraud | x) unchanged.
- new_fraud_pattern: card testing appears (tiny online digital-goods payments from established,
  domestic, low-velocity customers), a region the old model has learnt to trust; P(fraud | x) changes.
- prior_shift: the fraud base rate rises (odds x (1 + 2 * strength)); P(x | fraud) unchanged.
- natural_variation: nothing harmful, only what a real process does from week to week: shocks to the
  base rate (log-odds ~ N(0, 0.25 x strength) a week), a seasonal input (the distance of domestic
  payments from home follows the year: scale x (1 +/- 0.5), longest in summer), payday weeks (the 1st
  of a month: 20% more rows, amounts x 1.1) and the year-end holidays (40% more rows, more online).
  The model's ranking is unchanged (P(fraud | x) moves by an intercept only); the monitor must stay
  quiet when its reference weeks varied as much.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from mlops_template.core.config import SimulatedSourceParams
from mlops_template.core.weeks import parse_week
from mlops_template.data import schema

# Merchant mix by channel and typical amount (median, log-spread) by merchant category.
_CATEGORY_MIX = {
    "pos": {
        "grocery": 0.34,
        "restaurants": 0.22,
        "fuel": 0.14,
        "fashion": 0.12,
        "electronics": 0.06,
        "entertainment": 0.08,
        "travel": 0.04,
    },
    "online": {
        "digital_goods": 0.25,
        "fashion": 0.2,
        "electronics": 0.15,
        "travel": 0.15,
        "entertainment": 0.1,
        "grocery": 0.1,
        "restaurants": 0.05,
    },
    "atm": {"cash": 1.0},
}
_AMOUNT = {
    "grocery": (35.0, 0.7),
    "restaurants": (28.0, 0.6),
    "fuel": (55.0, 0.4),
    "travel": (320.0, 0.9),
    "electronics": (180.0, 1.0),
    "fashion": (65.0, 0.8),
    "entertainment": (40.0, 0.7),
    "digital_goods": (12.0, 0.9),
    "cash": (80.0, 0.6),
}
_CATEGORY_RISK = {
    "grocery": -0.6,
    "restaurants": -0.5,
    "fuel": -0.2,
    "travel": 0.7,
    "electronics": 0.9,
    "fashion": 0.1,
    "entertainment": 0.0,
    "digital_goods": 0.8,
    "cash": 0.4,
}
_CHANNEL_MIX = {"pos": 0.6, "online": 0.32, "atm": 0.08}
_EPOCH = dt.date(2020, 1, 6)  # account opening dates are counted from this Monday
_LAST_SECOND_OF_WEEK = 7 * 86_400 - 1  # seconds after Monday 00:00


@dataclass(frozen=True)
class _Season:
    """How a week of the natural_variation scenario differs from a plain one (all 1 / 0: no difference)."""

    volume: float = 1.0
    amount: float = 1.0
    online: float = 0.0
    distance: float = 1.0
    log_odds: float = 0.0


PLAIN = _Season()


def _season(params: SimulatedSourceParams, seed: int, week: str) -> _Season:
    """The week's natural variation: drawn from (seed, week) alone, with its own stream of numbers."""
    strength = _drift_active(params, week, "natural_variation")
    if strength == 0:
        return PLAIN
    monday = parse_week(week)
    days = [monday + dt.timedelta(days=d) for d in range(7)]
    payday = any(d.day == 1 for d in days)
    holidays = any((d.month, d.day) >= (12, 20) or (d.month, d.day) <= (1, 2) for d in days)
    year_angle = 2 * np.pi * (monday.timetuple().tm_yday + 3) / 365.25  # Thursday of the week
    shock = float(np.random.default_rng([seed, monday.year, monday.isocalendar()[1], 7]).normal(0.0, 0.25))
    return _Season(
        volume=1.0 + strength * (0.2 * payday + 0.4 * holidays),
        amount=1.0 + strength * 0.1 * payday,
        online=strength * 0.05 * holidays,
        distance=1.0 + strength * 0.5 * np.cos(year_angle - 2 * np.pi * 200 / 365.25),  # longest mid-July
        log_odds=strength * shock,
    )


@dataclass(frozen=True)
class _Customers:
    age: np.ndarray  # float, NaN where KYC data is missing
    opened_day: np.ndarray  # days after _EPOCH
    activity: np.ndarray  # sampling weight


@lru_cache(maxsize=8)
def _customers(seed: int, count: int) -> _Customers:
    rng = np.random.default_rng([seed, 0])
    age = np.clip(rng.normal(42, 14, count), 18, 95).round()
    age[rng.random(count) < 0.03] = np.nan
    opened = rng.integers(0, 6 * 365, count).astype(float)
    activity = rng.gamma(2.0, 1.0, count)
    return _Customers(age=age, opened_day=opened, activity=activity / activity.sum())


def _drift_active(params: SimulatedSourceParams, week: str, scenario: str) -> float:
    drift = params.drift
    if drift.scenario != scenario or parse_week(week) < parse_week(drift.start_week):
        return 0.0
    return drift.strength


def _base_rows(
    params: SimulatedSourceParams, seed: int, week: str, rng: np.random.Generator, season: _Season = PLAIN
) -> pd.DataFrame:
    n = round(params.rows_per_week * season.volume)
    shift = _drift_active(params, week, "covariate_shift")
    customers = _customers(seed, params.customers)
    who = rng.choice(params.customers, size=n, p=customers.activity)

    mix = dict(_CHANNEL_MIX)
    mix["online"] += 0.15 * shift + season.online
    total = sum(mix.values())
    channel = rng.choice(list(mix), size=n, p=[v / total for v in mix.values()])
    category = np.empty(n, dtype=object)
    for name, options in _CATEGORY_MIX.items():
        where = channel == name
        category[where] = rng.choice(list(options), size=int(where.sum()), p=list(options.values()))
    median = np.array([_AMOUNT[c][0] for c in category]) * (1.0 + 0.5 * shift) * season.amount
    spread = np.array([_AMOUNT[c][1] for c in category])
    amount = np.clip(np.round(median * np.exp(rng.normal(0, spread)), 2), 0.5, 25_000.0)

    monday = pd.Timestamp(parse_week(week), tz="UTC")
    day = rng.integers(0, 7, n)
    hour = np.where(rng.random(n) < 0.9, rng.normal(14, 4, n), rng.uniform(0, 24, n)) % 24
    seconds = day * 86_400 + hour * 3600 + rng.uniform(0, 60, n)
    # The jitter must not carry a Sunday 23:59 row into the next ISO week, which `data generate` rightly
    # refuses. Only those rows are clamped, to the week's last second: they are computed as before and
    # with as many draws, so every other row stays byte-identical, and so does every week without such a
    # row (the shipped history). A spill past another midnight stays in the week; clamping those too
    # would rewrite a shipped row (2026-W44 has one).
    seconds = np.minimum(seconds, _LAST_SECOND_OF_WEEK)
    timestamp = monday + pd.to_timedelta(np.floor(seconds), unit="s")
    days_since_epoch = (parse_week(week) - _EPOCH).days + day

    cross_border = (rng.random(n) < np.where(category == "travel", 0.45, 0.05 + 0.05 * shift)).astype(int)
    distance = np.where(cross_border == 1, rng.uniform(300, 3000, n), rng.exponential(8.0, n) * season.distance)
    distance = np.where(channel == "online", np.nan, np.round(distance, 1))
    device = np.where(rng.random(n) < 0.65, "mobile", "desktop").astype(object)
    device[(channel != "online") | (rng.random(n) < 0.02)] = None

    return pd.DataFrame(
        {
            "timestamp": timestamp,
            "customer_id": [f"c-{i:06d}" for i in who],
            "amount": amount,
            "merchant_category": category,
            "channel": channel,
            "is_cross_border": cross_border,
            "customer_age": customers.age[who],
            "account_age_days": np.maximum(days_since_epoch - customers.opened_day[who], 0).astype(int),
            "distance_from_home_km": distance,
            "txn_count_24h": rng.poisson(1.5, n),
            "device_type": device,
        }
    )


def _risk_score(rows: pd.DataFrame) -> np.ndarray:
    """The log-odds of fraud before the intercept: the process the model has to learn."""
    hour = rows["timestamp"].dt.hour.to_numpy()
    night = (hour < 6).astype(float)
    return np.asarray(
        0.55 * np.log(rows["amount"].to_numpy() / 50.0)
        + rows["merchant_category"].map(_CATEGORY_RISK).to_numpy(dtype=float)
        + 0.9 * (rows["channel"].to_numpy() == "online")
        + 1.1 * night
        + 1.3 * rows["is_cross_border"].to_numpy()
        + 1.0 * (rows["account_age_days"].to_numpy() < 60)
        + 0.35 * rows["txn_count_24h"].to_numpy()
        + 0.6 * (rows["distance_from_home_km"].fillna(0).to_numpy() > 100),
        dtype=float,
    )


@lru_cache(maxsize=8)
def _intercept(params: SimulatedSourceParams, seed: int) -> float:
    """The intercept that gives `fraud_rate` on drift-free data (found once, by bisection)."""
    reference = params.model_copy(
        update={"rows_per_week": 20_000, "drift": params.drift.model_copy(update={"scenario": "none"})}
    )
    rows = _base_rows(reference, seed, params.first_week, np.random.default_rng([seed, 1]))
    score = _risk_score(rows)
    low, high = -20.0, 5.0
    for _ in range(60):
        mid = (low + high) / 2
        rate = float(np.mean(1 / (1 + np.exp(-(mid + score)))))
        low, high = (mid, high) if rate < params.fraud_rate else (low, mid)
    return (low + high) / 2


def _card_testing(
    params: SimulatedSourceParams, seed: int, week: str, rng: np.random.Generator, strength: float
) -> pd.DataFrame:
    """The new fraud pattern: tiny online digital-goods payments that look like trusted customers."""
    count = round(0.015 * strength * params.rows_per_week)
    if count == 0:
        return pd.DataFrame()
    pattern = params.model_copy(update={"rows_per_week": count})
    rows = _base_rows(pattern, seed, week, rng)
    rows["channel"] = "online"
    rows["merchant_category"] = "digital_goods"
    rows["amount"] = np.round(rng.uniform(0.5, 4.0, count), 2)
    rows["is_cross_border"] = 0
    rows["distance_from_home_km"] = np.nan
    rows["device_type"] = "desktop"
    rows["txn_count_24h"] = rng.poisson(0.5, count)
    rows["account_age_days"] = rows["account_age_days"] + 400
    rows["is_fraud"] = (rng.random(count) < 0.7).astype(int)
    return rows


def generate_week(params: SimulatedSourceParams, seed: int, week: str) -> pd.DataFrame:
    """Return the clean batch for `week`: rows that honour the contract, sorted by time."""
    year, number = int(week[:4]), int(week[6:])
    rng = np.random.default_rng([seed, year, number])
    season = _season(params, seed, week)
    rows = _base_rows(params, seed, week, rng, season)
    logit = _intercept(params, seed) + _risk_score(rows)
    logit += np.log1p(2.0 * _drift_active(params, week, "prior_shift")) + season.log_odds
    fraud = rng.random(len(rows)) < 1 / (1 + np.exp(-logit))
    noise = rng.random(len(rows)) < params.label_noise
    rows["is_fraud"] = (fraud ^ noise).astype(int)
    # Fraud comes in bursts: a stolen card is used several times within a day.
    rows.loc[fraud, "txn_count_24h"] += rng.poisson(2.5, int(fraud.sum()))
    strength = _drift_active(params, week, "new_fraud_pattern")
    if strength > 0:
        rows = pd.concat([rows, _card_testing(params, seed, week, rng, strength)], ignore_index=True)
    rows = rows.sort_values("timestamp", kind="stable").reset_index(drop=True)
    rows.insert(0, schema.ID, [f"tx-{year}{number:02d}-{i:07d}" for i in range(len(rows))])
    rows["customer_age"] = rows["customer_age"].astype("Int64")
    rows[schema.TIMESTAMP] = rows[schema.TIMESTAMP].dt.as_unit("ns")
    return rows[list(schema.COLUMNS)]


def make_dirty(rows: pd.DataFrame, rate: float, rng: np.random.Generator) -> tuple[pd.DataFrame, list[str]]:
    """Corrupt about `rate` of the rows the way real exports go wrong, and re-deliver as many.

    Returns the batch and the ids of the corrupted rows (which ingest must quarantine). Re-delivered
    rows are exact copies, which ingest must drop as duplicates, not reject.
    """
    count = int(rng.binomial(len(rows), rate)) if rate > 0 else 0
    if count == 0:
        return rows.copy(), []
    picked = np.sort(rng.choice(len(rows), size=count, replace=False))
    kinds = rng.integers(0, 4, count)
    amount = rows["amount"].to_numpy(dtype=object)
    category = rows["merchant_category"].to_numpy(dtype=object)
    age = rows["customer_age"].to_numpy(dtype=object)
    amount[picked[kinds == 0]] = -amount[picked[kinds == 0]]  # a sign error upstream
    category[picked[kinds == 1]] = "unknown"  # a category the contract does not know
    age[picked[kinds == 2]] = 7  # out of range
    amount[picked[kinds == 3]] = "n/a"  # text in a numeric column
    out = rows.assign(amount=amount, merchant_category=category, customer_age=age)
    dirty_ids = out[schema.ID].iloc[picked].tolist()
    redelivered = out.iloc[rng.choice(len(out), size=count, replace=False)]
    batch = pd.concat([out, redelivered], ignore_index=True)
    return batch, dirty_ids


def simulate_batch(params: SimulatedSourceParams, seed: int, week: str) -> pd.DataFrame:
    """The batch as it arrives from upstream: clean rows plus the configured share of dirty ones."""
    rows = generate_week(params, seed, week)
    year, number = int(week[:4]), int(week[6:])
    batch, _ = make_dirty(rows, params.dirty_rate, np.random.default_rng([seed, year, number, 1]))
    return batch
