"""Request models built from contract.json: the data contract's rules, strict JSON types, readable errors."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mlops_template.data import schema
from mlops_template.data.contract import export_contract
from mlops_template.model.artifact import ArtifactError
from mlops_template.serving.schemas import build_schemas, confidence, field_errors, summary
from tests.support.api_server import VALID_RECORD

CONTRACT = export_contract()
SCHEMAS = build_schemas(CONTRACT, max_batch=3)
Record = SCHEMAS.record


def errors_of(model: Any, body: object) -> dict[str, str]:
    """{field path: rule} of every error for `body` (sent as JSON text, the way the API gets it)."""
    text = body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(text)
    return {error["field"]: error["rule"] for error in field_errors(caught.value)}


def test_a_valid_record_is_accepted_and_the_label_is_not_an_input() -> None:
    parsed = Record.model_validate_json(json.dumps(VALID_RECORD))
    assert parsed.amount == 42.5  # type: ignore[attr-defined]
    assert schema.LABEL not in Record.model_fields
    assert set(Record.model_fields) == set(schema.COLUMNS) - {schema.LABEL}


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("amount", 0.0, "greater_than_equal"),
        ("amount", 50_000.01, "less_than_equal"),
        ("amount", "42.5", "float_type"),
        ("amount", None, "float_type"),
        ("customer_age", 17, "greater_than_equal"),
        ("customer_age", 37.5, "int_type"),
        ("customer_age", "37", "int_type"),
        ("customer_age", 10**40, "less_than_equal"),
        ("is_cross_border", 2, "literal_error"),
        ("is_cross_border", True, "int_type"),
        ("is_cross_border", 1.5, "int_type"),
        ("merchant_category", "casino", "literal_error"),
        ("merchant_category", 3, "literal_error"),
        ("transaction_id", "", "min_length"),
        ("transaction_id", "t" * 129, "max_length"),
        ("transaction_id", "tx\x00-1", "no_control_characters"),
        ("customer_id", "c" * 65, "max_length"),
        ("customer_id", "\x1b[2Jc-1", "no_control_characters"),
        ("customer_id", "c-1\r\n", "no_control_characters"),
        ("customer_id", "c\x9b", "no_control_characters"),
        ("transaction_id", 17, "string_type"),
        ("timestamp", "2026-13-02T14:30:00", "datetime_from_date_parsing"),
        ("timestamp", 1_790_000_000, "datetime_type"),
        ("timestamp", "1790000000", "datetime_type"),
        ("timestamp", "yesterday", "datetime_type"),
    ],
)
def test_each_rule_of_the_contract_names_the_field_and_the_rule(field: str, value: object, rule: str) -> None:
    found = errors_of(Record, {**VALID_RECORD, field: value})
    assert field in found
    assert found[field].startswith(rule.split("_from", maxsplit=1)[0])


def test_a_million_character_id_is_refused_by_name_and_rule_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as caught:
        SCHEMAS.predict_request.model_validate_json(
            json.dumps({"records": [VALID_RECORD | {"transaction_id": "x" * 10**6}]})
        )
    (error,) = field_errors(caught.value)
    assert error == {
        "field": "records[0].transaction_id",
        "loc": ["records", 0, "transaction_id"],
        "rule": "max_length",
        "message": "at most 128 characters (rule: max_length)",
        "value": None,  # too long to echo
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("transaction_id", "t" * 128),
        ("transaction_id", "é" * 128),  # characters, not UTF-8 bytes
        ("transaction_id", "\U0001f600" * 128),
        ("customer_id", "c" * 64),
        ("customer_id", "nbsp\xa0zwj\u200dok"),  # no-break space, zero-width joiner: not controls
    ],
)
def test_the_boundary_length_and_characters_that_are_not_controls_are_accepted(field: str, value: str) -> None:
    parsed = Record.model_validate_json(json.dumps({**VALID_RECORD, field: value}))
    assert getattr(parsed, field) == value


def test_a_contract_json_without_max_length_gets_the_default_bound() -> None:
    # An artifact exported before max_length existed is still bounded when served by this API.
    contract = json.loads(json.dumps(CONTRACT))
    for column in contract["columns"]:
        column.pop("max_length", None)
    record = build_schemas(contract, max_batch=3).record
    assert errors_of(record, {**VALID_RECORD, "customer_id": "c" * 129}) == {"customer_id": "max_length"}
    assert errors_of(record, {**VALID_RECORD, "customer_id": "c\x00"}) == {"customer_id": "no_control_characters"}


def test_the_json_schema_states_the_text_rules() -> None:
    properties = Record.model_json_schema()["properties"]
    assert properties["transaction_id"] | {"description": ""} == {
        "type": "string",
        "title": "Transaction Id",
        "minLength": 1,
        "maxLength": 128,
        "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$",
        "description": "",
    }
    assert properties["customer_id"]["maxLength"] == 64
    assert "no control characters" in properties["customer_id"]["description"]


def test_a_whole_number_written_as_a_float_is_an_integer_as_in_json_schema() -> None:
    parsed = Record.model_validate_json(json.dumps({**VALID_RECORD, "customer_age": 37.0, "is_cross_border": 1.0}))
    assert (parsed.customer_age, parsed.is_cross_border) == (37, 1)  # type: ignore[attr-defined]
    assert type(parsed.customer_age) is int  # type: ignore[attr-defined]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_nan_and_infinity_are_refused(literal: str) -> None:
    body = json.dumps(VALID_RECORD).replace('"amount": 42.5', f'"amount": {literal}')
    assert errors_of(Record, body) == {"amount": "finite_number"}


def test_missing_and_unknown_fields_are_each_named() -> None:
    body = {k: v for k, v in VALID_RECORD.items() if k not in ("amount", "channel")} | {"amout": 3, "is_fraud": 0}
    assert errors_of(Record, body) == {
        "amount": "missing",
        "channel": "missing",
        "amout": "extra_forbidden",
        "is_fraud": "extra_forbidden",
    }


def test_nullable_fields_may_be_null_or_omitted_the_others_may_not() -> None:
    nullable = [c["name"] for c in CONTRACT["columns"] if c["nullable"]]
    assert set(nullable) == {"customer_age", "distance_from_home_km", "device_type"}
    omitted = Record.model_validate({k: v for k, v in VALID_RECORD.items() if k not in nullable})
    assert all(getattr(omitted, name) is None for name in nullable)
    assert errors_of(Record, {**VALID_RECORD, "channel": None}) == {"channel": "literal_error"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-02T14:30:00", datetime(2026, 11, 2, 14, 30, tzinfo=UTC)),  # naive means UTC
        ("2026-11-02T14:30:00Z", datetime(2026, 11, 2, 14, 30, tzinfo=UTC)),
        ("2026-11-02T15:30:00+01:00", datetime(2026, 11, 2, 14, 30, tzinfo=UTC)),
        ("2026-11-02 14:30:00.250", datetime(2026, 11, 2, 14, 30, 0, 250_000, tzinfo=UTC)),
    ],
)
def test_timestamps_are_iso_8601_and_end_up_in_utc(text: str, expected: datetime) -> None:
    parsed = Record.model_validate_json(json.dumps({**VALID_RECORD, "timestamp": text}))
    stamp = parsed.timestamp  # type: ignore[attr-defined]
    assert stamp == expected
    assert stamp.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("text", ["0001-01-01T00:00:10+03:04", "9999-12-31T23:59:59-01:00"])
def test_a_timestamp_with_no_utc_form_keeps_its_offset(text: str) -> None:
    # Found by schemathesis: converting these to UTC leaves datetime's range, which was once a 500.
    stamp = Record.model_validate_json(json.dumps({**VALID_RECORD, "timestamp": text})).timestamp  # type: ignore[attr-defined]
    assert stamp == datetime.fromisoformat(text)
    assert stamp.utcoffset() is not None


def test_a_predict_request_holds_exactly_one_of_record_or_records() -> None:
    predict = SCHEMAS.predict_request
    assert predict.model_validate_json(json.dumps({"record": VALID_RECORD})).records is None  # type: ignore[attr-defined]
    assert errors_of(predict, {}) == {"": "one_of_record_or_records"}
    assert errors_of(predict, {"record": VALID_RECORD, "records": [VALID_RECORD]}) == {"": "one_of_record_or_records"}
    assert errors_of(predict, {"record": None}) == {"record": "model_type"}
    assert errors_of(predict, {"records": []}) == {"records": "too_short"}
    assert errors_of(predict, {"records": [VALID_RECORD] * 4}) == {"records": "too_long"}
    bad_batch = errors_of(predict, {"records": [VALID_RECORD, {**VALID_RECORD, "amount": -1, "channel": "x"}]})
    assert bad_batch == {"records[1].amount": "greater_than_equal", "records[1].channel": "literal_error"}
    assert errors_of(predict, "[1, 2]") == {"": "model_type"}
    assert errors_of(predict, '{"record": {') == {"": "json_invalid"}


@pytest.mark.parametrize(("label", "value"), [("fraud", 1), ("legit", 0), (1, 1), (0, 0)])
def test_feedback_takes_the_class_name_or_0_or_1(label: object, value: int) -> None:
    parsed = SCHEMAS.feedback_request.model_validate({"request_id": "a" * 32, "label": label})
    assert parsed.label == value  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"label": True}, "label"),
        ({"label": 2}, "label"),
        ({"label": "Fraud"}, "label"),
        ({"request_id": "A" * 32}, "request_id"),
        ({"request_id": "a" * 31}, "request_id"),
    ],
)
def test_feedback_refuses_anything_else(body: dict[str, Any], field: str) -> None:
    found = errors_of(SCHEMAS.feedback_request, {"request_id": "a" * 32, "label": 1} | body)
    assert list(found) == [field]


def test_an_unknown_dtype_or_rule_is_refused_as_an_artifact_error() -> None:
    for change in ({"dtype": "decimal"}, {"max_length": 3}):
        contract = json.loads(json.dumps(CONTRACT))
        contract["columns"][3] |= change
        with pytest.raises(ArtifactError, match="amount"):
            build_schemas(contract, max_batch=3)


def test_the_summary_names_every_field() -> None:
    with pytest.raises(ValidationError) as caught:
        Record.model_validate_json(json.dumps({**VALID_RECORD, "amount": -1, "channel": "x"}))
    found = field_errors(caught.value)
    assert summary(found) == "2 invalid field(s): amount (greater_than_equal), channel (literal_error)"
    assert found[0]["value"] == -1
    assert "greater than or equal to 0.01" in found[0]["message"]


# --- the same rules as the pandera contract, on generated values ------------------------------------

NUMBERS = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
    st.sampled_from([0.01, 50_000.0, 18, 110, 0, 36_500, 10_000, 20_100.0, -0.0]),
)


def contract_accepts(record: dict[str, Any]) -> bool:
    """The pandera contract's verdict on `record` (beside a complete row: no column may be all null)."""
    companion = VALID_RECORD | {"transaction_id": "tx-companion", "device_type": "mobile"}
    rows = [{**record, schema.LABEL: 0}, {**companion, schema.LABEL: 0}]
    result = schema.validate(pd.DataFrame(rows, columns=list(schema.COLUMNS), dtype=object))
    return 0 not in result.rejected.index


