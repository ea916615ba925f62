"""The reference profile: what the served model's inputs, scores and quality look like on held-out weeks.

Why held-out weeks (validation + test) and not the training weeks: a model scores its own training
rows too well (average precision 0.66 there against 0.45-0.52 on later weeks), so a live-accuracy
alarm measured against training would fire every week. The scores are the served artifact's, so
the reference is the model the API runs.

The profile is a JSON file validated on load (strict pydantic models): a truncated or hand-edited
profile fails with the key's path, never deep inside a detector.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlops_template.core import io
from mlops_template.core.config import MonitorProfileParams
from mlops_template.core.errors import MlopsTemplateError
from mlops_template.core.weeks import week_of
from mlops_template.data import schema
from mlops_template.model import statistics
from mlops_template.model.artifact import MISSING_CATEGORY, InputSpec, ServedModel

FORMAT: Literal[1] = 1
DIGITS = 6
SECONDS_PER_DAY = 86_400.0


class ProfileError(MlopsTemplateError):
    """The reference profile is missing, malformed, or not the served model's."""


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class NumericInput(_Model):
    """Counts in quantile bins of the reference (see statistics.bin_index), and the missing values."""

    kind: Literal["numeric"]
    transform: Literal["none", "hour_of_day"] = "none"
    trend_per_day: float = Field(0.0, description="Values moved back to reference_time at this rate a day.")
    rows: int = Field(ge=0)
    missing: int = Field(ge=0)
    edges: list[float]
    counts: list[Annotated[int, Field(ge=0)]]

    @model_validator(mode="after")
    def _shape(self) -> NumericInput:
        if len(self.counts) != len(self.edges) + 1:
            msg = f"counts has {len(self.counts)} bins, edges define {len(self.edges) + 1}"
            raise ValueError(msg)
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            msg = "edges must increase strictly"
            raise ValueError(msg)
        return self


class CategoricalInput(_Model):
    kind: Literal["categorical"]
    rows: int = Field(ge=0)
    missing: int = Field(ge=0)
    counts: dict[str, Annotated[int, Field(ge=0)]]


InputProfile = Annotated[NumericInput | CategoricalInput, Field(discriminator="kind")]


class Rule(_Model):
    """The contract's rule for one input: what the API accepts."""

    nullable: bool
    min: float | None = None
    max: float | None = None
    allowed: list[str] | None = None


class Scores(_Model):
    rows: int = Field(ge=1)
    mean: float
    flagged: int = Field(ge=0)
    edges: list[float]
    counts: list[Annotated[int, Field(ge=0)]]


class Performance(_Model):
    labelled: int = Field(ge=1)
    positives: int = Field(ge=1)
    recalled: int = Field(ge=0, description="Positives with a score at or above the threshold.")
    average_precision: float
    recall: float


class Calibration(_Model):
    rows: int = Field(ge=1)
    observed: int = Field(ge=0)
    expected: float = Field(ge=0.0)


class Week(_Model):
    rows: int = Field(ge=0)
    positives: int = Field(ge=0)
    flagged_share: float
    mean_score: float
    average_precision: float | None
    recall: float | None


class Profile(_Model):
    format: Literal[1]
    model_version: str = Field(min_length=1)
    threshold: float = Field(gt=0.0, lt=1.0)
    weeks: list[str] = Field(min_length=1)
    reference_time: str = Field(description="Mean event time of the reference rows (trending inputs move from it).")
    rows: int = Field(ge=1)
    rows_per_week: float = Field(gt=0.0)
    inputs: dict[str, InputProfile]
    contract: dict[str, Rule]
    scores: Scores
    performance: Performance
    calibration: Calibration
    per_week: dict[str, Week]

    @property
    def flagged_share(self) -> float:
        return self.scores.flagged / self.scores.rows

    @property
    def reference_timestamp(self) -> pd.Timestamp:
        return pd.Timestamp(self.reference_time)


