"""The study's result in `--out` (reports/tuning/): for machines, for people, and as a proposed change.

- `summary.json`: the counts, the best trial and today's params (trial 0) on the same folds, the
  gain, the importances, the proposed change (machines; the tune workflow reads it);
- `summary.md`: the same for people (the tune workflow puts it in the PR body);
- `trials.csv`: every trial ranked by its walk-forward average precision (complete trials first);
- `history.svg`, `importance.svg`: the charts (`charts.py`);
- `params.diff`: the unified diff of params.yaml that `tune --apply` writes; empty when today's
  params stay best, and `summary.md` says so.

Only the walk-forward folds of the training and validation weeks choose: the test weeks are not
read by the study, so nothing here can have been chosen by them.
"""

from __future__ import annotations

import difflib
import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from mlops_template.core import io
from mlops_template.core.config import Params
from mlops_template.experiments import charts
from mlops_template.experiments.objective import MODEL
from mlops_template.experiments.params_edit import set_model
from mlops_template.experiments.progress import clock
from mlops_template.experiments.search_space import BASELINE, FAMILY
from mlops_template.experiments.study import RETRY_OF

logger = logging.getLogger(__name__)

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
TRIALS_CSV = "trials.csv"
HISTORY_SVG = "history.svg"
IMPORTANCE_SVG = "importance.svg"
PARAMS_DIFF = "params.diff"
DIGITS = 6


@dataclass(frozen=True)
class FoldInfo:
    step: int
    week: str
    train_weeks: tuple[str, ...]

    @property
    def column(self) -> str:
        return f"fold_{self.step + 1}_{self.week}"


@dataclass(frozen=True)
class RunInfo:
    """What this `tune` run was: its study, where it is stored, the data, how long and how wide."""

    study: str
    storage: str  # without password
    data_version: str
    seconds: float
    jobs: int
    budget: int


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), DIGITS)


def _seconds(trial: FrozenTrial) -> float | None:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return round((trial.datetime_complete - trial.datetime_start).total_seconds(), 3)


def trial_model(trial: FrozenTrial) -> dict[str, Any]:
    """The model params the trial ran with (as train.model holds them)."""
    found: dict[str, Any] = trial.user_attrs.get(MODEL) or {k: v for k, v in trial.params.items() if k != FAMILY}
    return found


def ranked_table(trials: Sequence[FrozenTrial], folds: Sequence[FoldInfo]) -> pd.DataFrame:
    """One row per trial: complete ones ranked by walk-forward average precision, then the others."""
    rows = []
    for trial in trials:
        scores = {fold.column: _round(trial.intermediate_values.get(fold.step)) for fold in folds}
        complete = trial.state == TrialState.COMPLETE and trial.value is not None
        rows.append(
            {
                "trial": trial.number,
                "state": trial.state.name,
                "walk_forward_average_precision": _round(trial.value) if complete else None,
                **scores,
                "folds_run": len(trial.intermediate_values),
                **{f"model.{key}": value for key, value in trial_model(trial).items()},
                "baseline": bool(trial.user_attrs.get(BASELINE, False)),
                "retry_of": trial.system_attrs.get(RETRY_OF),
                "seconds": _seconds(trial),
            }
        )

    def order(row: dict[str, Any]) -> tuple[bool, float, int]:
        score = row["walk_forward_average_precision"]
        return score is None, -(score or 0.0), row["trial"]

    rows.sort(key=order)
    ranks = [i + 1 if row["walk_forward_average_precision"] is not None else None for i, row in enumerate(rows)]
    table = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["trial", "state", "walk_forward_average_precision"])
    table.insert(0, "rank", pd.Series(ranks, dtype="Int64"))
    return table


def _complete(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    return [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]


def best_trial(trials: Sequence[FrozenTrial]) -> FrozenTrial | None:
    """The complete trial with the highest score (the earliest of equals: today's params win ties)."""
    return max(_complete(trials), key=lambda t: (t.value, -t.number), default=None)


def baseline_trial(trials: Sequence[FrozenTrial]) -> FrozenTrial | None:
    """Today's params, measured in full (trial 0, or its retry after a kill)."""
    return next((t for t in _complete(trials) if t.user_attrs.get(BASELINE)), None)


def importances(study: optuna.Study, seed: int) -> dict[str, float]:
    """Each searched param's importance (fANOVA over the complete trials); empty when there are too few."""
    usable = _complete(study.get_trials(deepcopy=False))
    if len(usable) < 2 or not any(t.params != usable[0].params for t in usable):  # noqa: PLR2004
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=seed)
            )
    except (RuntimeError, ValueError) as exc:
        logger.info("no parameter importances: %s", exc)
        return {}
    return {name: round(float(value), 4) for name, value in found.items()}