@settings(max_examples=150, deadline=None)
@given(
    amount=NUMBERS,
    customer_age=st.one_of(st.none(), NUMBERS),
    account_age_days=NUMBERS,
    distance=st.one_of(st.none(), NUMBERS),
    category=st.sampled_from([*(schema.active().column("merchant_category").allowed or []), "casino", "Grocery"]),
    cross_border=st.sampled_from([0, 1, 2, -1]),
)
def test_the_api_accepts_exactly_what_the_data_contract_accepts(  # noqa: PLR0917 (one argument per column)
    amount: float,
    customer_age: float | None,
    account_age_days: float,
    distance: float | None,
    category: str,
    cross_border: int,
) -> None:
    record = VALID_RECORD | {
        "amount": amount,
        "customer_age": customer_age,
        "account_age_days": account_age_days,
        "distance_from_home_km": distance,
        "merchant_category": category,
        "is_cross_border": cross_border,
    }
    try:
        Record.model_validate_json(json.dumps(record))
        api_accepts = True
    except ValidationError:
        api_accepts = False
    assert api_accepts == contract_accepts(record)


TEXT = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=140),
    st.text(st.characters(codec="ascii"), min_size=60, max_size=70),
    st.builds(lambda n, c: "x" * n + c, st.integers(120, 130), st.sampled_from(["", "é", "\x00", "\x7f", "\xa0"])),
    st.sampled_from(["", "\x00", "\t", "\n", "\x1f", " ", "\x7f", "\x80", "\x9f", "\xa0", "\u2028", "\ufeff"]),
)


@settings(max_examples=300, deadline=None)
@given(column=st.sampled_from(["transaction_id", "customer_id"]), value=TEXT)
def test_the_api_and_ingest_accept_and_refuse_the_same_strings(column: str, value: str) -> None:
    assume(value != "tx-companion")  # contract_accepts' second row: a duplicated id is another rule
    record = VALID_RECORD | {column: value}
    try:
        Record.model_validate_json(json.dumps(record))
        api_accepts = True
    except ValidationError:
        api_accepts = False
    assert api_accepts == contract_accepts(record), repr(value)


@settings(max_examples=200, deadline=None)
@given(p=st.floats(0, 1), t=st.floats(0.001, 0.999))
def test_confidence_is_zero_at_the_threshold_and_one_at_the_ends(p: float, t: float) -> None:
    found = confidence(p, t)
    assert 0.0 <= found <= 1.0
    assert confidence(t, t) == 0.0
    assert math.isclose(confidence(0.0, t), 1.0)
    assert math.isclose(confidence(1.0, t), 1.0)
    # On each side of the threshold, further from it means more confident.
    closer = t + (p - t) / 2
    assert confidence(closer, t) <= found + 1e-12
