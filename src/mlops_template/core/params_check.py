"""params.yaml against the declared contract: every key that names a column names one of the right role.

Pure and light (pydantic only, no pandas): `mlops-template params check` runs it, and the stages
that read these keys (featurize, evaluate) refuse the same mistakes with the same words.
"""

from __future__ import annotations

from mlops_template.core.config import (
    ClassWeightChoice,
    FairnessParams,
    FeaturizeParams,
    FloatRange,
    IntRange,
    LogisticRegressionParams,
    MonitorDriftParams,
    Params,
    SimulatedSourceParams,
)
from mlops_template.core.contract_spec import ContractSpec

# A slice groups test rows by a column's values: a categorical input, or any column with a finite
# declared set of values.
SLICE_ROLES = ("categorical",)


def _not_numeric_input(where: str, name: str, contract: ContractSpec, rule: str) -> str | None:
    """Why `name` (under key `where`) is not a numeric input of `contract` (None: it is one)."""
    numeric = contract.by_role("numeric")
    if name not in {column.name for column in contract.columns}:
        return f"{where} is not a column of the contract (numeric inputs: {list(numeric)})"
    if name not in numeric:
        return f"{where} is a {contract.column(name).role} column (rule: {rule}: {list(numeric)})"
    return None


def featurize_problems(params: FeaturizeParams, contract: ContractSpec) -> list[str]:
    """What in `featurize:` does not fit the contract, one line per mistake naming key and column."""
    problems = []
    seen: set[str] = set()
    for name in params.numeric.log:
        where = f"featurize.numeric.log: {name!r}"
        wrong = _not_numeric_input(where, name, contract, "log applies to numeric inputs")
        if name in seen:
            problems.append(f"{where} is listed twice")
        elif wrong:
            problems.append(wrong)
        else:
            low = contract.column(name).min
            if low is None or low < 0:
                rule = "rule: log needs a declared min >= 0 in the contract"
                problems.append(f"{where} may be negative (declared min: {low}; {rule})")
        seen.add(name)
    time = params.event_time
    if not (time.hour or time.weekend or time.day_of_week) and not contract.by_role("numeric", "categorical"):
        problems.append("featurize.event_time: every time feature is off and the contract declares no other input")
    return problems


def slice_problems(slices: tuple[str, ...], contract: ContractSpec) -> list[str]:
    problems = []
    for name in slices:
        where = f"evaluate.slices: {name!r}"
        choices = [c.name for c in contract.columns if c.role in SLICE_ROLES or (c.allowed and c.role != "label")]
        if name not in {column.name for column in contract.columns}:
            problems.append(f"{where} is not a column of the contract (choose from {choices})")
        elif name not in choices:
            role = contract.column(name).role
            problems.append(
                f"{where} is a {role} column without allowed values "
                f"(rule: a slice groups rows by a categorical column or one with declared allowed values: {choices})"
            )
    return problems


# Groups for the fairness audit: never the id (one row each), the event time or the label.
FAIRNESS_EXCLUDED_ROLES = ("id", "event_time", "label")


def fairness_problems(fairness: FairnessParams, contract: ContractSpec) -> list[str]:
    """`evaluate.fairness.groups`: each a column of the contract that groups rows, by its values (a
    categorical column or one with allowed values) or cut into `bands` (a numeric dtype), once."""
    problems = []
    seen: set[str] = set()
    names = [c.name for c in contract.columns if c.role not in FAIRNESS_EXCLUDED_ROLES]
    for index, group in enumerate(fairness.groups):
        where = f"evaluate.fairness.groups.{index}.column: {group.column!r}"
        if group.column in seen:
            problems.append(f"{where} is listed twice (rule: one grouping per column)")
            continue
        seen.add(group.column)
        if group.column not in {column.name for column in contract.columns}:
            problems.append(f"{where} is not a column of the contract (choose from {names})")
            continue
        column = contract.column(group.column)
        if column.role in FAIRNESS_EXCLUDED_ROLES:
            problems.append(f"{where} is the {column.role} column (rule: group by any other column: {names})")
        elif group.bands is not None and column.dtype not in {"integer", "float"}:
            problems.append(
                f"evaluate.fairness.groups.{index}.bands: {group.column!r} is a {column.dtype} column "
                "(rule: bands cut a numeric column; group a text column by its values, without bands)"
            )
        elif group.bands is None and column.role != "categorical" and not column.allowed:
            problems.append(
                f"{where} is a {column.role} {column.dtype} column without allowed values (rule: group by a "
                "categorical column or one with declared allowed values, or give numeric columns bands)"
            )
    return problems


