"""A study killed with SIGKILL resumes where it stopped: no trial lost, none counted twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import psutil
import pytest
from optuna.trial import TrialState

from mlops_template import cli
from mlops_template.experiments.study import RETRY_OF, open_storage
from tests.support.params import write_params

optuna.logging.set_verbosity(optuna.logging.WARNING)
TRIALS = 8


def _study(root: Path) -> optuna.Study | None:
    """The study as `tune` stores it, opened as `tune` opens it (the file may appear before its tables)."""
    if not (root / ".tune/optuna.db").exists():
        return None
    storage = open_storage(f"sqlite:///{root / '.tune/optuna.db'}")
    names = optuna.get_all_study_names(storage)
    return optuna.load_study(study_name=names[0], storage=storage) if names else None


def _killable(trials: list[optuna.trial.FrozenTrial]) -> bool:
    """Two trials finished, and one running in a worker that says who it is and has drawn its params: kill it
    mid-trial. (Killed between claiming the trial and drawing its params, a trial has none to queue again:
    its retry draws its own, which is right, but is not what this test checks.)"""
    finished = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    return finished >= 2 and any(
        t.state == TrialState.RUNNING and "worker" in t.user_attrs and t.params for t in trials
    )


@pytest.mark.slow
def test_a_study_killed_mid_trial_resumes_with_every_trial_counted_once(
    tuning_project: Path, tiny_params: dict[str, Any]
) -> None:
    # Trials of a second or so, so that the kill lands inside one.
    tiny_params["train"]["model"]["max_iter"] = 100
    tiny_params["tune"]["hist_gradient_boosting"]["max_iter"] = {"low": 60, "high": 150}
    tiny_params["tune"]["pruner"]["startup_trials"] = TRIALS  # no pruning: every trial runs both folds
    write_params(tuning_project / "params.yaml", tiny_params)
    command = [sys.executable, "-m", "mlops_template.cli", "tune", "--trials", str(TRIALS)]
    with (tuning_project / "first.log").open("w") as log:
        tune = subprocess.Popen(command, cwd=tuning_project, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and tune.poll() is None:
            study = _study(tuning_project)
            if study is not None and _killable(study.get_trials()):
                break
            time.sleep(0.1)
        assert tune.poll() is None, (tuning_project / "first.log").read_text()
        workers = psutil.Process(tune.pid).children(recursive=True)
        os.kill(tune.pid, signal.SIGKILL)
        tune.wait()
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert alive == []  # the workers died with `tune`
    study = _study(tuning_project)
    assert study is not None
    killed = [t.number for t in study.get_trials() if t.state == TrialState.RUNNING]
    done_before = [t.number for t in study.get_trials() if t.state == TrialState.COMPLETE]
    assert len(killed) == 1
    assert len(done_before) >= 2

    again = ["tune", "--trials", str(TRIALS), "--params", str(tuning_project / "params.yaml")]
    again += ["--ingest", str(tuning_project / "artifacts/ingest"), "--out", str(tuning_project / "reports/tuning")]
    assert cli.main(again) == 0

    trials = study.get_trials()
    finished = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(finished) == TRIALS  # the budget, exactly
    assert [t.number for t in trials if t.state == TrialState.FAIL] == killed  # the killed one, failed, not counted
    retried = [t for t in trials if t.system_attrs.get(RETRY_OF) == killed[0]]
    assert len(retried) == 1  # its params were measured again, once, in full
    assert retried[0].state == TrialState.COMPLETE
    assert retried[0].params == study.trials[killed[0]].params
    assert set(done_before) <= {t.number for t in finished}  # nothing finished before was run again
    measured = [tuple(sorted(t.params.items())) for t in finished]
    assert len(set(measured)) == len(measured)  # no params measured twice
    assert [t.number for t in trials if t.user_attrs.get("baseline")] == [0]
