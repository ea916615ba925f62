"""The study: a name that resumes what is comparable, today's params first, killed trials retried once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from mlops_template.core.config import Params, parse_params
from mlops_template.core.errors import ConfigError
from mlops_template.experiments.objective import WORKER
from mlops_template.experiments.search_space import BASELINE
from mlops_template.experiments.study import (
    RETRY_OF,
    RetryKilledTrial,
    default_storage,
    open_storage,
    open_study,
    recover_dead_trials,
    shown_storage,
    study_name,
)
from tests.support.params import small_params_dict

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _params(**tune: Any) -> Params:
    raw = small_params_dict()
    raw["tune"].update(tune)
    return parse_params(raw)


def _edited(change: Any) -> Params:
    raw = small_params_dict()
    change(raw)
    return parse_params(raw)


def test_the_name_follows_what_makes_trials_comparable_and_not_the_budget() -> None:
    name = study_name(_params(), "data-1")
    assert name.startswith("tune-hist_gradient_boosting-")
    assert study_name(_params(trials=500, timeout_minutes=5, seed=7, min_gain=0.01), "data-1") == name
    different = [
        study_name(_params(), "data-2"),
        study_name(_params(folds=2), "data-1"),
        study_name(_params(hist_gradient_boosting={"max_iter": None}), "data-1"),
        study_name(_edited(lambda raw: raw["train"]["model"].update(learning_rate=0.1)), "data-1"),
        study_name(_edited(lambda raw: raw["featurize"]["numeric"].update(scale=False)), "data-1"),
        study_name(_edited(lambda raw: raw["train"]["calibration"].update(method="sigmoid")), "data-1"),
    ]
    assert name not in different
    assert len(set(different)) == len(different)


def test_default_storage_is_a_sqlite_file_under_dot_tune(tmp_path: Path) -> None:
    url = default_storage(tmp_path)
    assert url == f"sqlite:///{tmp_path.resolve()}/.tune/optuna.db"
    assert (tmp_path / ".tune").is_dir()
    assert shown_storage("postgresql://tuner:s3cret@db.example:5432/optuna") == (
        "postgresql://tuner:***@db.example:5432/optuna"
    )


def test_a_storage_that_is_not_a_database_url_is_a_user_error() -> None:
    with pytest.raises(ConfigError, match=r"--storage .*cannot open it as an Optuna RDB storage"):
        open_storage("not-a-url")


def _storage(tmp_path: Path) -> optuna.storages.RDBStorage:
    return open_storage(default_storage(tmp_path))


def test_trial_zero_is_todays_params_once_however_often_the_study_is_opened(tmp_path: Path) -> None:
    params = _params()
    storage = _storage(tmp_path)
    for _ in range(3):
        study = open_study(storage, "s", params, "data")
    trials = study.get_trials()
    assert len(trials) == 1
    assert trials[0].number == 0
    assert trials[0].state == TrialState.WAITING
    assert trials[0].user_attrs == {BASELINE: True}
    model = params.train.model
    assert trials[0].system_attrs["fixed_params"] == {
        name: getattr(model, name)
        for name in ("learning_rate", "max_iter", "max_leaf_nodes", "min_samples_leaf", "l2_regularization")
    }


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    return int(done.stdout)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_a_trial_whose_process_died_is_failed_and_queued_again_with_its_params(tmp_path: Path) -> None:
    study = open_study(_storage(tmp_path), "s", _params(), "data")
    study.ask()  # trial 0 (today's), left waiting for nobody: it is not running
    dead = study.ask()
    dead.suggest_float("learning_rate", 0.01, 0.3, log=True)
    dead.set_user_attr(WORKER, {"host": socket.gethostname(), "pid": _dead_pid()})
    alive = study.ask()
    alive.set_user_attr(WORKER, {"host": socket.gethostname(), "pid": os.getpid()})
    elsewhere = study.ask()
    elsewhere.set_user_attr(WORKER, {"host": "another-machine", "pid": _dead_pid()})

    assert recover_dead_trials(study) == [dead.number]
    trials = {t.number: t for t in study.get_trials()}
    assert trials[dead.number].state == TrialState.FAIL
    assert trials[alive.number].state == TrialState.RUNNING  # its process lives
    assert trials[elsewhere.number].state == TrialState.RUNNING  # the heartbeat decides for other machines
    retry = max(trials.values(), key=lambda t: t.number)
    assert retry.state == TrialState.WAITING
    assert retry.params == trials[dead.number].params
    assert retry.system_attrs[RETRY_OF] == dead.number
    assert WORKER not in retry.user_attrs
    assert recover_dead_trials(study) == []  # nothing twice


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_a_trial_that_keeps_dying_is_not_retried_forever(tmp_path: Path) -> None:
    study = open_study(_storage(tmp_path), "s", _params(), "data")
    retry = RetryKilledTrial(max_retries=2)
    trial = study.ask()
    for _ in range(3):
        study.tell(trial.number, state=TrialState.FAIL)
        retry(study, study.trials[trial.number])
        waiting = [t for t in study.get_trials() if t.state == TrialState.WAITING]
        if not waiting:
            break
        trial = study.ask()
    assert sum(t.state == TrialState.FAIL for t in study.get_trials()) == 3  # the first try and two retries
    assert [t for t in study.get_trials() if t.state == TrialState.WAITING] == []
