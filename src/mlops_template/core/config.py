"""Typed configuration: one frozen, strict model per params.yaml section, plus runtime settings.

A typo or a bad value in params.yaml fails with the key's path and the rule it breaks.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlops_template.core.errors import ConfigError
from mlops_template.core.weeks import WEEK_PATTERN, parse_week

Week = Annotated[str, Field(pattern=WEEK_PATTERN, description="ISO week, e.g. 2026-W35")]
Share = Annotated[float, Field(ge=0.0, le=1.0)]


class _Section(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class BaseParams(_Section):
    seed: int = Field(42, ge=0, description="Seed for every random choice in the pipeline.")


# --- source: where `mlops-template data next-batch` takes new batches from ---------------------


class DriftParams(_Section):
    scenario: Literal["none", "covariate_shift", "new_fraud_pattern", "prior_shift", "natural_variation"] = "none"
    start_week: Week = "2026-W50"
    strength: float = Field(1.0, ge=0.0, le=5.0)


class SimulatedSourceParams(_Section):
    kind: Literal["simulated"]
    first_week: Week = "2026-W35"
    rows_per_week: int = Field(5000, ge=1, le=5_000_000)
    fraud_rate: float = Field(0.015, gt=0.0, lt=0.5)
    label_noise: Share = 0.002
    dirty_rate: Share = 0.0005
    customers: int = Field(20_000, ge=1)
    drift: DriftParams = DriftParams()


class FileSourceParams(_Section):
    kind: Literal["files"]
    path: str = Field(min_length=1, description="A file, directory or glob of .csv/.parquet batches.")


SourceParams = Annotated[SimulatedSourceParams | FileSourceParams, Field(discriminator="kind")]


# --- stages ---------------------------------------------------------------------------------------


class IngestParams(_Section):
    max_rejected_share: Share = 0.01
    valid_weeks: int = Field(1, ge=1)
    test_weeks: int = Field(1, ge=1)
    train_weeks: int | None = Field(None, ge=1, description="Sliding window; null keeps every week.")


# YAML has lists, not tuples: these fields convert (the items stay strictly strings).
ColumnNames = Annotated[tuple[Annotated[str, Field(strict=True)], ...], Field(strict=False)]


class NumericTreatment(_Section):
    """The contract's numeric inputs: optional log, gap filling, standardisation."""

    impute: Literal["median", "mean", "none"] = Field(
        "median", description="How gaps of nullable columns are filled (none: left as NaN, trees only)."
    )
    missing_indicator: bool = Field(True, description="Add a 0/1 column per imputed column that had gaps.")
    scale: bool = Field(True, description="Standardise to mean 0, variance 1 (fitted on train).")
    log: ColumnNames = Field((), description="Numeric columns taken as log(1 + x) first (declared min >= 0).")


class CategoricalTreatment(_Section):
    """The contract's categorical inputs: one-hot, with rare and unseen values pooled in one column."""

    min_category_frequency: int = Field(20, ge=1, description="Rarer training values share one column.")


class EventTimeTreatment(_Section):
    """Features of the event time (UTC): each group on or off."""

    hour: bool = Field(True, description="hour_sin, hour_cos (cyclic, to the minute) and is_night (0-6h).")
    weekend: bool = Field(True, description="is_weekend (Saturday or Sunday).")
    day_of_week: bool = Field(False, description="day_sin, day_cos (cyclic day of the week, Monday = 0).")


class FeaturizeParams(_Section):
    numeric: NumericTreatment = NumericTreatment()
    categorical: CategoricalTreatment = CategoricalTreatment()
    event_time: EventTimeTreatment = EventTimeTreatment()


class LogisticRegressionParams(_Section):
    kind: Literal["logistic_regression"]
    C: float = Field(1.0, gt=0.0)
    max_iter: int = Field(1000, ge=10)
    class_weight: Literal["balanced"] | None = None


