"""The rules every free string of the contract obeys: a length range and no control characters.

A string column without `allowed:` values (an id, an entity id, free text) would otherwise take
anything: a million characters, a NUL, an escape sequence that rewrites a terminal or a log line.
Ingest (the pandera checks of `data/schema.py`) and the API (the request models of
`serving/schemas.py`) both build their checks from `text_rules()`, so a value is accepted or refused
by the same function wherever it arrives. Standard library only: the API imports it without pandas.

- `min_length` / `max_length`: inclusive bounds on the number of characters (Unicode code points,
  as Python's `len`, pandas' `str.len` and JSON Schema's `maxLength` count them). A column that
  declares no `max_length` gets `DEFAULT_MAX_LENGTH`.
- `no_control_characters`: refuses Unicode's control characters (category Cc): C0 U+0000-U+001F
  (NUL, tab, line feed, carriage return, escape included), DEL U+007F and C1 U+0080-U+009F. A
  contract's strings are single-line values; none of these belongs in one, and each can corrupt
  what shows or stores it (a NUL truncates C strings, a line feed forges a log line, ESC drives a
  terminal). Format characters (Cf: zero-width joiners, bidirectional marks) are allowed: names and
  emoji in many scripts need them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# Room for any common id (a UUID is 36 characters, a ULID 26, a hex SHA-256 64) with a prefix,
# small enough that a full batch of such values stays a few hundred kilobytes in the prediction log
# and fits a table cell on the page. A column holding longer text declares its own `max_length`.
DEFAULT_MAX_LENGTH = 128
CONTROL_CHARACTERS = "\x00-\x1f\x7f-\x9f"
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
# The same set as a JSON Schema (ECMA-262) pattern, for the API's OpenAPI document.
NO_CONTROL_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]*$"


@dataclass(frozen=True)
class TextRule:
    """One rule: its name (what reports and 422s call it), what it asks, and the check itself."""

    name: str
    asks: str  # "at most 128 characters": what a value must be, as a user reads it
    accepts: Callable[[str], bool]
    limit: int | None = None  # the bound of a length rule

    @property
    def message(self) -> str:
        return f"{self.asks} (rule: {self.name})"


def _characters(count: int) -> str:
    return f"{count} character{'s' if count != 1 else ''}"


def text_rules(min_length: int | None = None, max_length: int | None = None) -> tuple[TextRule, ...]:
    """The rules of one free string column, the cheapest to refuse a huge value first."""
    longest = DEFAULT_MAX_LENGTH if max_length is None else max_length
    rules = [
        TextRule("max_length", f"at most {_characters(longest)}", lambda value: len(value) <= longest, longest),
        TextRule(
            "no_control_characters",
            "no control characters (U+0000-U+001F, U+007F-U+009F)",
            lambda value: _CONTROL.search(value) is None,
        ),
    ]
    if min_length:
        rules.append(
            TextRule("min_length", f"at least {_characters(min_length)}", lambda v: len(v) >= min_length, min_length)
        )
    return tuple(rules)


def column_text_rules(column: Mapping[str, Any]) -> tuple[TextRule, ...]:
    """The rules of an exported contract column (contract.json), or none for an enumerated one."""
    if column.get("dtype") != "string" or column.get("allowed") is not None:
        return ()
    return text_rules(column.get("min_length"), column.get("max_length"))


def broken_rule(value: str, rules: tuple[TextRule, ...]) -> TextRule | None:
    """The first rule `value` breaks, or None when it obeys them all."""
    return next((rule for rule in rules if not rule.accepts(value)), None)
