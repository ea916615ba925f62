"""The report: ranked trials, today's params against the best on the same folds, charts, the proposal."""

from __future__ import annotations

import csv
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from mlops_template.core.config import Params, parse_params
from mlops_template.experiments import charts, tuning_report
from mlops_template.experiments.objective import MODEL
from mlops_template.experiments.progress import Progress, clock, render, snapshot
from mlops_template.experiments.search_space import BASELINE
from tests.support.params import small_params_dict

optuna.logging.set_verbosity(optuna.logging.WARNING)
FOLDS = [
    tuning_report.FoldInfo(0, "2026-W38", ("2026-W35", "2026-W36", "2026-W37")),
    tuning_report.FoldInfo(1, "2026-W39", ("2026-W35", "2026-W36", "2026-W37", "2026-W38")),
]
RUN = tuning_report.RunInfo("tune-x", "sqlite:///x.db", "abc", 12.0, 2, 5)
LR = FloatDistribution(0.02, 0.3, log=True)


def _params(**tune: Any) -> Params:
    raw = small_params_dict()
    raw["tune"].update(tune)
    return parse_params(raw)


def _trial(state: TrialState, folds: list[float], lr: float, **attrs: Any) -> optuna.trial.FrozenTrial:
    model = {**_params().train.model.model_dump(mode="json"), "learning_rate": lr}
    value = sum(folds) / len(folds) if state == TrialState.COMPLETE else None
    return create_trial(
        state=state,
        value=value,
        params={"learning_rate": lr},
        distributions={"learning_rate": LR},
        intermediate_values=dict(enumerate(folds)),
        user_attrs={MODEL: model, **attrs},
    )


def _study(*trials: optuna.trial.FrozenTrial) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    for trial in trials:
        study.add_trial(trial)
    return study


def _baseline_loses() -> optuna.Study:
    return _study(
        _trial(TrialState.COMPLETE, [0.60, 0.62], 0.05, **{BASELINE: True}),
        _trial(TrialState.COMPLETE, [0.70, 0.66], 0.11),
        _trial(TrialState.PRUNED, [0.40], 0.25),
        _trial(TrialState.COMPLETE, [0.50, 0.52], 0.2),
        _trial(TrialState.FAIL, [], 0.03),
    )


def test_the_table_ranks_complete_trials_by_score_then_lists_the_rest() -> None:
    table = tuning_report.ranked_table(_baseline_loses().get_trials(), FOLDS)
    assert list(table["trial"]) == [1, 0, 3, 2, 4]
    assert list(table["rank"].astype("object").where(table["rank"].notna(), None)) == [1, 2, 3, None, None]
    assert list(table.columns[:6]) == [
        "rank",
        "trial",
        "state",
        "walk_forward_average_precision",
        "fold_1_2026-W38",
        "fold_2_2026-W39",
    ]
    assert table.loc[3, "fold_1_2026-W38"] == 0.4  # a pruned trial keeps the folds it ran
    assert table.loc[0, "model.learning_rate"] == 0.11


def test_the_proposal_is_the_best_trials_change_against_trial_zero() -> None:
    study = _baseline_loses()
    summary = tuning_report.summarize(study.get_trials(), _params(), FOLDS, RUN, {"learning_rate": 1.0})
    assert summary["baseline"]["trial"] == 0
    assert summary["best"]["trial"] == 1
    assert summary["gain"] == pytest.approx(0.07)
    assert summary["proposal"]["changed"] is True
    assert summary["proposal"]["changes"] == {"learning_rate": 0.11}
    assert summary["trials"] == {"finished": 4, "complete": 3, "pruned": 1, "failed": 1, "running": 0, "waiting": 0}
    assert summary["fold_fits"] == {"run": 7, "saved_by_pruning": 1}
    assert summary["test_weeks_read"] is False


def test_no_change_when_todays_params_stay_best_or_the_gain_is_below_min_gain() -> None:
    wins = _study(
        _trial(TrialState.COMPLETE, [0.70, 0.70], 0.05, **{BASELINE: True}),
        _trial(TrialState.COMPLETE, [0.70, 0.70], 0.11),  # a tie: today's params stay
    )
    kept = tuning_report.summarize(wins.get_trials(), _params(), FOLDS, RUN, {})
    assert kept["best"]["trial"] == 0
    assert kept["proposal"] == {
        "changed": False,
        "reason": "today's params (trial 0) stay best",
        "changes": {},
        "removed": [],
    }
    small = tuning_report.summarize(_baseline_loses().get_trials(), _params(min_gain=0.1), FOLDS, RUN, {})
    assert small["proposal"]["changed"] is False
    assert "below tune.min_gain 0.1" in small["proposal"]["reason"]