class HistGradientBoostingParams(_Section):
    kind: Literal["hist_gradient_boosting"]
    learning_rate: float = Field(0.1, gt=0.0, le=1.0)
    max_iter: int = Field(200, ge=1)
    max_leaf_nodes: int = Field(31, ge=2)
    min_samples_leaf: int = Field(20, ge=1)
    l2_regularization: float = Field(0.0, ge=0.0)


ModelParams = Annotated[LogisticRegressionParams | HistGradientBoostingParams, Field(discriminator="kind")]


class CalibrationParams(_Section):
    method: Literal["sigmoid", "isotonic"] = "isotonic"
    folds: int = Field(3, ge=2, le=10)


class MaxF1Rule(_Section):
    rule: Literal["max_f1"]


class MinPrecisionRule(_Section):
    rule: Literal["min_precision"]
    target: float = Field(gt=0.0, le=1.0)


class MinRecallRule(_Section):
    rule: Literal["min_recall"]
    target: float = Field(gt=0.0, le=1.0)


class MinCostRule(_Section):
    rule: Literal["min_cost"]
    false_negative_cost: float = Field(gt=0.0)
    false_positive_cost: float = Field(gt=0.0)


class FixedRule(_Section):
    rule: Literal["fixed"]
    value: float = Field(gt=0.0, lt=1.0)


ThresholdRule = Annotated[
    MaxF1Rule | MinPrecisionRule | MinRecallRule | MinCostRule | FixedRule,
    Field(discriminator="rule"),
]


class TrainParams(_Section):
    model: ModelParams
    calibration: CalibrationParams = CalibrationParams()
    threshold: ThresholdRule = MaxF1Rule(rule="max_f1")


class FairnessGrouping(_Section):
    """One way to group rows for the fairness audit: a column's values, or a numeric column cut into bands."""

    column: str = Field(min_length=1, description="A column of the contract (any role but id, event time, label).")
    bands: Annotated[tuple[Annotated[float, Field(strict=False)], ...], Field(strict=False, min_length=1)] | None = (
        Field(None, description="Inner edges, increasing: [30, 45] cuts into < 30, [30, 45), >= 45 (and missing).")
    )

    @field_validator("bands")
    @classmethod
    def _increasing(cls, bands: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if bands is not None and any(b <= a for a, b in pairwise(bands)):
            msg = "the edges must increase strictly"
            raise ValueError(msg)
        return bands


class FairnessParams(_Section):
    """The fairness audit (model/fairness.py): per-group error rates at the threshold, and their gaps."""

    groups: tuple[FairnessGrouping, ...] = Field((), strict=False, description="No default: the data decide.")
    min_rows: int = Field(100, ge=1, description="A group with fewer rows is too small to judge.")
    min_positives: int = Field(10, ge=1, description="A group with fewer positives is too small to judge.")
    resamples: int = Field(1000, ge=100, le=100_000)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)


class EvaluateParams(_Section):
    # YAML has lists, not tuples: this one field converts (the items stay strictly strings).
    # No default slices: which columns to slice by depends on the data (params.yaml names them).
    slices: Annotated[tuple[Annotated[str, Field(strict=True)], ...], Field(strict=False)] = ()
    fairness: FairnessParams = FairnessParams()
    min_slice_rows: int = Field(100, ge=1)
    calibration_bins: int = Field(10, ge=2, le=100)
    importance_repeats: int = Field(5, ge=1)
    importance_max_rows: int = Field(5000, ge=100)
    curve_points: int = Field(200, ge=10, description="Max points kept in ROC/PR plot files.")


class TrackingParams(_Section):
    enabled: bool = True
    # Neutral defaults named after the project (a rename renames them); params.yaml names the task's own.
    experiment: str = Field("mlops-template", min_length=1)
    registered_model: str = Field("mlops-template-model", min_length=1)


# --- gate: the promotion gate (`mlops-template gate`), candidate against champion ------------------

GATE_METRICS = ("average_precision", "recall")


class GateMetricRule(_Section):
    """Rules for one metric; values are absolute (a difference of 0.02 is two points of the metric)."""

    floor: Share = Field(description="The candidate's point estimate must reach at least this.")
    max_regression: Share = Field(description="Fail unless the difference's lower bound >= -max_regression.")
    min_gain: Share = Field(description="A gain is meaningful at this size or more, with a lower bound above 0.")


