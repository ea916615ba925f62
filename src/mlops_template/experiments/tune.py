"""`mlops-template tune`: search `train.model` over walk-forward folds, report, and propose the best params.

Reads only `artifacts/ingest/{train,valid}.parquet` and `weeks.json` (never `test`). Runs the study
in `--jobs` processes over its storage (resumed when it exists: see `study.py`), shows its progress,
logs it to MLflow, writes the report (`tuning_report.py`) and prints the diff of params.yaml that
`--apply` writes. Nothing is applied without `--apply`, and `--apply` only edits the file: review it,
`dvc repro`, and open a pull request, where the gate judges the tuned model on the test weeks.

Exit codes: 0 done (also when today's params stay best: the diff is then empty and says so),
1 a worker failed (its traceback is above; every finished trial is kept), 2 a user error.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from mlops_template.core import io
from mlops_template.core.command import EXIT_FAILED, EXIT_OK, params_argument, positive_int, run_command
from mlops_template.core.config import Params, find_project_root, load_params
from mlops_template.core.errors import ConfigError, MlopsTemplateError
from mlops_template.core.params_check import tune_problems
from mlops_template.data import schema
from mlops_template.experiments import tuning_report
from mlops_template.experiments.folds import Fold, load_tuning_data, walk_forward_folds
from mlops_template.experiments.progress import Progress, snapshot
from mlops_template.experiments.study import (
    FINISHED,
    STARTED,
    TUNE_DIR,
    count,
    default_storage,
    open_storage,
    open_study,
    recover_dead_trials,
    shown_storage,
    study_definition,
    study_name,
)
from mlops_template.experiments.workers import WorkerPlan, start_workers

if TYPE_CHECKING:  # MLflow is imported only when tracking is on
    from mlops_template.experiments.trial_runs import TrialRuns

logger = logging.getLogger(__name__)

EXIT_INTERRUPTED = 130
POLL_SECONDS = 1.0


class TuneError(MlopsTemplateError):
    """The study cannot run or its result cannot be applied."""


def _positive_minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        msg = f"{text!r} (rule: a number of minutes above 0)"
        raise argparse.ArgumentTypeError(msg)
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops-template tune",
        description="Search train.model's params (params.yaml `tune:`) over walk-forward folds of the training "
        "and validation weeks; write the ranked trials, charts and the proposed params.yaml diff to --out. "
        "Running it again resumes the same study.",
    )
    params_argument(parser)
    parser.add_argument("--ingest", type=Path, default=Path("artifacts/ingest"), help="ingest's outputs")
    parser.add_argument("--trials", type=positive_int, help="the study's trial budget (default: tune.trials)")
    parser.add_argument("--timeout-minutes", type=_positive_minutes, help="default: tune.timeout_minutes")
    parser.add_argument(
        "--jobs", type=positive_int, default=1, help="worker processes, one core each (default: %(default)s)"
    )
    parser.add_argument(
        "--storage",
        help=f"Optuna RDB storage URL (default: sqlite:///<project>/{TUNE_DIR}/optuna.db; "
        "postgresql://... lets several machines share one study)",
    )
    parser.add_argument("--study", help="study name (default: derived from what makes trials comparable)")
    parser.add_argument("--out", type=Path, default=Path("reports/tuning"), help="report folder (default: %(default)s)")
    parser.add_argument("--apply", action="store_true", help="write the best params into params.yaml (comments kept)")
    return parser


def _with_overrides(params: Params, args: argparse.Namespace) -> Params:
    update: dict[str, Any] = {}
    if args.trials is not None:
        update["trials"] = args.trials
    if args.timeout_minutes is not None:
        update["timeout_minutes"] = args.timeout_minutes
    return params.model_copy(update={"tune": params.tune.model_copy(update=update)}) if update else params


def _check(params: Params, path: Path) -> None:
    found = tune_problems(params, schema.active())
    if found:
        raise ConfigError("\n".join([f"{path}: {len(found)} mistake(s) in tune:", *(f"  {p}" for p in found)]))


@dataclass
class Session:
    """One `tune` run over one study: what it was given and what it found when it began."""

    args: argparse.Namespace
    params: Params
    root: Path
    url: str
    name: str
    data_version: str
    folds: list[Fold]
    study: optuna.Study
    known: set[int]  # trials finished before this run
    runs: TrialRuns | None  # MLflow, when tracking is on
    started: float = field(default_factory=time.monotonic)

    def plan(self) -> WorkerPlan:
        timeout = self.params.tune.timeout_minutes
        lock = hashlib.sha256(f"{self.url} {self.name}".encode()).hexdigest()[:16]
        return WorkerPlan(
            params=self.params,
            ingest_dir=self.args.ingest,
            storage_url=self.url,
            study_name=self.name,
            trials=self.params.tune.trials,
            deadline=None if timeout is None else time.time() + timeout * 60,
            lock_path=self.root / TUNE_DIR / "locks" / lock,
            started=len(self.study.get_trials(deepcopy=False)),
            parent=os.getpid(),
        )

    def run_workers(self) -> list[str]:
        """Run the workers to the end; which of them failed (empty: none). A user error in one is raised."""
        plan = self.plan()
        workers, errors = start_workers(plan, self.args.jobs)
        try:
            self._watch(workers, plan)
        finally:
            for worker in workers:
                if worker.is_alive():
                    worker.terminate()
                worker.join()
        problems = []
        while not errors.empty():
            problems.append(errors.get())
        if problems:
            raise TuneError(problems[0])
        return [f"{worker.name} exited with code {worker.exitcode}" for worker in workers if worker.exitcode != 0]

    def _watch(self, workers: list[BaseProcess], plan: WorkerPlan) -> None:
        """Show progress and log finished trials to MLflow until every worker has exited."""
        progress = Progress(sys.stderr, terminal=sys.stderr.isatty())
        try:
            while True:
                trials = self.study.get_trials(deepcopy=False)
                state = snapshot(
                    trials, budget=plan.trials, jobs=self.args.jobs, known=self.known, deadline=plan.deadline
                )
                progress.show(state)
                if self.runs is not None:
                    self.runs.log_trials(trials)
                alive = [worker for worker in workers if worker.is_alive()]
                if not alive:
                    break
                wait([worker.sentinel for worker in alive], timeout=POLL_SECONDS)
        finally:
            progress.close()

    def report(self, failures: list[str]) -> int:
        """Write the report, print the diff, apply it when asked; the exit code."""
        trials = self.study.get_trials(deepcopy=True)
        if self.runs is not None:
            self.runs.log_trials(trials)
        params = self.params
        folds = [tuning_report.FoldInfo(f.step, f.week, f.train_weeks) for f in self.folds]
        seconds = time.monotonic() - self.started
        run = tuning_report.RunInfo(
            self.name, shown_storage(self.url), self.data_version, seconds, self.args.jobs, params.tune.trials
        )
        summary = tuning_report.summarize(
            trials, params, folds, run, tuning_report.importances(self.study, params.tune.seed)
        )
        path: Path = self.args.params
        text = path.read_text(encoding="utf-8")
        change = summary["proposal"]
        proposed = tuning_report.proposed_params_text(text, change, str(path))
        diff = tuning_report.unified_diff(text, proposed)
        baseline = summary["baseline"]
        tuning_report.write(
            self.args.out,
            summary,
            tuning_report.ranked_table(trials, folds),
            diff,
            baseline_value=None if baseline is None else baseline["walk_forward_average_precision"],
        )
        if self.runs is not None:
            self.runs.finish(_outcome(summary))
        logger.info("report in %s", self.args.out)
        if diff:
            print(diff, end="")  # noqa: T201 - the command's output: the proposed change
        else:
            print(f"{path}: no change ({change['reason']})")  # noqa: T201
        if self.args.apply and diff:
            if load_params(path).train.model != params.train.model:
                msg = f"{path}: train.model changed while the study ran; not applied (run tune again)"
                raise TuneError(msg)
            io.write_text(path, proposed)
            logger.info("applied to %s: review it (git diff), then dvc repro", path)
        for failure in failures:
            logger.error("%s: its traceback is above; every finished trial is kept (run tune again to resume)", failure)
        return EXIT_FAILED if failures else EXIT_OK


def open_session(args: argparse.Namespace) -> Session:
    """Validate, read the folds, open (or resume) the study, recover killed trials, start MLflow."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress line says what Optuna's INFO lines would
    path: Path = args.params
    params = _with_overrides(load_params(path), args)
    _check(params, path)
    root = find_project_root(path.resolve().parent)
    data = load_tuning_data(args.ingest)
    folds = walk_forward_folds(
        data, params.tune.folds, train_weeks=params.ingest.train_weeks, min_positives=params.train.calibration.folds
    )
    url = args.storage or default_storage(root)
    name = args.study or study_name(params, data.version)
    study = open_study(open_storage(url), name, params, data.version)
    recover_dead_trials(study)  # logs each trial it queues again
    known = {trial.number for trial in study.get_trials(deepcopy=False) if trial.state in FINISHED}
    logger.info(
        "study %s in %s: %d of %d trials finished; folds %s",
        name,
        shown_storage(url),
        len(known),
        params.tune.trials,
        [fold.week for fold in folds],
    )
    runs = None
    if params.tracking.enabled:
        from mlops_template.experiments.trial_runs import TrialRuns  # noqa: PLC0415 - MLflow only when tracking

        runs = TrialRuns(params, root, name, study_definition(params, data.version))
    return Session(args, params, root, url, name, data.version, folds, study, known, runs)


