"""params.yaml loads into strict typed models; every mistake names its key path and rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_template.core.config import (
    FloatRange,
    HistGradientBoostingParams,
    MinPrecisionRule,
    Params,
    Settings,
    find_project_root,
    load_params,
    parse_params,
)
from mlops_template.core.errors import ConfigError
from tests.support.params import shipped_params_dict, write_params
from tests.support.workspace import REPO


def test_shipped_params_load() -> None:
    params = load_params(REPO / "params.yaml")
    assert isinstance(params, Params)
    assert isinstance(params.train.model, HistGradientBoostingParams)
    assert params.source.kind == "simulated"


def test_params_are_frozen() -> None:
    params = load_params(REPO / "params.yaml")
    with pytest.raises(Exception, match="frozen"):
        params.base.seed = 1  # type: ignore[misc]


def _error_for(mutate: Any) -> str:
    raw = shipped_params_dict()
    mutate(raw)
    with pytest.raises(ConfigError) as caught:
        parse_params(raw)
    return str(caught.value)


def test_unknown_key_names_its_path() -> None:
    message = _error_for(lambda raw: raw["train"]["model"].update(learning_rat=0.1))
    assert "train.model.hist_gradient_boosting.learning_rat" in message
    assert "Extra inputs are not permitted" in message


def test_out_of_range_value_names_rule_and_value() -> None:
    message = _error_for(lambda raw: raw["ingest"].update(max_rejected_share=1.5))
    assert "ingest.max_rejected_share" in message
    assert "less than or equal to 1" in message
    assert "1.5" in message


def test_wrong_type_is_not_coerced() -> None:
    message = _error_for(lambda raw: raw["base"].update(seed="42"))
    assert "base.seed" in message
    assert "valid integer" in message


def test_unknown_model_kind_lists_the_choices() -> None:
    message = _error_for(lambda raw: raw["train"]["model"].update(kind="random_forest"))
    assert "train.model" in message
    assert "logistic_regression" in message
    assert "hist_gradient_boosting" in message


def test_threshold_rule_requires_its_target() -> None:
    message = _error_for(lambda raw: raw["train"].update(threshold={"rule": "min_precision"}))
    assert "train.threshold.min_precision.target" in message
    assert "Field required" in message


def test_threshold_rule_with_target_parses() -> None:
    raw = shipped_params_dict()
    raw["train"]["threshold"] = {"rule": "min_precision", "target": 0.8}
    assert parse_params(raw).train.threshold == MinPrecisionRule(rule="min_precision", target=0.8)


def test_bad_week_label_is_rejected() -> None:
    message = _error_for(lambda raw: raw["source"].update(first_week="2026-35"))
    assert "source.simulated.first_week" in message


def test_week_that_does_not_exist_is_rejected() -> None:
    message = _error_for(lambda raw: raw["source"]["drift"].update(start_week="2025-W53"))
    assert "source.drift.start_week" in message
    assert "no ISO week 53" in message


def test_missing_section_is_reported() -> None:
    message = _error_for(lambda raw: raw.pop("train"))
    assert "train: Field required" in message


def test_slices_must_be_strings() -> None:
    message = _error_for(lambda raw: raw["evaluate"].update(slices=["channel", 3]))
    assert "evaluate.slices.1" in message


def test_fairness_bands_must_increase() -> None:
    message = _error_for(lambda raw: raw["evaluate"]["fairness"]["groups"][0].update(bands=[45, 30]))
    assert message == (
        "params.yaml: evaluate.fairness.groups.0.bands: Value error, the edges must increase strictly (got [45, 30])"
    )


def test_fairness_group_sizes_are_positive() -> None:
    message = _error_for(lambda raw: raw["evaluate"]["fairness"].update(min_positives=0))
    assert message.startswith("params.yaml: evaluate.fairness.min_positives: Input should be greater than or equal")


def test_malformed_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  model: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(path)


def test_non_mapping_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_params(path)


def test_missing_file_says_where_to_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_params(tmp_path / "params.yaml")


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    raw = shipped_params_dict()
    raw["base"]["seed"] = -1
    raw["ingest"]["valid_weeks"] = 0
    with pytest.raises(ConfigError) as caught:
        load_params(write_params(tmp_path / "params.yaml", raw))
    message = str(caught.value)
    assert "2 invalid values" in message
    assert "base.seed" in message
    assert "ingest.valid_weeks" in message


def test_default_tracking_store_is_a_sqlite_file_in_the_project(tmp_path: Path) -> None:
    (tmp_path / ".dvc").mkdir()
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    root = find_project_root(nested)
    settings = Settings(MLFLOW_TRACKING_URI=None, DVC_ROOT=None)
    assert root == tmp_path.resolve()
    assert settings.tracking_uri(root) == f"sqlite:///{tmp_path.resolve()}/mlruns.db"
    assert settings.artifact_location(root) == (tmp_path.resolve() / "mlartifacts").as_uri()


def _project(path: Path) -> Path:
    (path / ".dvc").mkdir(parents=True)
    return path.resolve()


def test_a_dvc_experiment_copy_logs_to_the_project_store(tmp_path: Path) -> None:
    # `dvc exp run --queue` / `--temp` run in a copy under <project>/.dvc/tmp/exps/, with DVC_ROOT the project.
    project = _project(tmp_path / "project")
    for copy in (project / ".dvc/tmp/exps/tmpa1b2c3", project / ".dvc/tmp/exps/standalone/tmpd4e5f6"):
        root = find_project_root(_project(copy) / "src")
        settings = Settings(MLFLOW_TRACKING_URI=None, DVC_ROOT=str(project))
        assert root == copy.resolve()  # its files and git state are the copy's ...
        assert settings.store_root(root) == project  # ... its MLflow store the project's
        assert settings.tracking_uri(root) == f"sqlite:///{project}/mlruns.db"
        assert settings.artifact_location(root) == (project / "mlartifacts").as_uri()


def test_dvc_root_moves_no_store_but_an_experiment_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    other = _project(tmp_path / "other")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DVC_ROOT", str(project))
    settings = Settings()
    assert settings.dvc_root == project
    assert settings.store_root(project) == project  # `dvc repro` and `dvc exp run` in the workspace
    assert settings.store_root(other) == other  # a DVC_ROOT of another project is not ours
    assert settings.tracking_uri(other) == f"sqlite:///{other}/mlruns.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert Settings().tracking_uri(project / ".dvc/tmp/exps/tmpa1b2c3") == "http://127.0.0.1:5000"


def test_tracking_server_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    settings = Settings()
    assert settings.tracking_uri(tmp_path) == "http://127.0.0.1:5000"
    assert settings.artifact_location(tmp_path) is None


def _tune_error_for(**section: Any) -> str:
    return _error_for(lambda raw: raw["tune"].update(section))


def test_shipped_tune_section_loads_and_stays_out_of_every_dump() -> None:
    params = load_params(REPO / "params.yaml")
    assert params.tune.trials >= 1
    assert params.tune.searched_families(params.train.model.kind) == ("hist_gradient_boosting",)
    assert params.tune.hist_gradient_boosting.learning_rate == FloatRange(low=0.02, high=0.3, log=True)
    # The model card and the MLflow params of pipeline runs dump Params: tune changes no model.
    assert "tune" not in params.model_dump()
    assert "tune" not in params.model_dump(mode="json")


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            {"hist_gradient_boosting": {"learning_rate": {"low": 0.3, "high": 0.1}}},
            ["tune.hist_gradient_boosting.learning_rate", "low 0.3 is not below high 0.1 (rule: low < high)"],
        ),
        (
            {"hist_gradient_boosting": {"l2_regularization": {"low": 0.0, "high": 1.0, "log": True}}},
            [
                "tune.hist_gradient_boosting.l2_regularization",
                "low 0.0 with log: true (rule: a log scale needs low > 0)",
            ],
        ),
        (
            {"hist_gradient_boosting": {"max_leaf_nodes": {"low": 0, "high": 8, "log": True}}},
            ["tune.hist_gradient_boosting.max_leaf_nodes", "low 0 with log: true"],
        ),
        (
            {"hist_gradient_boosting": {"learning_rate": {"low": 0.1, "high": 2.0}}},
            ["tune.hist_gradient_boosting", "learning_rate.high: 2.0 is not a value train.model.learning_rate accepts"],
        ),
        (
            {"hist_gradient_boosting": {"learning_rat": {"low": 0.1, "high": 0.2}}},
            ["tune.hist_gradient_boosting.learning_rat", "Extra inputs are not permitted"],
        ),
        (
            {"logistic_regression": {"class_weight": {"choices": ["balanced", "balanced"]}}},
            ["tune.logistic_regression.class_weight", "repeat a value"],
        ),
        ({"families": ["hist_gradient_boosting"] * 2}, ["tune", "families ['hist_gradient_boosting', 'hist_"]),
        ({"families": ["random_forest"]}, ["tune.families.0", "random_forest"]),
        ({"families": []}, ["tune", "families [] is empty"]),
        ({"folds": 0}, ["tune.folds", "greater than or equal to 1"]),
        ({"trials": "50"}, ["tune.trials", "valid integer"]),
        ({"pruner": {"kind": "hyperband"}}, ["tune.pruner.kind", "'median'"]),
    ],
)
def test_a_bad_tune_section_is_one_line_naming_the_key(section: dict[str, Any], expected: list[str]) -> None:
    message = _tune_error_for(**section)
    assert len(message.splitlines()) == 1, message
    assert message.startswith("params.yaml: tune"), message
    assert all(part in message for part in expected), message