class GateGapRule(_Section):
    """A gap between groups (highest minus lowest rate); null turns a rule off."""

    max_gap: Share | None = Field(None, description="Fail when the gap's lower bound is above this.")
    max_increase: Share | None = Field(None, description="Fail when the growth's lower bound is above this.")


class GateRatioRule(_Section):
    """The flagged-share ratio (lowest over highest group: 1 is parity); null turns a rule off."""

    min_ratio: Share | None = Field(None, description="Fail when the ratio's upper bound is below this.")
    max_decrease: Share | None = Field(None, description="Fail when the fall's lower bound is above this.")


class GateFairnessParams(_Section):
    """Rules on the fairness audit's gaps (groups: evaluate.fairness), for the groupings in `columns`."""

    columns: Annotated[tuple[Annotated[str, Field(strict=True)], ...], Field(strict=False)] | None = Field(
        None, description="The evaluate.fairness groupings the rules judge (the rest are reported); null: all."
    )
    recall: GateGapRule = GateGapRule()
    false_positive_rate: GateGapRule = GateGapRule()
    flagged_share_ratio: GateRatioRule = GateRatioRule()


class GateSliceParams(_Section):
    """When the PR report calls a slice's change better or worse (else: within noise)."""

    min_positives: int = Field(20, ge=1, description="Fewer positives in the slice: always within noise.")


class GateParams(_Section):
    average_precision: GateMetricRule = GateMetricRule(floor=0.2, max_regression=0.03, min_gain=0.005)
    recall: GateMetricRule = GateMetricRule(floor=0.2, max_regression=0.10, min_gain=0.01)
    fairness: GateFairnessParams = GateFairnessParams()
    slices: GateSliceParams = GateSliceParams()
    require_gain: bool = Field(False, description="Fail a candidate that is not meaningfully better.")
    resamples: int = Field(1000, ge=100, le=100_000)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    seed: int = Field(42, ge=0)

    def rule(self, metric: str) -> GateMetricRule:
        found: GateMetricRule = getattr(self, metric)
        return found


# --- monitor: the reference profile and the detectors (`mlops-template monitor`) -------------------


class MonitorProfileParams(_Section):
    bins: int = Field(10, ge=2, le=50, description="Quantile bins per numeric input in the reference profile.")
    score_bins: int = Field(20, ge=2, le=100, description="Quantile bins of the score distribution.")


class MonitorPerformanceParams(_Section):
    min_labelled_positives: int = Field(30, ge=1, description="Fewer labelled positives: 'insufficient'.")
    roc_auc_max_drop: Share = Field(0.05, description="ROC AUC below the reference by this much (base-rate free).")
    recall_max_drop: Share = 0.1
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    # The bootstrapped average precision (it follows the base rate: ROC AUC replaced it) judges only
    # profiles written before ROC AUC, with the params committed beside them (`--profile-from-history`).
    average_precision_max_drop: Share = 0.1
    resamples: int = Field(400, ge=50, le=100_000)
    seed: int = Field(42, ge=0)


class MonitorCalibrationParams(_Section):
    min_expected_positives: float = Field(10.0, gt=0.0, description="Fewer expected positives: 'insufficient'.")
    max_ratio_change: float = Field(0.3, gt=0.0, description="Breach when |observed/expected - 1| reaches this.")


class MonitorVolumeParams(_Section):
    flagged_share_max_relative_change: float = Field(0.25, gt=0.0)
    rows_per_week_max_ratio: float | None = Field(
        3.0, gt=1.0, description="Breach when rows a week are above ratio x or below 1/ratio x the reference."
    )


