"""The data contract for one card transaction, and the checks that enforce it.

This is the file to change when you bring your own data: columns, types, ranges, categories.
Everything downstream (parsing, quarantine, features, the API) reads the contract from here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from mlops_template.errors import DataContractError

ID = "transaction_id"
TIMESTAMP = "timestamp"
LABEL = "is_fraud"
# The task's words, used by the API, the model card and the reports.
ROW_NOUN = "transaction"
POSITIVE_CLASS = "fraud"  # LABEL == 1
NEGATIVE_CLASS = "legit"  # LABEL == 0
INTENDED_USE = (
    "Scores card transactions for fraud risk so that analysts review the riskiest first. "
    "A transaction is flagged when its calibrated probability reaches the threshold."
)
LIMITATIONS: tuple[str, ...] = (
    "Trained on simulated transactions: its numbers demonstrate the pipeline, not a real fraud rate.",
    "Labels are noisy (missed and mistaken chargebacks); precision and recall carry that noise.",
    "Evaluated on the latest week only: weekly variation is not in these numbers.",
    "Fraud patterns change: a pattern absent from the training weeks is not detected (see drift).",
    "Not for automated refusal of payments without human review.",
)

MERCHANT_CATEGORIES = (
    "grocery",
    "restaurants",
    "fuel",
    "travel",
    "electronics",
    "fashion",
    "entertainment",
    "digital_goods",
    "cash",
)
CHANNELS = ("pos", "online", "atm")
DEVICE_TYPES = ("mobile", "desktop")

TIMESTAMP_DTYPE = pd.DatetimeTZDtype("ns", "UTC")


def _allowed(values: tuple[str, ...]) -> pa.Check:
    return pa.Check.isin(values, error=f"one of {list(values)}")


CONTRACT = pa.DataFrameSchema(
    {
        ID: pa.Column(str, pa.Check.str_length(min_value=1), unique=True, report_duplicates="all"),
        TIMESTAMP: pa.Column(TIMESTAMP_DTYPE),
        "customer_id": pa.Column(str, pa.Check.str_length(min_value=1)),
        "amount": pa.Column(float, pa.Check.in_range(0.01, 50_000.0)),
        "merchant_category": pa.Column(str, _allowed(MERCHANT_CATEGORIES)),
        "channel": pa.Column(str, _allowed(CHANNELS)),
        "is_cross_border": pa.Column("Int64", pa.Check.isin([0, 1])),
        "customer_age": pa.Column("Int64", pa.Check.in_range(18, 110), nullable=True),
        "account_age_days": pa.Column("Int64", pa.Check.in_range(0, 36_500)),
        "distance_from_home_km": pa.Column(float, pa.Check.in_range(0.0, 20_100.0), nullable=True),
        "txn_count_24h": pa.Column("Int64", pa.Check.in_range(0, 10_000)),
        "device_type": pa.Column(str, _allowed(DEVICE_TYPES), nullable=True),
        LABEL: pa.Column("Int64", pa.Check.isin([0, 1])),
    },
    strict=True,
    coerce=False,
    name="card_transactions",
    description="One card transaction with its fraud label (1 = confirmed fraud).",
)

COLUMNS: tuple[str, ...] = tuple(CONTRACT.columns)
# Identifiers and the label are not model inputs; the timestamp is, through derived features.
NON_FEATURES = frozenset({ID, "customer_id", LABEL})
CATEGORICAL_FEATURES = ("merchant_category", "channel", "device_type")
NUMERIC_FEATURES = (
    "amount",
    "is_cross_border",
    "customer_age",
    "account_age_days",
    "distance_from_home_km",
    "txn_count_24h",
)
# CSV columns read as text so that parsing, not pandas' guessing, decides their type.
TEXT_COLUMNS = dict.fromkeys((ID, TIMESTAMP, "customer_id", *CATEGORICAL_FEATURES), str)


@dataclass(frozen=True)
class ContractResult:
    """A batch split by the contract: rows that honour it, and rows that do not (with reasons)."""

    valid: pd.DataFrame
    rejected: pd.DataFrame  # the raw rows (indexed by position in the input), plus "reasons"

    @property
    def rejected_share(self) -> float:
        total = len(self.valid) + len(self.rejected)
        return len(self.rejected) / total if total else 0.0


def check_columns(raw: pd.DataFrame, source: str) -> None:
    """Fail on what cannot be quarantined row by row: missing, unknown or all-null columns, no rows."""
    missing = [name for name in COLUMNS if name not in raw.columns]
    if missing:
        msg = f"{source}: missing column(s) {missing} required by the contract in data/schema.py"
        raise DataContractError(msg)
    unknown = [str(name) for name in raw.columns if name not in CONTRACT.columns]
    if unknown:
        msg = (
            f"{source}: unknown column(s) {unknown}; the contract is strict (add them to data/schema.py to accept them)"
        )
        raise DataContractError(msg)
    if raw.empty:
        msg = f"{source}: batch has no rows (a batch must hold at least one transaction)"
        raise DataContractError(msg)
    empty = [name for name in COLUMNS if raw[name].isna().all()]
    if empty:
        msg = (
            f"{source}: column(s) {empty} entirely null in {len(raw)} rows "
            "(rule: a column may have gaps, never be empty; is the export broken?)"
        )
        raise DataContractError(msg)


def _parse_column(values: pd.Series, dtype: str) -> tuple[pd.Series, pd.Series]:
    """Parse one raw column to its contract dtype; return (parsed, mask of values that failed)."""
    present = values.notna()
    if dtype.startswith("datetime64"):
        stamps = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce").dt.as_unit("ns")
        return stamps, present & stamps.isna()
    if dtype in {"float64", "Int64"}:
        numbers = pd.to_numeric(values, errors="coerce").astype("float64")
        failed = present & numbers.isna()
        if dtype == "float64":
            return numbers, failed
        fractional = numbers.notna() & (np.floor(numbers) != numbers)
        ints = numbers.where(~fractional).astype("Int64")
        return ints, failed | fractional
    parsed = values.astype("str")
    return parsed, pd.Series(data=False, index=values.index)


def _shown(value: object, column: str | None = None) -> str:
    """A value as a user wrote it: 35.5, 'abc', 150 for an integer column (no numpy reprs)."""
    if isinstance(value, np.generic):
        value = value.item()
    integer_column = column is not None and str(CONTRACT.columns[column].dtype) == "Int64"
    if integer_column and isinstance(value, float) and value.is_integer():
        value = int(value)
    return repr(value)


Reasons = dict[int, dict[str, str]]  # row position -> column -> the rule it broke


def parse(raw: pd.DataFrame) -> tuple[pd.DataFrame, Reasons]:
    """Parse raw columns to the contract's dtypes; return the typed frame and per-row type errors.

    A value that fails to parse becomes null in the typed frame and is reported once, here.
    """
    columns: dict[str, pd.Series] = {}
    errors: Reasons = defaultdict(dict)
    for name, column in CONTRACT.columns.items():
        dtype = str(column.dtype)
        parsed, failed = _parse_column(raw[name], dtype)
        for position in np.flatnonzero(failed.to_numpy()):
            errors[int(position)][name] = f"not a valid {dtype} (got {_shown(raw[name].iloc[position])})"
        columns[name] = parsed
    typed = pd.DataFrame(columns, index=raw.index)
    return typed, dict(errors)


def _check_failures(error: SchemaErrors) -> Reasons:
    cases = error.failure_cases
    column_level = cases[cases["index"].isna()]
    if not column_level.empty:
        first = column_level.iloc[0]
        msg = (
            f"column {first['column']!r} breaks {first['check']} for the whole batch "
            f"(got {_shown(first['failure_case'])})"
        )
        raise DataContractError(msg)
    reasons: Reasons = defaultdict(dict)
    for row, column, check, value in zip(
        cases["index"], cases["column"], cases["check"], cases["failure_case"], strict=True
    ):
        rule = "unique (duplicated id)" if check == "field_uniqueness" else str(check)
        if check == "not_nullable":
            rule = "not nullable"
        reasons[int(row)].setdefault(str(column), f"{rule} (got {_shown(value, str(column))})")
    return dict(reasons)


def validate(raw: pd.DataFrame, source: str = "batch", extra_reasons: Reasons | None = None) -> ContractResult:
    """Apply the contract to raw rows: parse types, run every check lazily, split valid from rejected.

    Column-level problems raise `DataContractError`; row-level ones send the row to `rejected`.
    `extra_reasons` (row position -> column -> rule) adds row rules the contract cannot state alone,
    such as an event time outside the week its file is named after; the contract's own reason for a
    column wins over an extra one.
    """
    check_columns(raw, source)
    raw = raw.reset_index(drop=True)
    typed, reasons = parse(raw[list(COLUMNS)])
    try:
        CONTRACT.validate(typed, lazy=True)
    except SchemaErrors as exc:
        for row, found in _check_failures(exc).items():
            # A value that failed to parse is null now: its parse error already says what is wrong.
            merged = {**found, **reasons.get(row, {})}
            reasons[row] = merged
    for row, found in (extra_reasons or {}).items():
        reasons[row] = {**found, **reasons.get(row, {})}
    bad = sorted(reasons)
    rejected = raw.iloc[bad].copy()
    rejected["reasons"] = ["; ".join(f"{column}: {rule}" for column, rule in reasons[i].items()) for i in bad]
    valid = typed.drop(index=bad).reset_index(drop=True)
    return ContractResult(valid=valid, rejected=rejected)
