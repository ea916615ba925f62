"""The reference profile: what the served model's inputs, scores and quality look like on held-out weeks,
and how much each statistic moved from one reference week to the next (the bands).

Why held-out weeks (validation + test) for the levels and not the training weeks: a model scores its
own training rows too well (average precision 0.66 there against 0.45-0.52 on later weeks), so a
live-accuracy alarm measured against training would fire every week. The scores are the served
artifact's, so the reference is the model the API runs. The training weeks still count for the
bands: each week's statistic is moved by its group's mean to the held-out level, so they give the
week-to-week spread and never the level (see reference_bands).

The profile is a JSON file validated on load (strict pydantic models): a truncated or hand-edited
profile fails with the key's path, never deep inside a detector.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
from mlops_template.monitoring import ranking, reference_bands
from mlops_template.monitoring.reference_bands import Band

FORMAT: Literal[1] = 1
DIGITS = 6
SECONDS_PER_DAY = 86_400.0
OTHER = "(other)"  # live categories the reference never saw
HELD_OUT, TRAINING, ALL = "held_out", "training", "all"  # groups of reference weeks (reference_bands)
Transform = Literal["none", "hour_of_day", "week_standardised"]


class ProfileError(MlopsTemplateError):
    """The reference profile is missing, malformed, or not the served model's."""


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class NumericInput(_Model):
    """Counts in quantile bins of the reference (see statistics.bin_index), and the missing values."""

    kind: Literal["numeric"]
    transform: Transform = "none"
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
    roc_auc: float | None = Field(None, description="None in profiles written before ROC AUC was judged.")
    roc_auc_se: float | None = None


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
    band_weeks: list[str] = Field(default_factory=list, description="The weeks the bands come from.")
    bands: dict[str, Band] = Field(default_factory=dict, description="Per detector: its statistic per week.")

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


def week_standardised(values: np.ndarray, stamps: pd.Series) -> np.ndarray:
    """A seasonal input within its ISO week: (value - the week's median) / the week's interquartile range.

    The season moves an input's level and spread from week to week; what is left is its shape, which a
    broken feed still changes (a constant, a clipped range, a new mode).
    """
    weeks = week_of(pd.to_datetime(stamps, utc=True)).to_numpy()
    found = np.full(len(values), np.nan)
    for week in np.unique(weeks):
        rows = weeks == week
        present = values[rows][~np.isnan(values[rows])]
        if len(present) == 0:
            continue
        low, middle, high = np.percentile(present, [25, 50, 75])
        found[rows] = (values[rows] - middle) / (high - low if high > low else 1.0)
    return found


def comparable_values(frame: pd.DataFrame, name: str, spec: NumericInput, when: pd.Timestamp) -> np.ndarray:
    """A numeric input as the profile compares it: hour of day, moved back to `when`, or standardised per week."""
    if spec.transform == "hour_of_day":
        return hour_of_day(frame[name])
    values = pd.to_numeric(frame[name], errors="coerce").astype("float64").to_numpy()
    if spec.transform == "week_standardised":
        return week_standardised(values, frame[schema.TIMESTAMP])
    return moved_to(values, frame[schema.TIMESTAMP], when, spec.trend_per_day)


def categorical_values(frame: pd.DataFrame, name: str) -> pd.Series:
    """A categorical input as text, None for missing (the API's 'missing' category counts as missing)."""
    values = frame[name].astype(object)
    present = values.notna() & (values != MISSING_CATEGORY)
    return values.where(present, None).map(lambda v: None if v is None else str(v))


def categorical_counts(frame: pd.DataFrame, name: str, spec: CategoricalInput) -> tuple[list[str], np.ndarray]:
    """Counts over the reference's categories and OTHER (for the live window and each reference week)."""
    values = categorical_values(frame, name).dropna()
    counted = values.where(values.isin(list(spec.counts)), OTHER).value_counts()
    bins = [*spec.counts, OTHER]
    return bins, np.array([int(counted.get(b, 0)) for b in bins])


