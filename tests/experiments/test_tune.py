"""`mlops-template tune` end to end on a small project: real worker processes over a SQLite study."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from mlops_template import cli
from mlops_template.core.config import load_params
from mlops_template.experiments.search_space import BASELINE
from tests.support.params import write_params

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass(frozen=True)
class Outcome:
    root: Path
    code: int
    stdout: str

    @property
    def out(self) -> Path:
        return self.root / "reports/tuning"

    def summary(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads((self.out / "summary.json").read_text())
        return found

    def study(self) -> optuna.Study:
        url = f"sqlite:///{self.root / '.tune/optuna.db'}"
        return optuna.load_study(study_name=self.summary()["study"], storage=url)


def _tune(root: Path, *extra: str) -> Outcome:
    stdout = io.StringIO()
    args = ["tune", "--params", str(root / "params.yaml"), "--ingest", str(root / "artifacts/ingest")]
    with contextlib.redirect_stdout(stdout):
        code = cli.main([*args, "--out", str(root / "reports/tuning"), *extra])
    return Outcome(root, code, stdout.getvalue())


@pytest.fixture(scope="module")
def tiny_study(ingested_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    root = tmp_path_factory.mktemp("tiny-study") / "project"
    shutil.copytree(ingested_project, root)
    return _tune(root)


def _finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials() if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


def test_a_tiny_study_runs_its_budget_with_todays_params_as_trial_zero(tiny_study: Outcome) -> None:
    assert tiny_study.code == 0
    study = tiny_study.study()
    assert len(_finished(study)) == 6
    zero = study.trials[0]
    assert zero.user_attrs[BASELINE] is True
    assert zero.state == TrialState.COMPLETE  # today's params are never pruned
    assert zero.user_attrs["model"] == load_params(tiny_study.root / "params.yaml").train.model.model_dump(mode="json")
    assert len(zero.intermediate_values) == 2  # every fold
    assert any(t.state == TrialState.PRUNED and len(t.intermediate_values) == 1 for t in study.trials)
    assert not (tiny_study.root / "mlruns.db").exists()  # tracking is off in the small params: nothing logged
    assert not (tiny_study.root / "mlruns").exists()


def test_its_ranked_table(tiny_study: Outcome) -> None:
    rows = list(csv.DictReader((tiny_study.out / "trials.csv").open()))
    assert len(rows) == 6
    complete = [row for row in rows if row["state"] == "COMPLETE"]
    assert rows[: len(complete)] == complete
    scores = [float(row["walk_forward_average_precision"]) for row in complete]
    assert scores == sorted(scores, reverse=True)
    assert [row["rank"] for row in rows] == [str(i + 1) for i in range(len(complete))] + [""] * (6 - len(complete))
    assert tiny_study.summary()["best"]["walk_forward_average_precision"] == pytest.approx(scores[0])


def test_its_charts_are_svg_with_their_titles(tiny_study: Outcome) -> None:
    for name, title in (("history.svg", "Optimisation history"), ("importance.svg", "Parameter importances")):
        root = ET.parse(tiny_study.out / name).getroot()  # noqa: S314 - our own file
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert title in [element.text for element in root.iter()]


def test_its_diff_is_printed_and_written_or_says_there_is_none(tiny_study: Outcome) -> None:
    diff = (tiny_study.out / "params.diff").read_text()
    proposal = tiny_study.summary()["proposal"]
    if proposal["changed"]:
        assert tiny_study.stdout == diff
        assert diff.startswith("--- a/params.yaml\n+++ b/params.yaml\n")
    else:
        assert diff == ""
        assert tiny_study.stdout.startswith(f"{tiny_study.root / 'params.yaml'}: no change (")
        assert "No change to `params.yaml` is proposed" in (tiny_study.out / "summary.md").read_text()


def test_running_again_resumes_the_same_study(tiny_study: Outcome, tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(tiny_study.root, root)
    again = _tune(root)
    assert again.code == 0
    assert again.summary()["study"] == tiny_study.summary()["study"]
    assert len(_finished(again.study())) == 6  # the budget was met: nothing ran
    more = _tune(root, "--trials", "8")
    assert more.code == 0
    trials = _finished(more.study())
    assert len(trials) == 8
    assert sorted(t.number for t in trials) == list(range(8))


def test_two_jobs_share_one_study_and_its_budget(tuning_project: Path, tiny_params: dict[str, Any]) -> None:
    # Trials of about a second, none pruned: the worker that starts second still finds trials to run.
    tiny_params["train"]["model"]["max_iter"] = 100
    tiny_params["tune"]["hist_gradient_boosting"]["max_iter"] = {"low": 60, "high": 150}
    tiny_params["tune"]["pruner"]["startup_trials"] = 8
    write_params(tuning_project / "params.yaml", tiny_params)
    outcome = _tune(tuning_project, "--jobs", "2", "--trials", "8")
    assert outcome.code == 0
    study = outcome.study()
    assert len(study.trials) == 8  # never one trial more than the budget
    assert len(_finished(study)) == 8
    assert len({t.user_attrs["worker"]["pid"] for t in study.trials}) == 2
    assert outcome.summary()["this_run"]["jobs"] == 2


def _poor_today(root: Path, tiny_params: dict[str, Any]) -> None:
    tiny_params["train"]["model"].update(
        learning_rate=0.02, max_iter=10, max_leaf_nodes=7, min_samples_leaf=200, l2_regularization=10.0
    )
    write_params(root / "params.yaml", tiny_params)


def test_apply_writes_exactly_the_tuned_keys_and_only_when_asked(
    tuning_project: Path, tiny_params: dict[str, Any]
) -> None:
    _poor_today(tuning_project, tiny_params)
    before = (tuning_project / "params.yaml").read_text()
    proposed = _tune(tuning_project)
    assert proposed.code == 0
    assert (tuning_project / "params.yaml").read_text() == before  # nothing applied silently
    assert proposed.stdout == (proposed.out / "params.diff").read_text()
    assert proposed.stdout.startswith("--- a/params.yaml\n+++ b/params.yaml\n")

    applied = _tune(tuning_project, "--apply")  # the same study, its budget met: no trial runs again
    assert applied.code == 0
    assert applied.stdout == proposed.stdout
    change = applied.summary()["proposal"]
    assert change["changed"] is True
    after = (tuning_project / "params.yaml").read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert sorted(line.split(":")[0].strip() for line, _ in changed) == sorted(change["changes"])
    assert (
        load_params(tuning_project / "params.yaml").train.model.model_dump(mode="json")
        == (applied.summary()["best"]["model"])
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda raw: raw["tune"]["hist_gradient_boosting"].update(learning_rate={"low": 0.3, "high": 0.1}),
            "tune.hist_gradient_boosting.learning_rate: Value error, low 0.3 is not below high 0.1",
        ),
        (
            lambda raw: raw["tune"].update(learning_rate=0.1),
            "tune.learning_rate: Extra inputs are not permitted",
        ),
        (
            lambda raw: raw["tune"]["hist_gradient_boosting"].update(max_iter={"low": 100, "high": 200}),
            "tune.hist_gradient_boosting.max_iter: [100, 200] leaves out today's train.model.max_iter 20",
        ),
        (lambda raw: raw["tune"].update(folds=5), "tune.folds=5: needs at least 6 training and validation weeks"),
    ],
)
def test_a_bad_tune_section_is_refused_in_one_line_naming_the_key(
    change: Any, expected: str, tuning_project: Path, tiny_params: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    change(tiny_params)
    write_params(tuning_project / "params.yaml", tiny_params)
    assert _tune(tuning_project).code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: tune: ")
    assert [line for line in err.splitlines() if expected in line], err
    assert len([line for line in err.splitlines() if "tune." in line]) == 1
    assert "Traceback" not in err
    assert not (tuning_project / ".tune/optuna.db").exists()  # refused before any study is opened
