"""The data contract for one row, built from the declared `contract.yaml`, and the checks that enforce it.

To bring your own data, edit `contract.yaml` (see `data/contract_spec.py` for where it is found),
not this module. Everything downstream (parsing, quarantine, features, the API) reads the contract
from here: `CONTRACT` (pandera) and the constants below are built from the file on first use, and
`use()` switches to another contract (tests, tools).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from mlops_template.core.contract_spec import ColumnSpec, ContractSpec, contract_path, load_contract
from mlops_template.core.errors import DataContractError
from mlops_template.core.text_rules import TextRule, text_rules

TIMESTAMP_DTYPE = pd.DatetimeTZDtype("ns", "UTC")
_PANDERA_DTYPES: dict[str, Any] = {"string": str, "float": float, "integer": "Int64", "datetime": TIMESTAMP_DTYPE}

# Built from the declared contract on first use (module `__getattr__` below), rebuilt by `use()`.
# Annotated here so that type checkers know them; `from schema import X` copies today's value.
SPEC: ContractSpec
SOURCE: str  # where the contract was read from
CONTRACT: pa.DataFrameSchema
ID: str
TIMESTAMP: str
LABEL: str
# The task's words, used by the API, the model card and the reports.
ROW_NOUN: str
POSITIVE_CLASS: str  # LABEL == 1
NEGATIVE_CLASS: str  # LABEL == 0
INTENDED_USE: str
LIMITATIONS: tuple[str, ...]
COLUMNS: tuple[str, ...]
# Identifiers, ignored columns and the label are not model inputs; the event time is, through
# derived features.
NON_FEATURES: frozenset[str]
CATEGORICAL_FEATURES: tuple[str, ...]
NUMERIC_FEATURES: tuple[str, ...]
# CSV columns read as text so that parsing, not pandas' guessing, decides their type.
TEXT_COLUMNS: dict[str, type[str]]
_BUILT = frozenset({
    "SPEC", "SOURCE", "CONTRACT", "ID", "TIMESTAMP", "LABEL", "ROW_NOUN", "POSITIVE_CLASS", "NEGATIVE_CLASS",
    "INTENDED_USE", "LIMITATIONS", "COLUMNS", "NON_FEATURES", "CATEGORICAL_FEATURES", "NUMERIC_FEATURES",
    "TEXT_COLUMNS",
})  # fmt: skip


def _allowed(values: tuple[str, ...]) -> pa.Check:
    return pa.Check.isin(values, error=f"one of {list(values)}")


def _text_strategy(rule: TextRule) -> Any:
    """How pandera's data synthesis (tests) draws values that obey `rule`, instead of filtering blindly."""

    def strategy(_dtype: Any, strategy: Any = None, **_statistics: Any) -> Any:
        from hypothesis import strategies as st  # noqa: PLC0415 - a test dependency, needed only to draw data

        if strategy is None:  # the first rule of the column: draw text with no control character
            strategy = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=rule.limit or 16)
        return strategy.filter(rule.accepts)

    return strategy


def _text_check(rule: TextRule) -> pa.Check:
    # The very function the API calls (core/text_rules.py), value by value; nulls are not text.
    return pa.Check(
        rule.accepts,
        element_wise=True,
        name=rule.name,
        error=rule.message,
        statistics={"value": rule.limit} if rule.limit is not None else {},
        strategy=_text_strategy(rule),
    )


def _checks(column: ColumnSpec) -> list[pa.Check]:
    checks = []
    if column.min is not None and column.max is not None:
        checks.append(pa.Check.in_range(column.min, column.max))
    elif column.min is not None:
        checks.append(pa.Check.ge(column.min))
    elif column.max is not None:
        checks.append(pa.Check.le(column.max))
    if column.allowed is not None:
        strings = column.dtype == "string"
        checks.append(_allowed(tuple(map(str, column.allowed))) if strings else pa.Check.isin(list(column.allowed)))
    if column.free_text:
        checks.extend(_text_check(rule) for rule in text_rules(column.min_length, column.longest))
    return checks


def build_contract(spec: ContractSpec) -> pa.DataFrameSchema:
    """The pandera schema a declared contract stands for: strict, no coercion (parse() types first)."""
    columns = {}
    for column in spec.columns:
        unique = column.unique or column.role == "id"
        columns[column.name] = pa.Column(
            _PANDERA_DTYPES[column.dtype],
            _checks(column) or None,
            nullable=column.nullable,
            unique=unique,
            report_duplicates="all",
            description=column.description,
        )
    return pa.DataFrameSchema(columns, strict=True, coerce=False, name=spec.name, description=spec.description)


