"""The study: where it is stored, what it is called, and how it resumes after a kill.

Storage is an Optuna RDB storage: by default a SQLite file in the project (`.tune/optuna.db`,
git-ignored); `--storage postgresql://...` lets several machines share one study. The default
study name is a digest of everything that makes two trials comparable (the search space, the
folds, the data, the fixed params and today's model), so running `tune` again resumes the same
study, and a change to any of them starts a new one, whose trial 0 is today's params again.

Resuming after SIGKILL, with no trial lost or counted twice:
- the budget counts finished trials (complete or pruned): a killed trial is marked FAIL, never
  counted, and its params are queued again (`RetryKilledTrial`), so they are measured once in full;
- a trial knows the process that runs it (host and pid, `objective.WORKER`): when `tune` starts, a
  running trial whose process is gone from this machine is failed and re-queued at once;
- a trial of another machine is found by Optuna's heartbeat (RDB storage), `GRACE_SECONDS` after
  its process stopped beating, by any worker about to start a trial.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.trial import FrozenTrial, TrialState

from mlops_template.core.config import Params
from mlops_template.core.errors import ConfigError
from mlops_template.experiments.objective import WORKER
from mlops_template.experiments.search_space import BASELINE, baseline_trial, space_definition

logger = logging.getLogger(__name__)

TUNE_DIR = ".tune"  # in the project root, git-ignored
HEARTBEAT_SECONDS = 10  # a running trial's process writes its heartbeat this often ...
GRACE_SECONDS = 60  # ... and is taken for dead after this long without one
MAX_RETRIES = 2  # a trial whose process dies again and again (out of memory, say) is not tried forever
RETRY_OF = "retry_of"  # system attribute: the trial number a re-queued trial repeats
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)  # what the trial budget counts
STARTED = (*FINISHED, TrialState.RUNNING)


def default_storage(root: Path) -> str:
    """`sqlite:///<root>/.tune/optuna.db`, its folder made if missing."""
    folder = root / TUNE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / 'optuna.db').resolve()}"


def shown_storage(url: str) -> str:
    """The storage URL without its password, for logs and reports."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415 - Optuna's RDB storage brings SQLAlchemy
    from sqlalchemy.exc import ArgumentError  # noqa: PLC0415

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a database URL>"


class RetryKilledTrial:
    """Queue a killed trial's params again (Optuna calls this for a trial its heartbeat found dead).

    Like Optuna's RetryHeartbeatStaleTrialCallback, but the copy forgets the dead process (`WORKER`),
    so it is never taken for a dead trial itself before its new process claims it.
    """

    def __init__(self, max_retries: int = MAX_RETRIES) -> None:
        self.max_retries = max_retries

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        history = [*trial.system_attrs.get("retry_history", []), trial.number]
        if len(history) > self.max_retries:
            logger.warning("trial %d: its process died %d times; not retried again", trial.number, len(history))
            return
        study.add_trial(
            optuna.create_trial(
                state=TrialState.WAITING,
                params=trial.params,
                distributions=trial.distributions,
                user_attrs={key: value for key, value in trial.user_attrs.items() if key != WORKER},
                system_attrs={**trial.system_attrs, RETRY_OF: history[0], "retry_history": history},
            )
        )
        logger.info("trial %d: its process died; its params are queued again", trial.number)


SCHEMA_ATTEMPTS = 3  # a new storage's tables may be created by another process at the same moment


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """The RDB storage at `url`, with heartbeats so that a dead process's trial is found and retried."""
    sqlite = url.startswith("sqlite")
    # SQLite: wait for another worker's write instead of failing with "database is locked".
    engine: dict[str, Any] = {"connect_args": {"timeout": 60}} if sqlite else {"pool_pre_ping": True}
    for attempt in range(SCHEMA_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)  # heartbeats are stable in practice since 2.9
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine,
                    heartbeat_interval=HEARTBEAT_SECONDS,
                    grace_period=GRACE_SECONDS,
                    heartbeat_stale_trial_callback=RetryKilledTrial(),
                )
        except Exception as exc:  # SQLAlchemy's errors: a bad URL, a missing driver, a refused connection
            # Two processes opening a new storage at once both create its tables; the later one fails with
            # "already exists" between the check and the create. The tables are there then: open it again.
            if "already exists" in str(exc) and attempt + 1 < SCHEMA_ATTEMPTS:
                continue
            shown = shown_storage(url)
            msg = f"--storage {shown!r}: cannot open it as an Optuna RDB storage ({type(exc).__name__}: {exc})"
            raise ConfigError(msg) from None
    raise AssertionError  # unreachable: the last attempt returns or raises


