"""A trial's model params: sampled from the tune: section, today's exactly for trial 0."""

from __future__ import annotations

import math
import warnings
from typing import Any

import optuna
from hypothesis import given
from hypothesis import strategies as st

from mlops_template.core.config import (
    HistGradientBoostingParams,
    LogisticRegressionParams,
    Params,
    parse_params,
)
from mlops_template.experiments.search_space import (
    BASELINE,
    FAMILY,
    baseline_trial,
    round_significant,
    space_definition,
    suggest_model,
)
from tests.support.params import shipped_params_dict

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _params(**tune: Any) -> Params:
    raw = shipped_params_dict()
    raw["train"]["model"]["learning_rate"] = 0.0512345  # more digits than a sampled value keeps
    raw["tune"].update(tune)
    return parse_params(raw)


def _study(seed: int = 0) -> optuna.Study:
    return optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed))


def test_trial_zero_is_todays_params_exactly() -> None:
    params = _params()
    study = _study()
    study.enqueue_trial(baseline_trial(params.tune, params.train.model), user_attrs={BASELINE: True})
    trial = study.ask()
    assert trial.number == 0
    assert suggest_model(trial, params.tune, params.train.model) == params.train.model


def test_sampled_params_lie_in_the_space_with_three_significant_digits() -> None:
    params = _params()
    study = _study()
    for _ in range(30):
        model = suggest_model(study.ask(), params.tune, params.train.model)
        assert isinstance(model, HistGradientBoostingParams)
        space = params.tune.hist_gradient_boosting
        for name in ("learning_rate", "l2_regularization", "max_iter", "max_leaf_nodes", "min_samples_leaf"):
            searched = getattr(space, name)
            assert searched.low <= getattr(model, name) <= searched.high
        assert len(f"{model.learning_rate:.10e}".split("e")[0].rstrip("0").replace(".", "")) <= 3


def test_a_key_set_to_null_keeps_todays_value() -> None:
    raw = shipped_params_dict()
    raw["tune"]["hist_gradient_boosting"].update(max_iter=None, l2_regularization=None)
    params = parse_params(raw)
    trial = _study().ask()
    model = suggest_model(trial, params.tune, params.train.model)
    assert isinstance(model, HistGradientBoostingParams)
    assert (model.max_iter, model.l2_regularization) == (200, 1.0)
    assert "max_iter" not in trial.params
    assert "l2_regularization" not in space_definition(params.tune, params.train.model)["hist_gradient_boosting"]


def test_with_two_families_the_family_is_a_choice_and_the_other_takes_its_defaults() -> None:
    params = _params(families=["hist_gradient_boosting", "logistic_regression"])
    assert baseline_trial(params.tune, params.train.model)[FAMILY] == "hist_gradient_boosting"
    study = _study(seed=3)
    kinds = set()
    for _ in range(20):
        trial = study.ask()
        model = suggest_model(trial, params.tune, params.train.model)
        kinds.add(model.kind)
        assert trial.params[FAMILY] == model.kind
        if isinstance(model, LogisticRegressionParams):
            assert model.max_iter == LogisticRegressionParams.model_fields["max_iter"].default
            assert set(trial.params) == {FAMILY, "C", "class_weight"}
            assert model.class_weight in (None, "balanced")
    assert kinds == {"hist_gradient_boosting", "logistic_regression"}
    assert set(space_definition(params.tune, params.train.model)) == {"hist_gradient_boosting", "logistic_regression"}


@given(
    low=st.floats(min_value=1e-6, max_value=1e3),
    span=st.floats(min_value=1.0001, max_value=1e4),
    share=st.floats(min_value=0.0, max_value=1.0),
)
def test_rounding_keeps_a_value_inside_its_range_and_close(low: float, span: float, share: float) -> None:
    high = low * span
    value = low + share * (high - low)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rounded = round_significant(value, low, high)
    assert low <= rounded <= high
    assert math.isclose(rounded, value, rel_tol=5e-3)