def _svg_text(path: Path) -> str:
    root = ET.parse(path).getroot()  # well-formed XML  # noqa: S314 - our own file
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return " ".join(text for element in root.iter() if (text := element.text))


def test_the_report_files(tmp_path: Path) -> None:
    study = _baseline_loses()
    trials = study.get_trials()
    summary = tuning_report.summarize(trials, _params(), FOLDS, RUN, {"learning_rate": 1.0})
    table = tuning_report.ranked_table(trials, FOLDS)
    tuning_report.write(tmp_path, summary, table, "--- a/params.yaml\n", baseline_value=0.61)
    assert json.loads((tmp_path / "summary.json").read_text())["best"]["trial"] == 1
    rows = list(csv.DictReader((tmp_path / "trials.csv").open()))
    assert [row["trial"] for row in rows] == ["1", "0", "3", "2", "4"]
    assert [row["rank"] for row in rows] == ["1", "2", "3", "", ""]
    markdown = (tmp_path / "summary.md").read_text()
    assert "| today's params | 0 | 0.6100 | 0.6000 | 0.6200 |" in markdown
    assert "| best | 1 | 0.6800 | 0.7000 | 0.6600 |" in markdown
    assert "| `train.model.learning_rate` | `0.05` | `0.11` |" in markdown
    assert "the test weeks judge this change in the promotion gate" in markdown
    assert (tmp_path / "params.diff").read_text() == "--- a/params.yaml\n"
    assert charts.HISTORY_TITLE in _svg_text(tmp_path / "history.svg")
    assert "today's params (trial 0)" in _svg_text(tmp_path / "history.svg")
    importance = _svg_text(tmp_path / "importance.svg")
    assert charts.IMPORTANCE_TITLE in importance
    assert "learning_rate" in importance


def test_charts_without_enough_trials_say_so(tmp_path: Path) -> None:
    charts.history([], None, tmp_path / "history.svg")
    charts.importance({}, tmp_path / "importance.svg")
    assert "no finished trial yet" in _svg_text(tmp_path / "history.svg")
    assert "needs at least two complete trials" in _svg_text(tmp_path / "importance.svg")


def test_charts_are_byte_stable(tmp_path: Path) -> None:
    for name in ("a", "b"):
        charts.importance({"learning_rate": 0.7, "max_iter": 0.3}, tmp_path / f"{name}.svg")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


def test_importances_need_two_complete_trials_with_different_params() -> None:
    one = _study(_trial(TrialState.COMPLETE, [0.6, 0.6], 0.05))
    assert tuning_report.importances(one, seed=0) == {}
    found = tuning_report.importances(_baseline_loses(), seed=0)
    assert list(found) == ["learning_rate"]


def test_progress_counts_finished_trials_and_estimates_time_left() -> None:
    trials = _baseline_loses().get_trials()
    state = snapshot(trials, budget=10, jobs=2, known=set(), deadline=None)
    assert (state.finished, state.pruned, state.best) == (4, 1, (1, pytest.approx(0.68)))
    assert state.seconds_left is not None
    assert render(state).startswith("trial 4/10 | best 0.6800 (trial 1) | pruned 1 | ~")
    assert snapshot(trials, budget=4, jobs=1, known=set(), deadline=None).seconds_left == 0.0
    unknown = snapshot(trials, budget=10, jobs=1, known={t.number for t in trials}, deadline=None)
    assert render(unknown).endswith("time left -")
    assert [clock(s) for s in (0.2, 65, 3725)] == ["1s", "1m05s", "1h02m"]
    soon = time.time() + 0.5  # the time budget bounds the estimate, but does not make one up
    bounded = snapshot(trials, budget=1000, jobs=1, known=set(), deadline=soon).seconds_left
    assert bounded is not None
    assert bounded <= 0.5
    assert snapshot(trials, budget=10, jobs=1, known={t.number for t in trials}, deadline=soon).seconds_left is None


def test_progress_rewrites_one_line_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    import sys  # noqa: PLC0415

    progress = Progress(sys.stdout, terminal=True)
    state = snapshot(_baseline_loses().get_trials(), budget=10, jobs=1, known=set(), deadline=None)
    progress.show(state)
    progress.show(state)
    progress.close()
    out = capsys.readouterr().out
    assert out.count("\r") == 2
    assert out.endswith("\n")
    assert out.count("\n") == 1