class MonitorDriftParams(_Section):
    psi_threshold: float = Field(0.1, gt=0.0, description="Population stability index that counts as drift.")
    score_psi_threshold: float = Field(0.1, gt=0.0)
    # Inputs that move by construction, in units per day (compared with a reference moved as far).
    trending: dict[str, float] = Field(default_factory=dict)
    # Numeric inputs whose level and spread follow the season: compared after standardising each week
    # (median, interquartile range), so the season is not drift and a change of shape still is.
    seasonal: Annotated[tuple[Annotated[str, Field(strict=True)], ...], Field(strict=False)] = ()
    ignored: Annotated[tuple[Annotated[str, Field(strict=True)], ...], Field(strict=False)] = ()


class MonitorQualityParams(_Section):
    missing_rate_max_increase: Share = 0.15
    max_violation_share: Share = 0.01


class MonitorBandsParams(_Section):
    """Reference bands: each statistic per reference week; a breach must also leave the weeks' band."""

    k: float = Field(
        3.0, gt=0.0, le=10.0, description="Band: centre +/- k standard deviations (Student's t for few weeks)."
    )
    min_weeks: int = Field(4, ge=2, description="Fewer reference weeks with a value: no band (a warning).")


class MonitorParams(_Section):
    window_weeks: int = Field(2, ge=1, le=52, description="The window when no --start/--end or --weeks is given.")
    min_rows: int = Field(500, ge=1, description="Fewer rows in the window: drift tests are 'insufficient'.")
    family_alpha: float = Field(0.01, gt=0.0, lt=0.5, description="False-alarm rate of one run (Bonferroni).")
    profile: MonitorProfileParams = MonitorProfileParams()
    performance: MonitorPerformanceParams = MonitorPerformanceParams()
    calibration: MonitorCalibrationParams = MonitorCalibrationParams()
    volume: MonitorVolumeParams = MonitorVolumeParams()
    drift: MonitorDriftParams = MonitorDriftParams()
    quality: MonitorQualityParams = MonitorQualityParams()
    bands: MonitorBandsParams = MonitorBandsParams()


# --- tune: `mlops-template tune`, the search over walk-forward folds (no stage reads it) -----------

ModelKind = Literal["logistic_regression", "hist_gradient_boosting"]


class FloatRange(_Section):
    """A float searched from `low` to `high` (both included), evenly on a log scale when `log`."""

    low: float
    high: float
    log: bool = Field(False, description="Search log(value) evenly: for scales (rates, penalties).")

    @model_validator(mode="after")
    def _a_range(self) -> FloatRange:
        if not self.low < self.high:
            msg = f"low {self.low} is not below high {self.high} (rule: low < high)"
            raise ValueError(msg)
        if self.log and self.low <= 0:
            msg = f"low {self.low} with log: true (rule: a log scale needs low > 0)"
            raise ValueError(msg)
        return self


class IntRange(_Section):
    """A whole number searched from `low` to `high` (both included), evenly on a log scale when `log`."""

    low: int
    high: int
    log: bool = Field(False, description="Search log(value) evenly: small values are tried as often as large.")

    @model_validator(mode="after")
    def _a_range(self) -> IntRange:
        if not self.low < self.high:
            msg = f"low {self.low} is not below high {self.high} (rule: low < high)"
            raise ValueError(msg)
        if self.log and self.low < 1:
            msg = f"low {self.low} with log: true (rule: a log scale needs low >= 1)"
            raise ValueError(msg)
        return self


class ClassWeightChoice(_Section):
    """`class_weight` chosen among these values (null: every row weighs the same)."""

    choices: Annotated[tuple[Literal["balanced"] | None, ...], Field(strict=False, min_length=1)]

    @model_validator(mode="after")
    def _distinct(self) -> ClassWeightChoice:
        if len(set(self.choices)) != len(self.choices):
            msg = f"choices {list(self.choices)} repeat a value (rule: each choice once)"
            raise ValueError(msg)
        return self


def _inside_model_rules(space: BaseModel, model: type[BaseModel], kind: str) -> None:
    """Each range's ends must be values `train.model` itself accepts (learning_rate <= 1, ...)."""
    for name in type(space).model_fields:
        searched = getattr(space, name)
        if not isinstance(searched, FloatRange | IntRange):
            continue
        for end in ("low", "high"):
            value = getattr(searched, end)
            try:
                model.model_validate({"kind": kind, name: value})
            except ValidationError as exc:
                rule = exc.errors(include_url=False)[0]["msg"]
                msg = f"{name}.{end}: {value} is not a value train.model.{name} accepts ({rule})"
                raise ValueError(msg) from None