def _transform(spec: InputSpec, rate: float, seasonal: bool) -> Transform:
    if spec.kind == "timestamp":
        return "hour_of_day"
    return "week_standardised" if seasonal and not rate else "none"


def _numeric_profile(
    frame: pd.DataFrame, spec: InputSpec, bins: int, when: pd.Timestamp, *, how: Transform, rate: float
) -> NumericInput:
    shape = NumericInput(kind="numeric", transform=how, trend_per_day=rate, rows=0, missing=0, edges=[], counts=[0])
    values = comparable_values(frame, spec.name, shape, when)
    raw = numeric_values(frame, spec)
    edges = statistics.quantile_edges(values, bins)
    return NumericInput(
        kind="numeric",
        transform=how,
        trend_per_day=rate,
        rows=len(values),
        missing=int(np.isnan(raw).sum()),
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


def input_profile(
    frame: pd.DataFrame, spec: InputSpec, bins: int, when: pd.Timestamp, rate: float, *, seasonal: bool = False
) -> InputProfile:
    """One input's profile; a trending one (`rate` a day) as it would be at `when`, a seasonal one per week."""
    if spec.kind == "categorical":
        return _categorical_profile(categorical_values(frame, spec.name))
    return _numeric_profile(frame, spec, bins, when, how=_transform(spec, rate, seasonal), rate=rate)


def missing_count(frame: pd.DataFrame, name: str, spec: InputProfile) -> int:
    if isinstance(spec, CategoricalInput):
        return int(categorical_values(frame, name).isna().sum())
    return int(pd.to_numeric(frame[name], errors="coerce").isna().sum())


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


def _held_out(weeks: np.ndarray, held_out: Iterable[str] | None) -> np.ndarray:
    """Rows of the held-out weeks (all rows when `held_out` is None)."""
    if held_out is None:
        return np.ones(len(weeks), dtype=bool)
    wanted = set(held_out)
    rows = np.isin(weeks, list(wanted))
    if not rows.any():
        msg = f"reference rows: none in the held-out weeks {sorted(wanted)} (rule: the held-out weeks have rows)"
        raise ProfileError(msg)
    return rows


def _ratio(labels: np.ndarray, scores: np.ndarray) -> float | None:
    expected = float(scores.sum())
    return float(labels.sum()) / expected if expected > 0 else None


def _model_bands(
    labels: np.ndarray, scores: np.ndarray, weeks: np.ndarray, groups: dict[str, str], centre: Profile
) -> dict[str, Band | None]:
    """The model's statistics per week (each group moved to the held-out level): see reference_bands."""
    flagged: dict[str, float] = {}
    ratio: dict[str, float] = {}
    auc: dict[str, float] = {}
    recall: dict[str, float] = {}
    score_counts: dict[str, np.ndarray] = {}
    edges = np.asarray(centre.scores.edges)
    for week in groups:
        rows = weeks == week
        own_labels, own_scores = labels[rows], scores[rows]
        hit = own_scores >= centre.threshold
        flagged[week] = float(hit.mean())
        score_counts[week] = statistics.bin_counts(own_scores, edges)
        found = _ratio(own_labels, own_scores)
        if found is not None:
            ratio[week] = found
        area = ranking.roc_auc(own_labels, own_scores)
        if area is not None:
            auc[week] = area.value
            recall[week] = float(hit[own_labels == 1].mean())
    return {
        "flagged_share": reference_bands.level(flagged, groups, HELD_OUT),
        "observed_vs_expected": reference_bands.level(ratio, groups, HELD_OUT),
        "roc_auc": reference_bands.level(auc, groups, HELD_OUT, "low"),
        "recall_at_threshold": reference_bands.level(recall, groups, HELD_OUT, "low"),
        "score_psi": reference_bands.drift(score_counts, groups),
    }


def _input_bands(rows: pd.DataFrame, weeks: np.ndarray, centre: Profile) -> dict[str, Band | None]:
    """The inputs' statistics per week, one group (no model involved): PSI, missing share; and traffic."""
    groups = dict.fromkeys(sorted(set(weeks.tolist())), ALL)
    when = centre.reference_timestamp
    found: dict[str, Band | None] = {
        "rows_per_week": reference_bands.level({w: float((weeks == w).sum()) for w in groups}, groups, ALL)
    }
    for name, spec in centre.inputs.items():
        counts: dict[str, np.ndarray] = {}
        missing: dict[str, float] = {}
        for week in groups:
            frame = rows[weeks == week]
            if isinstance(spec, NumericInput):
                counts[week] = statistics.bin_counts(comparable_values(frame, name, spec, when), np.asarray(spec.edges))
            else:
                counts[week] = categorical_counts(frame, name, spec)[1]
            missing[week] = missing_count(frame, name, spec) / len(frame)
        found[f"psi:{name}"] = reference_bands.drift(counts, groups)
        found[f"missing:{name}"] = reference_bands.level(missing, groups, ALL, "high")
    return found


def build(
    rows: pd.DataFrame,
    labels: np.ndarray,
    scores: np.ndarray,
    served: ServedModel,
    params: MonitorProfileParams,
    *,
    trending: Mapping[str, float] | None = None,
    seasonal: Iterable[str] = (),
    held_out: Iterable[str] | None = None,
) -> Profile:
    """The profile of reference `rows` (contract columns), their 0/1 `labels` and the served `scores`.

    The levels come from the `held_out` weeks (None: every week is held out); the bands from every week,
    the others (the training weeks) moved to the held-out level. `trending` inputs (units a day,
    `monitor.drift.trending`) are profiled as at the held-out rows' mean event time, and the monitor
    moves live values back to it at the same rate; `seasonal` ones are standardised per week.
    """
    trending = dict(trending or {})
    _check_trending(served, trending)
    if len(rows) == 0 or len(rows) != len(labels) or len(rows) != len(scores):
        msg = f"reference rows: {len(rows)} rows, {len(labels)} labels, {len(scores)} scores (rule: the same, > 0)"
        raise ProfileError(msg)
    rows = rows.reset_index(drop=True)
    week_of_row = week_of(pd.to_datetime(rows[schema.TIMESTAMP], utc=True)).to_numpy().astype(str)
    held = _held_out(week_of_row, held_out)
    centre = _levels(
        rows[held].reset_index(drop=True), labels[held], scores[held], served, params, trending, set(seasonal)
    )
    groups = {str(w): HELD_OUT if w in centre.per_week else TRAINING for w in sorted(set(week_of_row.tolist()))}
    bands = {
        **_model_bands(labels, scores, week_of_row, groups, centre),
        **_input_bands(rows, week_of_row, centre),
    }
    return centre.model_copy(
        update={"band_weeks": list(groups), "bands": {k: v for k, v in bands.items() if v is not None}}
    )


def _levels(  # noqa: PLR0917 (the held-out part of build's arguments)
    rows: pd.DataFrame,
    labels: np.ndarray,
    scores: np.ndarray,
    served: ServedModel,
    params: MonitorProfileParams,
    trending: Mapping[str, float],
    seasonal: set[str],
) -> Profile:
    """The held-out weeks' profile (no bands yet)."""
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
    area = ranking.roc_auc(labels, scores)
    return Profile(
        format=FORMAT,
        model_version=served.version,
        threshold=threshold,
        weeks=list(per_week),
        reference_time=mean_time.isoformat(),
        rows=len(rows),
        rows_per_week=round(len(rows) / len(per_week), DIGITS),
        inputs={
            spec.name: input_profile(
                rows, spec, params.bins, mean_time, trending.get(spec.name, 0.0), seasonal=spec.name in seasonal
            )
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
            roc_auc=None if area is None else round(area.value, DIGITS),
            roc_auc_se=None if area is None else round(area.standard_error, DIGITS),
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