def _constants(spec: ContractSpec, source: str) -> dict[str, Any]:
    return {
        "SPEC": spec,
        "SOURCE": source,
        "CONTRACT": build_contract(spec),
        "ID": spec.one("id"),
        "TIMESTAMP": spec.one("event_time"),
        "LABEL": spec.one("label"),
        "ROW_NOUN": spec.task.row_noun,
        "POSITIVE_CLASS": spec.task.positive_class,
        "NEGATIVE_CLASS": spec.task.negative_class,
        "INTENDED_USE": spec.task.intended_use,
        "LIMITATIONS": tuple(spec.task.limitations),
        "COLUMNS": tuple(column.name for column in spec.columns),
        "NON_FEATURES": frozenset(spec.by_role("id", "ignored", "label")),
        "CATEGORICAL_FEATURES": spec.by_role("categorical"),
        "NUMERIC_FEATURES": spec.by_role("numeric"),
        "TEXT_COLUMNS": dict.fromkeys((c.name for c in spec.columns if c.dtype in {"string", "datetime"}), str),
    }


def use(contract: ContractSpec | Path | None = None) -> ContractSpec:
    """Make `contract` (a spec, a file, or None: the file in use, see contract_spec) the active one.

    Returns the contract that was active before (the new one on the very first use), to restore it.
    """
    previous = active() if contract is not None else globals().get("SPEC")
    if contract is None:
        contract = contract_path()
    if isinstance(contract, Path):
        spec, source = load_contract(contract), str(contract)
    else:
        spec, source = contract, f"<{contract.name}>"
    globals().update(_constants(spec, source))
    return previous or spec


def active() -> ContractSpec:
    """The active declared contract (loaded from the contract file on first use)."""
    if "SPEC" not in globals():
        use()
    found: ContractSpec = globals()["SPEC"]
    return found


def _schema() -> tuple[pa.DataFrameSchema, tuple[str, ...], str]:
    """The active pandera contract, its column names and where it was declared."""
    active()
    return globals()["CONTRACT"], globals()["COLUMNS"], globals()["SOURCE"]


def __getattr__(name: str) -> Any:
    if name in _BUILT:
        active()
        return globals()[name]
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


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
    contract, columns, declared = _schema()
    missing = [name for name in columns if name not in raw.columns]
    if missing:
        msg = f"{source}: missing column(s) {missing} required by the contract ({declared})"
        raise DataContractError(msg)
    unknown = [str(name) for name in raw.columns if name not in contract.columns]
    if unknown:
        msg = f"{source}: unknown column(s) {unknown}; the contract is strict (add them to {declared} to accept them)"
        raise DataContractError(msg)
    if raw.empty:
        msg = f"{source}: batch has no rows (a batch must hold at least one {active().task.row_noun})"
        raise DataContractError(msg)
    empty = [name for name in columns if raw[name].isna().all()]
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


_SHOWN_CHARACTERS = 60


def _shown(value: object, column: str | None = None) -> str:
    """A value as a user wrote it: 35.5, 'abc', 150 for an integer column (no numpy reprs)."""
    if isinstance(value, np.generic):
        value = value.item()
    integer_column = any(c.name == column and c.dtype == "integer" for c in active().columns)
    if integer_column and isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and len(value) > _SHOWN_CHARACTERS:  # a reason line, not a copy of the row
        return f"{value[:_SHOWN_CHARACTERS]!r}... ({len(value)} characters)"
    return repr(value)


Reasons = dict[int, dict[str, str]]  # row position -> column -> the rule it broke


def parse(raw: pd.DataFrame) -> tuple[pd.DataFrame, Reasons]:
    """Parse raw columns to the contract's dtypes; return the typed frame and per-row type errors.

    A value that fails to parse becomes null in the typed frame and is reported once, here.
    """
    columns: dict[str, pd.Series] = {}
    errors: Reasons = defaultdict(dict)
    for name, column in _schema()[0].columns.items():
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
    check_columns(raw, source)  # loads the contract on first use
    raw = raw.reset_index(drop=True)
    contract, columns, _ = _schema()
    typed, reasons = parse(raw[list(columns)])
    try:
        contract.validate(typed, lazy=True)
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