class HistGradientBoostingSpace(_Section):
    """The search space of `hist_gradient_boosting`; a key set to null is not searched (today's value)."""

    learning_rate: FloatRange | None = FloatRange(low=0.02, high=0.3, log=True)
    max_iter: IntRange | None = IntRange(low=50, high=300)
    max_leaf_nodes: IntRange | None = IntRange(low=7, high=63, log=True)
    min_samples_leaf: IntRange | None = IntRange(low=10, high=200, log=True)
    l2_regularization: FloatRange | None = FloatRange(low=0.001, high=10.0, log=True)

    @model_validator(mode="after")
    def _valid_model_values(self) -> HistGradientBoostingSpace:
        _inside_model_rules(self, HistGradientBoostingParams, "hist_gradient_boosting")
        return self


class LogisticRegressionSpace(_Section):
    """The search space of `logistic_regression` (max_iter only bounds the solver: it is not searched)."""

    C: FloatRange | None = FloatRange(low=0.001, high=100.0, log=True)
    class_weight: ClassWeightChoice | None = ClassWeightChoice(choices=(None, "balanced"))

    @model_validator(mode="after")
    def _valid_model_values(self) -> LogisticRegressionSpace:
        _inside_model_rules(self, LogisticRegressionParams, "logistic_regression")
        return self


class MedianPrunerParams(_Section):
    """Stop a trial whose fold score is below the median of earlier trials at the same fold."""

    kind: Literal["median"] = "median"
    startup_trials: int = Field(5, ge=0, description="Trials that run every fold before any is pruned.")
    warmup_folds: int = Field(0, ge=0, description="Folds every trial runs before it may be pruned (0: none).")


class TuneParams(_Section):
    trials: int = Field(50, ge=1, description="Finished trials (complete or pruned) the study holds, resumes included.")
    timeout_minutes: float | None = Field(
        60.0, gt=0.0, description="No trial starts after this long in one run; null: no time budget."
    )
    seed: int = Field(42, ge=0, description="Seed of the sampler (TPE).")
    folds: int = Field(3, ge=1, le=52, description="Walk-forward folds: the last `folds` weeks before test, each once.")
    families: Annotated[tuple[ModelKind, ...], Field(strict=False)] | None = Field(
        None, description="Model families searched (more than one: the family is a choice); null: today's."
    )
    min_gain: Share = Field(0.0, description="Propose a change only when the best trial beats trial 0 by this much.")
    pruner: MedianPrunerParams = MedianPrunerParams()
    hist_gradient_boosting: HistGradientBoostingSpace = HistGradientBoostingSpace()
    logistic_regression: LogisticRegressionSpace = LogisticRegressionSpace()

    @model_validator(mode="after")
    def _distinct_families(self) -> TuneParams:
        if self.families is None:
            return self
        if not self.families:
            msg = "families [] is empty (rule: at least one family, or null for today's)"
            raise ValueError(msg)
        if len(set(self.families)) != len(self.families):
            msg = f"families {list(self.families)} repeat a family (rule: each family once)"
            raise ValueError(msg)
        return self

    def searched_families(self, today: ModelKind) -> tuple[ModelKind, ...]:
        """The families a study searches: `families`, or today's family alone."""
        return self.families if self.families is not None else (today,)