def gate_fairness_problems(params: Params) -> list[str]:
    """`gate.fairness.columns` names groupings the audit declares (`evaluate.fairness.groups`)."""
    declared = [group.column for group in params.evaluate.fairness.groups]
    return [
        f"gate.fairness.columns: {name!r} is not a grouping of evaluate.fairness.groups "
        f"(rule: the gate judges groupings the audit declares: {declared})"
        for name in params.gate.fairness.columns or ()
        if name not in declared
    ]


def simulated_source_problem(
    params: Params, contract: ContractSpec, default: ContractSpec, contract_source: str
) -> str | None:
    """Why the simulated source cannot feed `contract` (None: it can, or the source is not simulated)."""
    if not isinstance(params.source, SimulatedSourceParams) or contract == default:
        return None
    return (
        f"source.kind: 'simulated' generates the template's {default.name!r} rows, but {contract_source} "
        f"declares {contract.name!r} (rule: with your own contract, use source.kind: files)"
    )


def drift_problems(drift: MonitorDriftParams, contract: ContractSpec) -> list[str]:
    """`monitor.drift` names model inputs: trending ones numeric, ignored ones any input."""
    where = "monitor.drift.trending: {!r}"
    rule = "a trending input is a numeric input"
    found = (_not_numeric_input(where.format(name), name, contract, rule) for name in drift.trending)
    problems = [problem for problem in found if problem]
    for name in drift.seasonal:
        problem = _not_numeric_input(
            f"monitor.drift.seasonal: {name!r}", name, contract, "a seasonal input is a numeric input"
        )
        if problem:
            problems.append(problem)
        if name in drift.trending:
            problems.append(f"monitor.drift.seasonal: {name!r} is trending too (rule: one of the two)")
    inputs = contract.by_role("numeric", "categorical")
    for name in drift.ignored:
        where = f"monitor.drift.ignored: {name!r}"
        if name not in inputs:
            problems.append(f"{where} is not a model input of the contract (inputs: {list(inputs)})")
    return problems


def _nullable_numeric(contract: ContractSpec) -> list[str]:
    return [c.name for c in contract.columns if c.role == "numeric" and c.nullable]


def tune_problems(params: Params, contract: ContractSpec) -> list[str]:
    """What in `tune:` cannot make a study: today's `train.model` is trial 0 of every study, so it
    must be a point of the search space; a searched family must fit the features.

    Not a rule of `tune:` alone (config.py checks those), and not one the pipeline needs: `tune` and
    `params check` refuse these, `dvc repro` never reads the section.
    """
    found = []
    today = params.train.model
    families = params.tune.searched_families(today.kind)
    if today.kind not in families:
        found.append(
            f"tune.families: {list(families)} leaves out train.model.kind {today.kind!r} "
            "(rule: today's params are trial 0 of every study, so their family is searched)"
        )
    else:
        space = getattr(params.tune, today.kind)
        for name in type(space).model_fields:
            searched, value = getattr(space, name), getattr(today, name)
            if isinstance(searched, FloatRange | IntRange) and not searched.low <= value <= searched.high:
                found.append(
                    f"tune.{today.kind}.{name}: [{searched.low}, {searched.high}] leaves out today's "
                    f"train.model.{name} {value} (rule: today's params, trial 0, lie in the search space)"
                )
            elif isinstance(searched, ClassWeightChoice) and value not in searched.choices:
                found.append(
                    f"tune.{today.kind}.{name}: choices {list(searched.choices)} leave out today's "
                    f"train.model.{name} {value!r} (rule: today's params, trial 0, lie in the search space)"
                )
    nullable = _nullable_numeric(contract)
    linear = "logistic_regression"
    if linear in families and today.kind != linear and params.featurize.numeric.impute == "none" and nullable:
        found.append(
            f"tune.families: {linear!r} with featurize.numeric.impute 'none' meets the gaps of nullable "
            f"column(s) {nullable}, which it cannot take (rule: impute them, or search hist_gradient_boosting only)"
        )
    return found


def problems(params: Params, contract: ContractSpec, default: ContractSpec, contract_source: str) -> list[str]:
    """Every mistake in `params` against `contract`, one line each (empty: params and contract agree)."""
    found = [
        *featurize_problems(params.featurize, contract),
        *slice_problems(params.evaluate.slices, contract),
        *fairness_problems(params.evaluate.fairness, contract),
        *gate_fairness_problems(params),
        *drift_problems(params.monitor.drift, contract),
        *tune_problems(params, contract),
    ]
    refusal = simulated_source_problem(params, contract, default, contract_source)
    if refusal:
        found.append(refusal)
    nullable = _nullable_numeric(contract)
    if (
        params.featurize.numeric.impute == "none"
        and nullable
        and isinstance(params.train.model, LogisticRegressionParams)
    ):
        found.append(
            f"featurize.numeric.impute: 'none' leaves the gaps of nullable column(s) {nullable}, which "
            "train.model.kind 'logistic_regression' cannot take (rule: impute them, or use hist_gradient_boosting)"
        )
    return found
