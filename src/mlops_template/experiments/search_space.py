"""A trial's model params from the `tune:` section, and today's params as the study's first trial.

Optuna's parameters are named as the keys of `train.model` (learning_rate, C, ...), plus `kind` when
more than one family is searched, so the best trial maps onto params.yaml key for key. A key that is
not searched keeps today's value (or the family's default, for a family other than today's).
"""

from __future__ import annotations

import math
from typing import Any, cast

import optuna
from pydantic import TypeAdapter

from mlops_template.core.config import (
    ClassWeightChoice,
    FloatRange,
    IntRange,
    ModelKind,
    ModelParams,
    TuneParams,
)

FAMILY = "kind"  # the parameter that chooses the family, when there is a choice
SIGNIFICANT_DIGITS = 3  # of a sampled float: a reviewer reads 0.0734, and the folds cannot tell 0.07342 from it
BASELINE = "baseline"  # the user attribute of the trial that holds today's params
_MODEL = TypeAdapter[ModelParams](ModelParams)

Searched = FloatRange | IntRange | ClassWeightChoice


def searched(tune: TuneParams, family: ModelKind) -> dict[str, Searched]:
    """The searched keys of `family` (those not null in `tune.<family>`), in the section's order."""
    space = getattr(tune, family)
    found = {name: getattr(space, name) for name in type(space).model_fields}
    return {name: value for name, value in found.items() if value is not None}


def round_significant(value: float, low: float, high: float) -> float:
    """`value` to SIGNIFICANT_DIGITS significant digits, kept inside [low, high]."""
    if value == 0 or not math.isfinite(value):
        return value
    digits = SIGNIFICANT_DIGITS - 1 - math.floor(math.log10(abs(value)))
    return min(max(round(value, digits), low), high)


def _suggest(trial: optuna.Trial, name: str, space: Searched, *, exact: bool) -> Any:
    if isinstance(space, FloatRange):
        value = trial.suggest_float(name, space.low, space.high, log=space.log)
        return value if exact else round_significant(value, space.low, space.high)
    if isinstance(space, IntRange):
        return trial.suggest_int(name, space.low, space.high, log=space.log)
    return trial.suggest_categorical(name, list(space.choices))


def suggest_model(trial: optuna.Trial, tune: TuneParams, today: ModelParams) -> ModelParams:
    """The model params of `trial`: sampled from the space, or today's exactly for the baseline trial."""
    baseline = bool(trial.user_attrs.get(BASELINE, False))
    families = tune.searched_families(today.kind)
    family = cast("ModelKind", trial.suggest_categorical(FAMILY, list(families))) if len(families) > 1 else families[0]
    values: dict[str, Any] = today.model_dump() if family == today.kind else {"kind": family}
    for name, space in searched(tune, family).items():
        values[name] = _suggest(trial, name, space, exact=baseline)
    return _MODEL.validate_python(values)


def baseline_trial(tune: TuneParams, today: ModelParams) -> dict[str, Any]:
    """Today's params as Optuna parameters, to enqueue as trial 0 (their family is searched: params_check)."""
    found: dict[str, Any] = {FAMILY: today.kind} if len(tune.searched_families(today.kind)) > 1 else {}
    found.update({name: getattr(today, name) for name in searched(tune, today.kind)})
    return found


def space_definition(tune: TuneParams, today: ModelParams) -> dict[str, Any]:
    """The searched space as plain data: part of what makes two studies' trials comparable."""
    families = tune.searched_families(today.kind)
    return {
        family: {name: space.model_dump(mode="json") for name, space in searched(tune, family).items()}
        for family in families
    }