class Params(_Section):
    base: BaseParams = BaseParams()
    source: SourceParams
    ingest: IngestParams = IngestParams()
    featurize: FeaturizeParams = FeaturizeParams()
    train: TrainParams
    evaluate: EvaluateParams = EvaluateParams()
    tracking: TrackingParams = TrackingParams()
    gate: GateParams = GateParams()
    monitor: MonitorParams = MonitorParams()
    # Left out of every dump: it changes no model, so model cards and the MLflow params of pipeline
    # runs stay as they were, and no stage lists it in dvc.yaml (editing it re-runs nothing).
    tune: TuneParams = Field(TuneParams(), exclude=True)

    @model_validator(mode="after")
    def _weeks_exist(self) -> Params:
        if isinstance(self.source, SimulatedSourceParams):
            for where, label in (
                ("source.first_week", self.source.first_week),
                ("source.drift.start_week", self.source.drift.start_week),
            ):
                try:
                    parse_week(label)
                except ValueError as exc:
                    msg = f"{where}: {exc}"
                    raise ValueError(msg) from exc
        return self


def _format_validation_error(source: str, error: ValidationError) -> str:
    """One mistake is one line naming the key, the rule and the value; several get a count and a line each."""
    found = []
    for item in error.errors(include_url=False):
        path = ".".join(str(part) for part in item["loc"]) or "(top level)"
        value = "" if item["type"] == "missing" else f" (got {item.get('input')!r})"
        found.append(f"{path}: {item['msg']}{value}")
    if len(found) == 1:
        return f"{source}: {found[0]}"
    return "\n".join([f"{source}: {len(found)} invalid values", *(f"  {line}" for line in found)])


def parse_params(raw: Any, source: str = "params.yaml") -> Params:
    """Validate an already-loaded mapping into `Params`, raising `ConfigError` with key paths."""
    if not isinstance(raw, dict):
        msg = f"{source}: expected a mapping of sections (base, source, ingest, ...), got {type(raw).__name__}"
        raise ConfigError(msg)
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(source, exc)) from None


def load_params(path: Path = Path("params.yaml")) -> Params:
    """Read and validate params.yaml."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = f"{path}: file not found (run from the repository root or pass --params)"
        raise ConfigError(msg) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        msg = f"{path}: not valid YAML: {exc}"
        raise ConfigError(msg) from None
    return parse_params(raw, str(path))


def find_project_root(start: Path | None = None) -> Path:
    """Return the nearest directory at or above `start` that holds a DVC project (`.dvc/`)."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".dvc").is_dir():
            return candidate
    return here


class Settings(BaseSettings):
    """Runtime settings from the environment (never from params.yaml: they do not change results)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    mlflow_tracking_uri: str | None = Field(None, validation_alias="MLFLOW_TRACKING_URI")
    mlflow_registry_uri: str | None = Field(None, validation_alias="MLFLOW_REGISTRY_URI")
    # DVC sets DVC_ROOT for every stage command to the project's root; in a queued or `--temp`
    # experiment, which runs in a copy of the project under `<project>/.dvc/tmp/exps/`, it is still
    # the project's root, not the copy's (DVC 3.67, verified by tests/experiments/).
    dvc_root: Path | None = Field(None, validation_alias="DVC_ROOT")

    def store_root(self, root: Path) -> Path:
        """The project whose stores (MLflow's) `root` shares: `root` itself, or, when `root` is DVC's
        temporary copy of the project (inside the project's `.dvc/`), the project it was copied from.

        The copy is deleted after its experiment: a run logged there would be lost with it.
        """
        root = root.resolve()
        if self.dvc_root is not None:
            project = self.dvc_root.resolve()
            if root.is_relative_to(project / ".dvc"):
                return project
        return root

    def tracking_uri(self, root: Path) -> str:
        """The MLflow store: the environment's server, else a SQLite file in the project (the one
        project's file for every DVC experiment, queued ones included: see `store_root`)."""
        return self.mlflow_tracking_uri or f"sqlite:///{self.store_root(root) / 'mlruns.db'}"

    def artifact_location(self, root: Path) -> str | None:
        """Where a new experiment keeps artifacts: beside a SQLite store, else the server's default.

        (MLflow's own default for a SQLite store is `./mlruns` in whatever the working directory is.)
        """
        uri = self.tracking_uri(root)
        if not uri.startswith("sqlite:///"):
            return None
        database = Path(uri.removeprefix("sqlite:///"))
        return (database.parent / "mlartifacts").resolve().as_uri()
