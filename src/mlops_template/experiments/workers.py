"""`--jobs N`: N processes running trials of one study over its storage, until its budget is met.

Each worker reads the folds itself, computes their features once, and runs trials one at a time.
The budget counts the study's finished and running trials; a worker checks it and claims its next
trial (Optuna's `ask`, which stores the trial as running) under one lock file per study on this
machine, so that N workers never start more trials than the budget between them. Workers on other
machines sharing an RDB storage have their own lock: at the very end, each machine may start one
trial beyond the budget, which the report counts like any other.

A worker dies with the process that started it (Linux), as a killed `tune` would on a runner: its
running trial is then retried by the next `tune` (see `study.recover_dead_trials`).
"""

from __future__ import annotations

import ctypes
import fcntl
import logging
import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.queues import SimpleQueue
from pathlib import Path
from types import TracebackType

import optuna
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # scikit-learn's own

from mlops_template.core.command import EXIT_USER_ERROR, configure_logging
from mlops_template.core.config import Params
from mlops_template.core.errors import MlopsTemplateError
from mlops_template.experiments.folds import load_tuning_data, walk_forward_folds
from mlops_template.experiments.objective import FoldFeatures, Objective, featurize_fold
from mlops_template.experiments.study import STARTED, count, open_storage, pruner, sampler, worker_identity

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
# One OpenMP/BLAS thread per worker: cores are used by processes (--jobs). OpenMP threads that share
# a busy core spin: measured here, a fit with 2 threads on 2 loaded cores took 12 s, with 1 thread 1 s.
THREADS_PER_WORKER = 1


@dataclass(frozen=True)
class WorkerPlan:
    """What every worker of one `tune` run needs (pickled to each process)."""

    params: Params
    ingest_dir: Path
    storage_url: str
    study_name: str
    trials: int  # the study's budget: finished and running trials
    deadline: float | None  # time.time() after which no trial starts
    lock_path: Path
    started: int  # trials the study held when this run began (seeds the samplers)
    parent: int  # the pid of `tune`


class BudgetLock:
    """An exclusive lock file (flock): check the budget and claim a trial as one step."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> BudgetLock:
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def release(self) -> None:
        """Let the next worker claim a trial (idempotent: the objective releases it as it starts)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()


def fold_features(params: Params, ingest_dir: Path) -> list[FoldFeatures]:
    """The folds of `ingest_dir` as the classifier sees them (also validates them: the parent calls this first)."""
    data = load_tuning_data(ingest_dir)
    folds = walk_forward_folds(
        data, params.tune.folds, train_weeks=params.ingest.train_weeks, min_positives=params.train.calibration.folds
    )
    return [featurize_fold(params, fold) for fold in folds]


def _may_start(study: optuna.Study, plan: WorkerPlan) -> bool:
    if plan.deadline is not None and time.time() >= plan.deadline:
        return False
    if os.getppid() != plan.parent:  # `tune` is gone (where a death signal is not available)
        return False
    return count(study.get_trials(deepcopy=False), STARTED) < plan.trials


def run_trials(plan: WorkerPlan, index: int) -> int:
    """Run trials until the budget or the deadline is met; how many this worker ran."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # `tune` reports progress itself
    features = fold_features(plan.params, plan.ingest_dir)
    study = optuna.load_study(
        study_name=plan.study_name,
        storage=open_storage(plan.storage_url),
        sampler=sampler(plan.params, worker=index, started=plan.started),
        pruner=pruner(plan.params),
    )
    objective = Objective(plan.params, features, worker_identity())
    ran = 0
    while True:
        with BudgetLock(plan.lock_path) as lock:
            if not _may_start(study, plan):
                return ran

            def claimed(trial: optuna.Trial, lock: BudgetLock = lock) -> float:
                lock.release()  # the trial is stored as running: it counts for the others now
                return objective(trial)

            study.optimize(claimed, n_trials=1)
        ran += 1


def _die_with_parent(parent: int) -> None:
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # died before the line above
        os._exit(1)


def worker_main(plan: WorkerPlan, index: int, errors: SimpleQueue[str]) -> None:
    """A worker process: run trials; a user error goes back to `tune` as its one line."""
    _die_with_parent(plan.parent)
    # Ctrl-C is `tune`'s to handle: it stops the workers, whose running trials stay running and are
    # queued again by the next `tune`, as after a kill. (Optuna would mark an interrupted trial failed,
    # and a failed trial is not retried.)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging()
    try:
        with threadpool_limits(limits=THREADS_PER_WORKER):
            run_trials(plan, index)
    except MlopsTemplateError as exc:
        errors.put(str(exc))
        sys.exit(EXIT_USER_ERROR)


def start_workers(plan: WorkerPlan, jobs: int) -> tuple[list[BaseProcess], SimpleQueue[str]]:
    """Start `jobs` worker processes (spawned: a fresh interpreter each, no forked threads or locks)."""
    context = multiprocessing.get_context("spawn")
    errors: SimpleQueue[str] = context.SimpleQueue()
    workers: list[BaseProcess] = [
        context.Process(target=worker_main, args=(plan, index, errors), name=f"tune-worker-{index}")
        for index in range(jobs)
    ]
    for worker in workers:
        worker.start()
    return workers, errors
