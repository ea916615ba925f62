"""MLflow: one parent run per study, one nested run per trial, in the project's one store."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest

from mlops_template import cli
from mlops_template.experiments.trial_runs import FOLD_METRIC, PARENT_TAG, STATE_TAG, STUDY_TAG, TRIAL_TAG
from tests.support.params import write_params


def _tune(root: Path, *extra: str) -> int:
    args = ["tune", "--params", str(root / "params.yaml"), "--ingest", str(root / "artifacts/ingest")]
    with contextlib.redirect_stdout(io.StringIO()):
        return cli.main([*args, "--out", str(root / "reports/tuning"), *extra])


@pytest.mark.slow
def test_a_study_is_a_parent_run_with_one_nested_run_per_trial_whatever_the_working_directory(
    tuning_project: Path, tiny_params: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient  # noqa: PLC0415 - heavy

    tiny_params["tracking"]["enabled"] = True
    write_params(tuning_project / "params.yaml", tiny_params)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    assert _tune(tuning_project, "--trials", "4") == 0
    assert list(elsewhere.iterdir()) == []  # nothing lands in the working directory
    monkeypatch.chdir(tuning_project)
    assert _tune(tuning_project, "--trials", "6") == 0  # resumed: the same parent, two more trials

    client = MlflowClient(tracking_uri=f"sqlite:///{tuning_project / 'mlruns.db'}")
    experiment = client.get_experiment_by_name(f"{tiny_params['tracking']['experiment']}-tuning")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    parents = [run for run in runs if PARENT_TAG not in run.data.tags]
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags[STUDY_TAG].startswith("tune-hist_gradient_boosting-")
    assert parent.data.metrics["trials_finished"] == 6
    assert parent.data.params["tune.folds"] == "2"
    children = [run for run in runs if run.data.tags.get(PARENT_TAG) == parent.info.run_id]
    assert sorted(int(run.data.tags[TRIAL_TAG]) for run in children) == list(range(6))  # each trial once
    by_trial = {int(run.data.tags[TRIAL_TAG]): run for run in children}
    zero = by_trial[0]
    assert zero.data.tags["baseline"] == "true"
    assert zero.data.tags[STATE_TAG] == "COMPLETE"
    assert zero.info.status == "FINISHED"
    assert zero.data.params["learning_rate"] == str(tiny_params["train"]["model"]["learning_rate"])
    history = client.get_metric_history(zero.info.run_id, FOLD_METRIC)
    assert sorted(metric.step for metric in history) == [0, 1]  # one score per fold
    assert "walk_forward_average_precision" in zero.data.metrics
    for run in children:
        assert run.data.tags[STATE_TAG] in {"COMPLETE", "PRUNED"}
        assert run.info.status == ("FINISHED" if run.data.tags[STATE_TAG] == "COMPLETE" else "KILLED")
