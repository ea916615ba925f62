"""The text rules of free strings: one function per rule, shared by ingest and the API."""

from __future__ import annotations

import re
import sys
import unicodedata

from mlops_template.core.text_rules import (
    DEFAULT_MAX_LENGTH,
    NO_CONTROL_PATTERN,
    broken_rule,
    column_text_rules,
    text_rules,
)


def _broken(value: str, min_length: int | None = None, max_length: int | None = None) -> str | None:
    found = broken_rule(value, text_rules(min_length, max_length))
    return None if found is None else found.name


def test_exactly_the_unicode_control_characters_are_refused() -> None:
    refused = {chr(c) for c in range(sys.maxunicode + 1) if _broken(chr(c)) == "no_control_characters"}
    controls = {chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cc"}
    assert refused == controls
    assert len(refused) == 65  # C0 (32), DEL, C1 (32)


def test_the_length_bounds_are_inclusive_and_count_characters() -> None:
    assert _broken("x" * DEFAULT_MAX_LENGTH) is None
    assert _broken("x" * (DEFAULT_MAX_LENGTH + 1)) == "max_length"
    assert _broken("é" * 8, max_length=8) is None  # 16 bytes in UTF-8, 8 characters
    assert _broken("", min_length=1) == "min_length"
    assert _broken("a", min_length=1, max_length=1) is None
    assert _broken("\x00" * 200) == "max_length"  # the cheapest rule first: a huge value is not scanned


def test_the_messages_name_the_rule() -> None:
    messages = [rule.message for rule in text_rules(1, 64)]
    assert messages == [
        "at most 64 characters (rule: max_length)",
        "no control characters (U+0000-U+001F, U+007F-U+009F) (rule: no_control_characters)",
        "at least 1 character (rule: min_length)",
    ]


def test_an_exported_column_has_rules_only_when_it_is_a_string_without_allowed_values() -> None:
    assert column_text_rules({"name": "channel", "dtype": "string", "allowed": ["pos"]}) == ()
    assert column_text_rules({"name": "amount", "dtype": "float"}) == ()
    (longest, _) = column_text_rules({"name": "id", "dtype": "string"})
    assert (longest.name, longest.limit) == ("max_length", DEFAULT_MAX_LENGTH)


def test_the_json_schema_pattern_refuses_the_same_set() -> None:
    # ECMA-262's \uXXXX escapes mean the same as Python's here; fullmatch, as Python's $ also
    # matches before a final line feed where ECMA-262's does not.
    pattern = re.compile(NO_CONTROL_PATTERN)
    for code in [*range(0xA1), 0x2028, 0xFEFF]:
        value = f"a{chr(code)}b"
        assert (pattern.fullmatch(value) is None) == (_broken(value) == "no_control_characters")
