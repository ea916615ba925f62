"""The data contract as plain JSON, derived from the pandera schema (the single source of truth).

The export stage writes it beside the served model; the API builds its request models from it, so a
rule changed in `schema.py` changes what the API accepts, with nothing to keep in sync by hand.
"""

from __future__ import annotations

from typing import Any

import pandera.pandas as pa

from mlops_template.data import schema

FORMAT = 1
_DTYPES = {"float64": "float", "Int64": "integer", "string": "string"}


def _dtype(column: pa.Column) -> str:
    name = str(column.dtype)
    if name.startswith("datetime64"):
        return "datetime"
    if name.startswith("string") or name == "str":
        return "string"
    return _DTYPES[name]


def _role(name: str) -> str:
    roles = {schema.ID: "id", schema.TIMESTAMP: "timestamp", schema.LABEL: "label"}
    if name in roles:
        return roles[name]
    if name in schema.NUMERIC_FEATURES:
        return "numeric"
    if name in schema.CATEGORICAL_FEATURES:
        return "categorical"
    return "other"


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _rules(column: pa.Column) -> dict[str, Any]:
    """The checks of one column as min/max (inclusive), allowed values and min_length."""
    rules: dict[str, Any] = {}
    for check in column.checks:
        stats = check.statistics
        if check.name == "in_range":
            if not (stats.get("include_min", True) and stats.get("include_max", True)):
                msg = f"contract column {column.name!r}: only inclusive ranges can be exported"
                raise ValueError(msg)
            rules.update(min=_plain(stats["min_value"]), max=_plain(stats["max_value"]))
        elif check.name == "isin":
            rules["allowed"] = [_plain(v) for v in stats["allowed_values"]]
        elif check.name == "str_length":
            rules["min_length"] = stats["min_value"]
        else:
            msg = f"contract column {column.name!r}: check {check.name!r} has no JSON form (add it to data/contract.py)"
            raise ValueError(msg)
    return rules


def export_contract() -> dict[str, Any]:
    """The contract in data/schema.py as JSON: columns with dtype, nullability, role and rules."""
    columns = [
        {
            "name": name,
            "dtype": _dtype(column),
            "nullable": bool(column.nullable),
            "role": _role(name),
            **_rules(column),
        }
        for name, column in schema.CONTRACT.columns.items()
    ]
    return {
        "format": FORMAT,
        "name": schema.CONTRACT.name,
        "description": schema.CONTRACT.description,
        "row": schema.ROW_NOUN,
        "classes": {"positive": schema.POSITIVE_CLASS, "negative": schema.NEGATIVE_CLASS},
        "id": schema.ID,
        "timestamp": schema.TIMESTAMP,
        "label": schema.LABEL,
        "columns": columns,
    }