def tune(args: argparse.Namespace) -> int:
    session = open_session(args)
    failures: list[str] = []
    if count(session.study.get_trials(deepcopy=False), STARTED) < session.params.tune.trials:
        failures = session.run_workers()
    else:
        logger.info("the study already holds its %d trials (--trials to run more)", session.params.tune.trials)
    return session.report(failures)


def _outcome(summary: dict[str, Any]) -> dict[str, float]:
    found: dict[str, float] = {f"trials_{k}": float(v) for k, v in summary["trials"].items()}
    found["fold_fits_saved_by_pruning"] = float(summary["fold_fits"]["saved_by_pruning"])
    for key in ("baseline", "best"):
        if summary[key] is not None:
            found[f"{key}_walk_forward_average_precision"] = float(summary[key]["walk_forward_average_precision"])
    if summary["gain"] is not None:
        found["gain"] = float(summary["gain"])
    return found


def main(argv: list[str] | None = None) -> int:
    def action(args: argparse.Namespace) -> int:
        try:
            return tune(args)
        except KeyboardInterrupt:
            logger.warning("interrupted: every finished trial is kept (run tune again to resume)")
            return EXIT_INTERRUPTED

    return run_command("tune", _parser(), argv, action)


if __name__ == "__main__":
    raise SystemExit(main())