def hour_of_day(stamps: pd.Series) -> np.ndarray:
    """Event times as hours since midnight UTC (their absolute value grows by construction)."""
    moments = pd.to_datetime(stamps, utc=True)
    return np.asarray(moments.dt.hour + moments.dt.minute / 60.0 + moments.dt.second / 3600.0, dtype=np.float64)


def moved_to(values: np.ndarray, stamps: pd.Series, when: pd.Timestamp, rate: float) -> np.ndarray:
    """A trending input moved back to `when`: value - rate x (days from `when` to the row's event time)."""
    if not rate:
        return values
    days = (pd.to_datetime(stamps, utc=True) - when).dt.total_seconds().to_numpy() / SECONDS_PER_DAY
    return np.asarray(values - rate * days, dtype=np.float64)


def numeric_values(frame: pd.DataFrame, spec: InputSpec) -> np.ndarray:
    """An input as float64 (NaN for missing); the event time as its hour of day."""
    if spec.kind == "timestamp":
        return hour_of_day(frame[spec.name])
    return pd.to_numeric(frame[spec.name], errors="coerce").astype("float64").to_numpy()


def categorical_values(frame: pd.DataFrame, name: str) -> pd.Series:
    """A categorical input as text, None for missing (the API's 'missing' category counts as missing)."""
    values = frame[name].astype(object)
    present = values.notna() & (values != MISSING_CATEGORY)
    return values.where(present, None).map(lambda v: None if v is None else str(v))


def _numeric_profile(values: np.ndarray, spec: InputSpec, bins: int, rate: float) -> NumericInput:
    edges = statistics.quantile_edges(values, bins)
    return NumericInput(
        kind="numeric",
        transform="hour_of_day" if spec.kind == "timestamp" else "none",
        trend_per_day=rate,
        rows=len(values),
        missing=int(np.isnan(values).sum()),
        edges=[float(e) for e in edges],
        counts=[int(c) for c in statistics.bin_counts(values, edges)],
    )


def _categorical_profile(values: pd.Series) -> CategoricalInput:
    present = values.dropna()
    counts = present.value_counts().sort_index()
    return CategoricalInput(
        kind="categorical",
        rows=len(values),
        missing=int(values.isna().sum()),
        counts={str(k): int(v) for k, v in counts.items()},
    )


def input_profile(frame: pd.DataFrame, spec: InputSpec, bins: int, when: pd.Timestamp, rate: float) -> InputProfile:
    """One input's profile; a trending one (`rate` a day) as it would be at `when`."""
    if spec.kind == "categorical":
        return _categorical_profile(categorical_values(frame, spec.name))
    values = moved_to(numeric_values(frame, spec), frame[schema.TIMESTAMP], when, rate)
    return _numeric_profile(values, spec, bins, rate)


def _check_trending(served: ServedModel, trending: Mapping[str, float]) -> None:
    numeric = sorted(spec.name for spec in served.inputs if spec.kind == "numeric")
    for name in trending:
        if name not in numeric:
            msg = f"monitor.drift.trending: {name!r} is not a numeric input of model {served.version} ({numeric})"
            raise ProfileError(msg)


def contract_rules(served: ServedModel) -> dict[str, Rule]:
    """The contract's rule for each model input (from the artifact's contract.json)."""
    columns = {c["name"]: c for c in served.contract.get("columns", [])}
    rules: dict[str, Rule] = {}
    for spec in served.inputs:
        column: Mapping[str, Any] = columns.get(spec.name, {})
        rules[spec.name] = Rule(
            nullable=bool(column.get("nullable", True)),
            min=None if column.get("min") is None else float(column["min"]),
            max=None if column.get("max") is None else float(column["max"]),
            allowed=None if column.get("allowed") is None else [str(a) for a in column["allowed"]],
        )
    return rules


def _week(labels: np.ndarray, scores: np.ndarray, threshold: float) -> Week:
    flagged = scores >= threshold
    positives = int(labels.sum())
    ap = None
    if 0 < positives < len(labels):
        ap = round(statistics.estimate(statistics.average_precision(labels, scores), len(labels)), DIGITS)
    return Week(
        rows=len(labels),
        positives=positives,
        flagged_share=round(float(flagged.mean()), DIGITS),
        mean_score=round(float(scores.mean()), DIGITS),
        average_precision=ap,
        recall=round(float(flagged[labels == 1].mean()), DIGITS) if positives else None,
    )


