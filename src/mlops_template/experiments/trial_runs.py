"""MLflow: one parent run per study, one nested run per trial, in the project's one tracking store.

Only `tune` itself writes here (never its workers): one writer, and the store's SQLite file sees no
concurrent writes. Trials are logged as they finish, so the study can be watched in MLflow while it
runs; a resumed study finds its parent run by the study's name and logs only the trials it lacks.
The runs go to the experiment `<tracking.experiment>-tuning`, beside the pipeline's runs in the same
store but not among them (the PR report finds a commit's pipeline run there). MLflow is imported
only when tracking is on.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from mlops_template.core.config import Params, Settings
from mlops_template.experiments.objective import MODEL
from mlops_template.experiments.search_space import BASELINE
from mlops_template.experiments.study import RETRY_OF
from mlops_template.model.tracking import TrackingError, flatten, git_state, quiet_known_noise

logger = logging.getLogger(__name__)

STUDY_TAG = "optuna.study"
TRIAL_TAG = "optuna.trial"
STATE_TAG = "optuna.state"
ROLE_TAG = "tune.run"  # "study" (the parent) or "trial" (a nested run): both carry the study's name
PARENT_TAG = "mlflow.parentRunId"  # how MLflow nests a run under another
FOLD_METRIC = "fold_average_precision"  # step = the fold (0 = the earliest)
VALUE_METRIC = "walk_forward_average_precision"
RUN_STATUS = {TrialState.COMPLETE: "FINISHED", TrialState.PRUNED: "KILLED", TrialState.FAIL: "FAILED"}


def experiment_name(params: Params) -> str:
    return f"{params.tracking.experiment}-tuning"


def _millis(trial: FrozenTrial, which: str) -> int | None:
    moment = getattr(trial, which)
    return int(moment.timestamp() * 1000) if moment is not None else None


class TrialRuns:
    """The study's parent run and its trials' nested runs."""

    def __init__(self, params: Params, root: Path, study: str, definition: dict[str, Any]) -> None:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("DO_NOT_TRACK", "true")
        from mlflow import MlflowClient  # noqa: PLC0415 - heavy, and only a tracked study needs it
        from mlflow.exceptions import MlflowException  # noqa: PLC0415

        quiet_known_noise()
        settings = Settings()
        self.uri = settings.tracking_uri(root)
        self._errors = (MlflowException,)
        self.client = MlflowClient(tracking_uri=self.uri)
        self.study = study
        try:
            found = self.client.get_experiment_by_name(experiment_name(params))
            self.experiment_id = (
                found.experiment_id
                if found
                else self.client.create_experiment(
                    experiment_name(params), artifact_location=settings.artifact_location(root)
                )
            )
            self.parent_id = self._parent(params, root, definition)
            self.logged = self._logged_trials()
        except MlflowException as exc:
            msg = f"MLflow at {self.uri} refused the study's runs: {exc.message}"
            raise TrackingError(msg) from exc

    def _parent(self, params: Params, root: Path, definition: dict[str, Any]) -> str:
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{STUDY_TAG}` = '{self.study}' and tags.`{ROLE_TAG}` = 'study'",
            max_results=1,
        )
        if runs:
            run_id: str = runs[0].info.run_id
            self.client.update_run(run_id, status="RUNNING")
            return run_id
        tags = {**git_state(root), STUDY_TAG: self.study, ROLE_TAG: "study", "model_kind": params.train.model.kind}
        run = self.client.create_run(self.experiment_id, run_name=self.study, tags=tags)
        tuned = flatten(params.tune.model_dump(mode="json"), "tune.")
        fixed = flatten({k: v for k, v in definition.items() if k != "space"})
        self._log(run.info.run_id, params={**tuned, **fixed})
        return str(run.info.run_id)

    def _logged_trials(self) -> set[int]:
        runs = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{self.parent_id}'", max_results=50_000
        )
        return {int(run.data.tags[TRIAL_TAG]) for run in runs if TRIAL_TAG in run.data.tags}

    def _log(
        self, run_id: str, *, params: dict[str, Any] | None = None, metrics: Sequence[tuple[str, float, int]] = ()
    ) -> None:
        from mlflow.entities import Metric, Param  # noqa: PLC0415

        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            params=[Param(key, str(value)) for key, value in (params or {}).items()],
            metrics=[Metric(key, value, now, step) for key, value, step in metrics],
        )

    def log_trials(self, trials: Iterable[FrozenTrial]) -> int:
        """Log each finished trial not logged yet as a nested run; how many were logged."""
        done = 0
        for trial in trials:
            if trial.state not in RUN_STATUS or trial.number in self.logged:
                continue
            try:
                self._log_trial(trial)
            except self._errors as exc:
                logger.warning("MLflow at %s: trial %d not logged (%s)", self.uri, trial.number, exc)
                continue
            self.logged.add(trial.number)
            done += 1
        return done

    def _log_trial(self, trial: FrozenTrial) -> None:
        tags = {
            PARENT_TAG: self.parent_id,
            STUDY_TAG: self.study,
            ROLE_TAG: "trial",
            TRIAL_TAG: str(trial.number),
            STATE_TAG: trial.state.name,
            BASELINE: str(bool(trial.user_attrs.get(BASELINE))).lower(),
        }
        if RETRY_OF in trial.system_attrs:
            tags[RETRY_OF] = str(trial.system_attrs[RETRY_OF])
        run = self.client.create_run(
            self.experiment_id, start_time=_millis(trial, "datetime_start"), tags=tags, run_name=f"trial-{trial.number}"
        )
        model = trial.user_attrs.get(MODEL) or trial.params
        metrics = [(FOLD_METRIC, float(value), int(step)) for step, value in sorted(trial.intermediate_values.items())]
        if trial.state == TrialState.COMPLETE and trial.value is not None:
            metrics.append((VALUE_METRIC, float(trial.value), 0))
        self._log(run.info.run_id, params=flatten(model), metrics=metrics)
        self.client.set_terminated(
            run.info.run_id, status=RUN_STATUS[trial.state], end_time=_millis(trial, "datetime_complete")
        )

    def finish(self, outcome: dict[str, float]) -> None:
        """The study's outcome (best, trial 0, counts) on the parent run, which ends FINISHED.

        A killed `tune` leaves it RUNNING; the next run of the same study takes it up again.
        """
        try:
            self._log(self.parent_id, metrics=[(key, float(value), 0) for key, value in outcome.items()])
            self.client.set_terminated(self.parent_id, status="FINISHED")
        except self._errors as exc:
            logger.warning("MLflow at %s: the study's outcome not logged (%s)", self.uri, exc)