def _fold_scores(trial: FrozenTrial | None, folds: Sequence[FoldInfo]) -> dict[str, float | None]:
    if trial is None:
        return {}
    return {fold.week: _round(trial.intermediate_values.get(fold.step)) for fold in folds}


def _trial_entry(trial: FrozenTrial | None, folds: Sequence[FoldInfo]) -> dict[str, Any] | None:
    if trial is None:
        return None
    return {
        "trial": trial.number,
        "walk_forward_average_precision": _round(trial.value),
        "fold_scores": _fold_scores(trial, folds),
        "model": trial_model(trial),
    }


def proposal(params: Params, best: FrozenTrial | None, baseline: FrozenTrial | None) -> dict[str, Any]:
    """What to change in train.model, and why (or why not)."""
    min_gain = params.tune.min_gain
    if best is None or baseline is None or best.value is None or baseline.value is None:
        reason = "today's params (trial 0) have no complete score yet" if baseline is None else "no complete trial"
        return {"changed": False, "reason": reason, "changes": {}, "removed": []}
    gain = best.value - baseline.value
    if best.number == baseline.number or gain <= 0 or gain < min_gain:
        reason = (
            f"today's params (trial {baseline.number}) stay best"
            if best.number == baseline.number or gain <= 0
            else f"the best trial ({best.number}) gains {gain:+.4f}, below tune.min_gain {min_gain}"
        )
        return {"changed": False, "reason": reason, "changes": {}, "removed": []}
    today = params.train.model.model_dump(mode="json")
    proposed = trial_model(best)
    changes = {key: value for key, value in proposed.items() if today.get(key) != value}
    removed = sorted(key for key in today if key not in proposed)
    reason = f"trial {best.number} gains {gain:+.4f} walk-forward average precision over today's params"
    return {"changed": bool(changes), "reason": reason, "changes": changes, "removed": removed}


def proposed_params_text(params_text: str, change: dict[str, Any], where: str) -> str:
    """params.yaml with the proposed change made (the same text when there is none)."""
    if not change["changed"]:
        return params_text
    return set_model(params_text, change["changes"], change["removed"], where=where)


def unified_diff(before: str, after: str, name: str = "params.yaml") -> str:
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), f"a/{name}", f"b/{name}"))


def summarize(
    trials: Sequence[FrozenTrial],
    params: Params,
    folds: Sequence[FoldInfo],
    run: RunInfo,
    found_importances: dict[str, float],
) -> dict[str, Any]:
    """Everything `summary.json` holds."""
    states = [t.state for t in trials]
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    best, baseline = best_trial(trials), baseline_trial(trials)
    gain = None if best is None or baseline is None else _round((best.value or 0.0) - (baseline.value or 0.0))
    change = proposal(params, best, baseline)
    return {
        "study": run.study,
        "storage": run.storage,
        "data_version": run.data_version,
        "objective": "walk-forward average precision: the mean over the folds (each trained on the weeks before it)",
        "folds": [
            {
                "fold": f.step + 1,
                "week": f.week,
                "train_weeks": [f.train_weeks[0], f.train_weeks[-1]],
                "weeks": len(f.train_weeks),
            }
            for f in folds
        ],
        "test_weeks_read": False,
        "budget": run.budget,
        "trials": {
            "finished": len(finished),
            "complete": states.count(TrialState.COMPLETE),
            "pruned": len(pruned),
            "failed": states.count(TrialState.FAIL),
            "running": states.count(TrialState.RUNNING),
            "waiting": states.count(TrialState.WAITING),
        },
        "fold_fits": {
            "run": sum(len(t.intermediate_values) for t in finished),
            "saved_by_pruning": sum(len(folds) - len(t.intermediate_values) for t in pruned),
        },
        "this_run": {"seconds": round(run.seconds, 1), "jobs": run.jobs},
        "baseline": _trial_entry(baseline, folds),
        "best": _trial_entry(best, folds),
        "gain": gain,
        "min_gain": params.tune.min_gain,
        "proposal": change,
        "importances": found_importances,
    }


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _param(value: Any) -> str:
    """A param as params.yaml would hold it (`-`: not set)."""
    return "-" if value is None else f"`{value}`"