def build(
    rows: pd.DataFrame,
    labels: np.ndarray,
    scores: np.ndarray,
    served: ServedModel,
    params: MonitorProfileParams,
    *,
    trending: Mapping[str, float] | None = None,
) -> Profile:
    """The profile of held-out `rows` (contract columns), their 0/1 `labels` and the served `scores`.

    `trending` inputs (units a day, `monitor.drift.trending`) are profiled as at the rows' mean event
    time, and the monitor moves live values back to it at the same rate.
    """
    trending = dict(trending or {})
    _check_trending(served, trending)
    if len(rows) == 0 or len(rows) != len(labels) or len(rows) != len(scores):
        msg = f"reference rows: {len(rows)} rows, {len(labels)} labels, {len(scores)} scores (rule: the same, > 0)"
        raise ProfileError(msg)
    positives = int(labels.sum())
    if positives == 0 or positives == len(labels):
        msg = f"reference rows: {positives} positives in {len(labels)} rows (rule: both classes, to measure quality)"
        raise ProfileError(msg)
    threshold = served.threshold
    flagged = scores >= threshold
    stamps = pd.to_datetime(rows[schema.TIMESTAMP], utc=True)
    weeks = week_of(stamps).to_numpy()
    per_week = {str(w): _week(labels[weeks == w], scores[weeks == w], threshold) for w in sorted(set(weeks.tolist()))}
    score_edges = statistics.quantile_edges(scores, params.score_bins)
    mean_time = pd.Timestamp(int(stamps.astype("int64").mean()), tz="UTC")
    ap = statistics.estimate(statistics.average_precision(labels, scores), len(labels))
    return Profile(
        format=FORMAT,
        model_version=served.version,
        threshold=threshold,
        weeks=list(per_week),
        reference_time=mean_time.isoformat(),
        rows=len(rows),
        rows_per_week=round(len(rows) / len(per_week), DIGITS),
        inputs={
            spec.name: input_profile(rows, spec, params.bins, mean_time, trending.get(spec.name, 0.0))
            for spec in served.inputs
        },
        contract=contract_rules(served),
        scores=Scores(
            rows=len(scores),
            mean=round(float(scores.mean()), DIGITS),
            flagged=int(flagged.sum()),
            edges=[float(e) for e in score_edges],
            counts=[int(c) for c in statistics.bin_counts(scores, score_edges)],
        ),
        performance=Performance(
            labelled=len(labels),
            positives=positives,
            recalled=int(flagged[labels == 1].sum()),
            average_precision=round(ap, DIGITS),
            recall=round(float(flagged[labels == 1].mean()), DIGITS),
        ),
        calibration=Calibration(rows=len(labels), observed=positives, expected=round(float(scores.sum()), DIGITS)),
        per_week=per_week,
    )


def parse(raw: Any, source: str) -> Profile:
    """Validate a loaded profile, raising `ProfileError` with the key path and the rule."""
    try:
        return Profile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        path = ".".join(str(p) for p in first["loc"]) or "(top level)"
        value = "" if first["type"] == "missing" else f" (got {str(first.get('input'))[:80]!r})"
        msg = (
            f"{source}: {path}: {first['msg']}{value}; {exc.error_count()} problem(s) "
            "(rule: a profile written by the profile stage: `dvc repro profile`)"
        )
        raise ProfileError(msg) from None


def load(path: Path) -> Profile:
    try:
        raw = io.read_json(path)
    except FileNotFoundError:
        msg = f"--profile {path}: not found (the pipeline writes it: `dvc repro profile`)"
        raise ProfileError(msg) from None
    except (OSError, ValueError) as exc:
        msg = f"--profile {path}: not readable JSON ({exc})"
        raise ProfileError(msg) from None
    return parse(raw, str(path))


def write(path: Path, profile: Profile) -> Path:
    return io.write_json(path, profile.model_dump(mode="json"))
