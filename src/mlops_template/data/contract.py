"""The data contract as plain JSON, derived from the active contract (declared in `contract.yaml`).

The export stage writes it beside the served model; the API builds its request models from it, so a
rule changed in `contract.yaml` changes what the API accepts, with nothing to keep in sync by hand.
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


# The declared roles as the served contract has always named them.
_ROLES = {"event_time": "timestamp", "ignored": "other"}


def _role(name: str) -> str:
    role = schema.active().column(name).role
    return _ROLES.get(role, role)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


_RULE_ORDER = ("min", "max", "allowed", "min_length", "max_length")


def _rules(column: pa.Column) -> dict[str, Any]:
    """The checks of one column as min/max (inclusive), allowed values, min_length and max_length."""
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
        elif check.name == "greater_than_or_equal_to":
            rules["min"] = _plain(stats["min_value"])
        elif check.name == "less_than_or_equal_to":
            rules["max"] = _plain(stats["max_value"])
        elif check.name in {"min_length", "max_length"}:
            rules[check.name] = stats["value"]
        elif check.name == "no_control_characters":
            continue  # the API refuses them in every string without allowed values (core/text_rules.py)
        else:
            msg = f"contract column {column.name!r}: check {check.name!r} has no JSON form (add it to data/contract.py)"
            raise ValueError(msg)
    return {key: rules[key] for key in _RULE_ORDER if key in rules}


def export_contract() -> dict[str, Any]:
    """The active contract as JSON: columns with dtype, nullability, role, rules (and description)."""
    columns = [
        {
            "name": name,
            "dtype": _dtype(column),
            "nullable": bool(column.nullable),
            "role": _role(name),
            **_rules(column),
            **({"description": column.description} if column.description else {}),
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