def markdown(summary: dict[str, Any], diff: str) -> str:
    """summary.md: what a reviewer reads in the PR body."""
    folds = summary["folds"]
    trials = summary["trials"]
    lines = [
        f"## Tuning: `{summary['study']}`",
        "",
        (
            f"Walk-forward average precision over {len(folds)} fold(s): each fold trains on the weeks before its "
            "week and is measured on it. Only the training and validation weeks were read; the test weeks "
            "judge this change in the promotion gate, as for any other change."
        ),
        "",
        "| | trial | walk-forward AP | " + " | ".join(f["week"] for f in folds) + " |",
        "| --- | ---: | ---: | " + " | ".join("---:" for _ in folds) + " |",
    ]
    for label, entry in (("today's params", summary["baseline"]), ("best", summary["best"])):
        if entry is None:
            lines.append(f"| {label} | - | - | " + " | ".join("-" for _ in folds) + " |")
            continue
        scores = " | ".join(_cell(entry["fold_scores"].get(f["week"])) for f in folds)
        lines.append(f"| {label} | {entry['trial']} | {_cell(entry['walk_forward_average_precision'])} | {scores} |")
    change = summary["proposal"]
    gain = "-" if summary["gain"] is None else f"{summary['gain']:+.4f}"
    lines += ["", f"Gain over today's params: {gain} (tune.min_gain {summary['min_gain']}); {change['reason']}.", ""]
    if change["changed"]:
        today = (summary["baseline"] or {}).get("model", {})
        lines += ["Proposed change to `params.yaml`:", "", "| key | today | proposed |", "| --- | ---: | ---: |"]
        lines += [f"| `train.model.{k}` | {_param(today.get(k))} | {_param(v)} |" for k, v in change["changes"].items()]
        lines += [f"| `train.model.{k}` | {_param(today.get(k))} | (removed) |" for k in change["removed"]]
        lines += ["", "```diff", diff.rstrip("\n"), "```", ""]
    else:
        lines += ["No change to `params.yaml` is proposed: `params.diff` is empty.", ""]
    fits = summary["fold_fits"]
    run = summary["this_run"]
    lines += [
        (
            f"{trials['finished']} of {summary['budget']} trials finished ({trials['complete']} complete, "
            f"{trials['pruned']} pruned: {fits['saved_by_pruning']} fold fits saved), {trials['failed']} failed; "
            f"this run took {clock(run['seconds'])} with {run['jobs']} worker(s)."
        ),
    ]
    if summary["importances"]:
        top = ", ".join(f"`{name}` {value:.2f}" for name, value in list(summary["importances"].items())[:5])
        lines += ["", f"Parameter importances (fANOVA): {top}."]
    lines += ["", "Charts and the ranked trials: `history.svg`, `importance.svg`, `trials.csv`.", ""]
    return "\n".join(lines)


def write(
    out_dir: Path,
    summary: dict[str, Any],
    table: pd.DataFrame,
    diff: str,
    *,
    baseline_value: float | None,
) -> None:
    """Every file of the report, each written atomically."""
    io.write_json(out_dir / SUMMARY_JSON, summary)
    io.write_text(out_dir / SUMMARY_MD, markdown(summary, diff))
    io.write_csv(out_dir / TRIALS_CSV, table)
    io.write_text(out_dir / PARAMS_DIFF, diff)
    fold_columns = [c for c in table.columns if str(c).startswith("fold_") and c != "folds_run"]
    points = []
    for row in table.to_dict("records"):
        scores = [row[c] for c in fold_columns if row.get(c) is not None and not pd.isna(row[c])]
        value = row.get("walk_forward_average_precision")
        if row["state"] == TrialState.PRUNED.name and scores:
            value = scores[-1]
        points.append(charts.TrialPoint(int(row["trial"]), str(row["state"]), None if pd.isna(value) else value))
    charts.history(points, baseline_value, out_dir / HISTORY_SVG)
    charts.importance(summary["importances"], out_dir / IMPORTANCE_SVG)