def study_definition(params: Params, data_version: str) -> dict[str, Any]:
    """What makes trials comparable: same objective (data, folds, features, calibration), same space."""
    return {
        "data_version": data_version,
        "folds": params.tune.folds,
        "train_weeks": params.ingest.train_weeks,
        "featurize": params.featurize.model_dump(mode="json"),
        "calibration": params.train.calibration.model_dump(mode="json"),
        "seed": params.base.seed,
        "today": params.train.model.model_dump(mode="json"),
        "space": space_definition(params.tune, params.train.model),
    }


def study_name(params: Params, data_version: str) -> str:
    """`tune-<families>-<digest>`: the same for the same definition, so running again resumes."""
    definition = json.dumps(study_definition(params, data_version), sort_keys=True)
    digest = hashlib.sha256(definition.encode()).hexdigest()[:12]
    return f"tune-{'+'.join(params.tune.searched_families(params.train.model.kind))}-{digest}"


def sampler(params: Params, *, worker: int, started: int) -> optuna.samplers.TPESampler:
    """TPE seeded from `tune.seed`, the worker and how many trials the study had when it started.

    Two workers with one seed would propose the same params; a resumed study with the seed it
    started with would propose its first trials again.
    """
    seed = int(hashlib.sha256(f"{params.tune.seed}:{started}:{worker}".encode()).hexdigest()[:8], 16)
    return optuna.samplers.TPESampler(seed=seed)


def pruner(params: Params) -> optuna.pruners.MedianPruner:
    settings = params.tune.pruner
    return optuna.pruners.MedianPruner(n_startup_trials=settings.startup_trials, n_warmup_steps=settings.warmup_folds)


def _baseline_queued(trials: Iterable[FrozenTrial]) -> bool:
    alive = (*STARTED, TrialState.WAITING)
    return any(trial.user_attrs.get(BASELINE) and trial.state in alive for trial in trials)


def open_study(storage: optuna.storages.BaseStorage, name: str, params: Params, data_version: str) -> optuna.Study:
    """Create the study, or load it to resume; a new study's first trial is today's params."""
    study = optuna.create_study(
        storage=storage, study_name=name, direction="maximize", load_if_exists=True, pruner=pruner(params)
    )
    if not study.user_attrs:
        study.set_user_attr("definition", study_definition(params, data_version))
    if not _baseline_queued(study.get_trials(deepcopy=False)):
        study.enqueue_trial(
            baseline_trial(params.tune, params.train.model), user_attrs={BASELINE: True}, skip_if_exists=True
        )
    return study


def worker_identity() -> dict[str, Any]:
    """Who runs a trial: enough to tell, on this machine, that its process is gone."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process holds the pid: alive
        return True
    return True


def recover_dead_trials(study: optuna.Study) -> list[int]:
    """Fail and re-queue the running trials whose process, on this machine, is gone; their numbers.

    A trial of another machine is left to the heartbeat; one whose process cannot be told (no
    `WORKER` yet, or its pid reused) too: it is failed `GRACE_SECONDS` after its last beat.
    """
    host = socket.gethostname()
    retry = RetryKilledTrial()
    recovered = []
    for trial in study.get_trials(deepcopy=True, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get(WORKER) or {}
        pid = worker.get("pid")
        if worker.get("host") != host or not isinstance(pid, int) or _alive(pid):
            continue
        study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
        retry(study, trial)
        recovered.append(trial.number)
    return recovered


def count(trials: Sequence[FrozenTrial], states: Sequence[TrialState]) -> int:
    return sum(trial.state in states for trial in trials)
