"""Request and response models, built at run time from the artifact's `contract.json`.

The data contract (pandera, in `data/schema.py`) is exported beside the model; here each column
becomes a field with the same rules: dtype, inclusive min/max, allowed values and nullability. A
string without allowed values obeys the text rules of `core/text_rules.py` (min_length, max_length,
no control characters): the very functions ingest runs, so both accept and refuse the same strings;
a value breaking one is a 422 whose rule is the rule's name (max_length, no_control_characters).
Fields are strict (no "5" for 5, no true for 1; 37.0 is the integer 37, as in JSON Schema and in
the contract), NaN and infinity are refused, unknown fields are refused, and timestamps are ISO
8601 date-times (naive ones mean UTC). The label column is not an input: it arrives later, through
/v1/feedback.

The models are built once per loaded model (never per request) and swapped with it on reload.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    ValidationError,
    WithJsonSchema,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from mlops_template.core.text_rules import NO_CONTROL_PATTERN, TextRule, broken_rule, column_text_rules
from mlops_template.model.artifact import ArtifactError

DTYPES = ("float", "integer", "string", "datetime")
RULES = frozenset({"min", "max", "allowed", "min_length", "max_length"})
REQUEST_ID_PATTERN = r"^[0-9a-f]{32}$"
CONFIDENCE = "normalised_threshold_margin"
CONFIDENCE_DESCRIPTION = (
    "Confidence in the decision, from 0 (the probability sits on the threshold) to 1 (it is 0 or 1): "
    "the distance of the probability from the threshold, divided by the largest possible distance on that "
    "side, i.e. (p - t) / (1 - t) when p >= t, else (t - p) / t. Named 'normalised_threshold_margin'. "
    "It is not a probability of being right: the calibrated probability is `probability`."
)
_STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


def confidence(probability: float, threshold: float) -> float:
    """The normalised threshold margin (see CONFIDENCE_DESCRIPTION)."""
    if probability >= threshold:
        margin = (probability - threshold) / (1.0 - threshold) if threshold < 1.0 else 0.0
    else:
        margin = (threshold - probability) / threshold
    return min(1.0, max(0.0, margin))


# --- one contract column -> one field ------------------------------------------------------------


def _shown(values: list[Any]) -> str:
    shown = [repr(v) for v in values]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + f" or {shown[-1]}"


def _one_of(values: list[Any]) -> Callable[[Any], Any]:
    allowed = frozenset(values)
    expected = _shown(values)

    def check(value: Any) -> Any:
        if value not in allowed:
            raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})
        return value

    return check


def _obeys(rules: tuple[TextRule, ...]) -> Callable[[str], str]:
    def check(value: str) -> str:
        broken = broken_rule(value, rules)
        if broken is not None:
            raise PydanticCustomError(broken.name, broken.message)
        return value

    return check


def _free_text(column: Mapping[str, Any]) -> Any:
    # The rules are checked by core/text_rules.py, not by pydantic's own min/max_length, so that the
    # API and ingest run one function; the JSON Schema still states them for clients.
    rules = column_text_rules(column)
    limits = {rule.name: rule.limit for rule in rules if rule.limit is not None}
    json_schema: dict[str, Any] = {"type": "string", "maxLength": limits["max_length"], "pattern": NO_CONTROL_PATTERN}
    if "min_length" in limits:
        json_schema["minLength"] = limits["min_length"]
    return Annotated[str, Strict(), AfterValidator(_obeys(rules)), WithJsonSchema(json_schema)]


def _iso_datetime_text(value: Any) -> Any:
    # pydantic also reads numbers and digit strings as Unix time; the contract's timestamps are dates.
    if not isinstance(value, str) or len(value) < 10 or value[4] != "-" or value[7] != "-":  # noqa: PLR2004
        raise PydanticCustomError(
            "datetime_type", "Input should be an ISO 8601 date and time, e.g. '2026-11-02T14:30:00Z' (no zone: UTC)"
        )
    return value


def _whole_number(value: Any) -> Any:
    # JSON (and JSON Schema) has one number type: 37.0 is the integer 37, as it is for the data contract.
    if type(value) is float and value.is_integer():
        return int(value)
    return value


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is in year 0 in UTC: keep its own offset, same instant
        return value


def _column_type(column: Mapping[str, Any]) -> Any:
    name, dtype = column["name"], column["dtype"]
    unknown = set(column) - RULES - {"name", "dtype", "nullable", "role", "description"}
    if dtype != "string":  # a length rule on a number would be silently meaningless
        unknown |= set(column) & {"min_length", "max_length"}
    if dtype not in DTYPES or unknown:
        msg = f"contract.json: column {name!r}: dtype {dtype!r} / keys {sorted(unknown)} not understood by this API"
        raise ArtifactError(msg)
    allowed = column.get("allowed")
    if dtype == "datetime":
        # Lax inside: after the before-validator the value is a Python str, which strict mode would refuse.
        return Annotated[datetime, Strict(False), BeforeValidator(_iso_datetime_text), AfterValidator(_as_utc)]
    if dtype == "string":
        if allowed is not None:
            return Literal[tuple(str(v) for v in allowed)]
        return _free_text(column)
    base: type[Any] = float if dtype == "float" else int
    if allowed is not None:  # a Literal[0, 1] would also take true; check the type first, then the value
        kind = "number" if dtype == "float" else "integer"
        number: Any = Annotated[
            base,
            Strict(),
            AfterValidator(_one_of(list(allowed))),
            WithJsonSchema({"type": kind, "enum": list(allowed)}),
        ]
    else:
        number = Annotated[base, Strict(), Field(ge=column.get("min"), le=column.get("max"))]
    # Whole floats become ints before the strict check: no true, no "37", no 37.5, but 37.0 is 37.
    return Annotated[number, BeforeValidator(_whole_number)] if base is int else number


def _field(column: Mapping[str, Any]) -> tuple[Any, Any]:
    annotation = _column_type(column)
    rules = [f"{key} {column[key]}" for key in ("min", "max", "min_length") if key in column]
    rules += [rule.asks for rule in column_text_rules(column) if rule.name != "min_length"]
    description = "; ".join([f"{column['dtype']} ({column.get('role', 'other')})", *rules])
    if column.get("nullable", False):
        return annotation | None, Field(None, description=description + "; may be null or omitted")
    return annotation, Field(..., description=description)


# --- the request and response models ------------------------------------------------------------


class _OneOrMany(BaseModel):
    """Exactly one of `record` or `records`."""

    model_config = ConfigDict(
        **_STRICT, json_schema_extra={"oneOf": [{"required": ["record"]}, {"required": ["records"]}]}
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> _OneOrMany:
        given = [name for name in ("record", "records") if getattr(self, name) is not None]
        if len(given) != 1:
            problem = "both were given" if given else "neither was given"
            raise PydanticCustomError(
                "one_of_record_or_records",
                "Provide exactly one of 'record' or 'records' ({problem})",
                {"problem": problem},
            )
        return self


class FieldError(BaseModel):
    field: str = Field(description="The bad field's path, e.g. records[3].amount ('' for the whole body).")
    loc: list[str | int] = Field(description="The same path as a list.")
    rule: str = Field(description="The rule broken, e.g. less_than_equal, literal_error, missing, extra_forbidden.")
    message: str
    value: Any = Field(None, description="The value given, when it is short enough to echo.")


class ErrorResponse(BaseModel):
    detail: str


class ValidationErrorResponse(BaseModel):
    detail: str
    errors: list[FieldError]


class Contribution(BaseModel):
    feature: str
    value: Any = Field(description="The record's value for this input.")
    reference: Any = Field(description="The training reference value it was replaced with.")
    contribution: float = Field(description="Probability minus the probability with the reference value.")


class ModelSummary(BaseModel):
    """GET /v1/model: what is served, its contract and its model card (when the image carries one)."""

    version: str
    threshold: float
    threshold_rule: str | None
    model_kind: str | None
    calibration: str | None
    confidence: str
    explanation_method: str
    loaded_at: str
    classes: dict[str, str]
    contract: dict[str, Any]
    inputs: list[dict[str, str]]
    metadata: dict[str, Any]
    model_card: dict[str, Any] | None


@dataclass(frozen=True)
class ContractSchemas:
    """The models for one contract. `names` are the OpenAPI component names the routes refer to."""

    record: type[BaseModel]
    predict_request: type[BaseModel]
    explain_request: type[BaseModel]
    feedback_request: type[BaseModel]
    responses: tuple[type[BaseModel], ...]
    positive: str
    negative: str


def _feedback_label(positive: str, negative: str) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if (type(value) is int and value in (0, 1)) or value in (positive, negative):
            return 1 if value in (1, positive) else 0
        raise PydanticCustomError(
            "literal_error", "Input should be {expected}", {"expected": _shown([positive, negative, 1, 0])}
        )

    return parse


def build_schemas(contract: Mapping[str, Any], max_batch: int) -> ContractSchemas:
    """The request and response models for `contract` (an exported contract.json)."""
    try:
        positive, negative = str(contract["classes"]["positive"]), str(contract["classes"]["negative"])
        label = contract.get("label")
        columns = [c for c in contract["columns"] if c.get("role") != "label" and c["name"] != label]
        row = str(contract.get("row", "record")).title().replace("_", "")
    except (KeyError, TypeError, AttributeError) as exc:
        msg = f"contract.json: missing or malformed key ({exc!r}); expected classes, columns, row"
        raise ArtifactError(msg) from None
    fields: dict[str, Any] = {column["name"]: _field(column) for column in columns}
    config = ConfigDict(**_STRICT, title=row)
    record = create_model(row, __config__=config, __doc__=str(contract.get("description", "")), **fields)
    predict = create_model(
        "PredictRequest",
        __base__=_OneOrMany,
        record=(record, Field(None, description=f"One {row.lower()} (give this or `records`).")),
        records=(
            list[record],
            Field(None, min_length=1, max_length=max_batch, description=f"1 to {max_batch} {row.lower()}s."),
        ),
    )
    explain = create_model("ExplainRequest", __config__=_STRICT, record=(record, ...))
    label_type = Annotated[
        int,
        PlainValidator(_feedback_label(positive, negative)),
        WithJsonSchema(
            {"anyOf": [{"type": "string", "enum": [positive, negative]}, {"type": "integer", "enum": [1, 0]}]}
        ),
    ]
    feedback = create_model(
        "FeedbackRequest",
        __config__=_STRICT,
        request_id=(Annotated[str, Field(pattern=REQUEST_ID_PATTERN)], Field(description="From a /v1/predict result.")),
        label=(label_type, Field(description=f"The true label: {positive!r} or {negative!r} (or 1 or 0).")),
    )
    return ContractSchemas(
        record=record,
        predict_request=predict,
        explain_request=explain,
        feedback_request=feedback,
        responses=_responses(positive, negative),
        positive=positive,
        negative=negative,
    )


def _responses(positive: str, negative: str) -> tuple[type[BaseModel], ...]:
    labels = Literal[positive, negative]  # type: ignore[valid-type]
    common: dict[str, Any] = {
        "label": (labels, Field(description=f"{positive!r} when probability >= threshold, else {negative!r}.")),
        "label_value": (Literal[1, 0], Field(description=f"1 for {positive!r}, 0 for {negative!r}.")),
        "probability": (float, Field(ge=0, le=1, description=f"Calibrated probability of {positive!r}.")),
        "confidence": (float, Field(ge=0, le=1, description=CONFIDENCE_DESCRIPTION)),
        "threshold": (float, Field(description="The decision threshold chosen on the validation weeks.")),
        "model_version": (str, ...),
    }
    result = create_model(
        "PredictionResult",
        request_id=(str, Field(description="Send it to /v1/feedback with the true label when it is known.")),
        **common,
    )
    predict = create_model("PredictResponse", results=(list[result], ...))
    explain = create_model(
        "ExplainResponse",
        method=(str, Field(description="How the contributions are computed.")),
        contributions=(list[Contribution], Field(description="One per model input, largest |contribution| first.")),
        **common,
    )
    feedback = create_model(
        "FeedbackResponse",
        request_id=(str, ...),
        label=(labels, ...),
        label_value=(Literal[1, 0], ...),
        received_at=(str, ...),
        supersedes=(int, Field(description="How many earlier labels for this request id this one supersedes.")),
        note=(str, ...),
    )
    return (result, predict, explain, feedback)


# --- validation errors as one readable answer ----------------------------------------------------

MAX_ECHO = 80


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _echo(value: Any) -> Any:
    if isinstance(value, bool | int | str) or value is None:
        return value if len(repr(value)) <= MAX_ECHO else None
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)  # JSON has no NaN: say it as text
    return None


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Every error of `exc` as {field, loc, rule, message, value}."""
    return [
        {
            "field": _path(error["loc"]),
            "loc": list(error["loc"]),
            "rule": error["type"],
            "message": error["msg"],
            "value": _echo(error.get("input")) if error["type"] != "missing" else None,
        }
        for error in exc.errors(include_url=False)
    ]


def summary(errors: list[dict[str, Any]]) -> str:
    shown = ", ".join(f"{e['field'] or '(body)'} ({e['rule']})" for e in errors[:10])
    more = f" and {len(errors) - 10} more" if len(errors) > 10 else ""  # noqa: PLR2004
    return f"{len(errors)} invalid field(s): {shown}{more}"
