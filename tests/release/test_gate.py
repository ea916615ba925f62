"""The promotion gate: each decision path, and the command (its statistics: tests/model/test_statistics.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_template.core.config import GateParams
from mlops_template.model.statistics import Bootstrap, Interval
from mlops_template.release import gate
from tests.support.params import small_params_dict, write_params

# --- decision paths ----------------------------------------------------------------------------------------


RULES = GateParams()  # floors 0.2; max_regression 0.03 (AP) / 0.10 (recall); min_gain 0.005 / 0.01


def bootstrap(candidate: tuple[float, float], diff: dict[str, tuple[float, float, float]] | None) -> Bootstrap:
    ap, recall = candidate
    metrics = {
        "average_precision": Interval(ap, ap - 0.1, ap + 0.1),
        "recall": Interval(recall, recall - 0.1, recall + 0.1),
    }
    difference = {name: Interval(*bounds) for name, bounds in diff.items()} if diff else None
    return Bootstrap(candidate=metrics, champion=metrics if diff else None, difference=difference, replicates=1000)


NEUTRAL = {"average_precision": (0.001, -0.01, 0.012), "recall": (0.0, -0.03, 0.03)}


def test_a_metric_below_its_floor_fails_even_without_a_champion() -> None:
    decision, reason = gate.decide(bootstrap((0.5, 0.15), None), RULES)
    assert decision == "fail"
    assert reason == "recall 0.1500 is below its floor 0.2000"


def test_the_first_model_passes_on_floors_alone() -> None:
    decision, reason = gate.decide(bootstrap((0.45, 0.44), None), RULES)
    assert decision == "pass"
    assert reason.startswith("first model (no champion to compare): floors met")


def test_a_possible_regression_beyond_the_margin_fails() -> None:
    diff = {**NEUTRAL, "average_precision": (-0.01, -0.04, 0.02)}
    decision, reason = gate.decide(bootstrap((0.45, 0.44), diff), RULES)
    assert decision == "fail"
    assert reason == (
        "average_precision may have regressed by more than 0.0300 (difference -0.0100, 95% CI [-0.0400, +0.0200])"
    )


def test_a_regression_within_the_margin_is_tolerated() -> None:
    diff = {**NEUTRAL, "recall": (-0.02, -0.099, 0.04)}
    assert gate.decide(bootstrap((0.45, 0.44), diff), RULES)[0] == "pass"


def test_a_significant_and_large_enough_gain_passes_as_better() -> None:
    diff = {**NEUTRAL, "average_precision": (0.02, 0.004, 0.036)}
    decision, reason = gate.decide(bootstrap((0.45, 0.44), diff), RULES)
    assert (decision, reason.split(":")[0]) == ("pass", "better than the champion")


@pytest.mark.parametrize(
    "gain",
    [(0.004, 0.001, 0.008), (0.02, -0.001, 0.04)],
    ids=["significant but below min_gain", "large but not significant"],
)
def test_no_meaningful_gain_passes_with_a_note_or_fails_when_required(gain: tuple[float, float, float]) -> None:
    diff = {**NEUTRAL, "average_precision": gain}
    decision, reason = gate.decide(bootstrap((0.45, 0.44), diff), RULES)
    assert (decision, reason.split(",")[0]) == ("pass", "no meaningful gain over the champion")
    strict = RULES.model_copy(update={"require_gain": True})
    decision, reason = gate.decide(bootstrap((0.45, 0.44), diff), strict)
    assert decision == "fail"
    assert "gate.require_gain is true" in reason


# --- the command ----------------------------------------------------------------------------------------------


def _gate(root: Path, *extra: str) -> int:
    served = root / "models/served"
    rows = root / "artifacts/ingest/test.parquet"
    shipped = Path(__file__).resolve().parents[2] / "params.yaml"  # whatever the working directory
    return gate.main(["--params", str(shipped), "--candidate", str(served), "--rows", str(rows), *extra])


def test_the_first_model_writes_stable_evidence(
    served_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = served_dir.parent.parent
    assert _gate(root, "--champion", "none", "--out", str(tmp_path / "a.json")) == 0
    line = capsys.readouterr().out
    assert line.startswith("gate: pass: first model")
    assert line.count("\n") == 1
    assert _gate(root, "--champion", "NONE", "--out", str(tmp_path / "b.json")) == 0
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    evidence = json.loads((tmp_path / "a.json").read_text())
    assert set(evidence) == {
        "decision",
        "reason",
        "rows",
        "weeks",
        "candidate",
        "champion",
        "difference",
        "rules",
        "bootstrap",
        "fairness",
        "slices",
    }
    assert evidence["champion"] is None
    assert evidence["difference"] is None
    assert evidence["slices"] is None  # no champion: no change to report
    assert evidence["weeks"] == json.loads((root / "artifacts/ingest/weeks.json").read_text())["test"]
    metrics = json.loads((root / "reports/metrics.json").read_text())
    assert evidence["rows"] == metrics["test"]["rows"]
    assert evidence["candidate"]["version"] == metrics["model_version"]
    for name in ("average_precision", "recall"):
        found = evidence["candidate"]["metrics"][name]
        assert found["value"] == pytest.approx(metrics["model"][name], abs=1e-6)  # what evaluate measured
        assert found["low"] <= found["value"] <= found["high"]


def test_the_model_against_itself_has_a_zero_difference(served_dir: Path, tmp_path: Path) -> None:
    root = served_dir.parent.parent
    assert _gate(root, "--champion", str(served_dir), "--out", str(tmp_path / "gate.json")) == 0
    evidence = json.loads((tmp_path / "gate.json").read_text())
    assert evidence["difference"]["average_precision"] == {"value": 0.0, "low": 0.0, "high": 0.0}
    assert evidence["champion"]["version"] == evidence["candidate"]["version"]


def test_a_floor_not_met_exits_1(served_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = small_params_dict()
    raw["gate"]["recall"]["floor"] = 0.99
    params = write_params(tmp_path / "params.yaml", raw)
    code = _gate(
        served_dir.parent.parent, "--champion", "none", "--params", str(params), "--out", str(tmp_path / "g.json")
    )
    assert code == 1
    assert "is below its floor 0.9900" in capsys.readouterr().out
    assert json.loads((tmp_path / "g.json").read_text())["decision"] == "fail"


def test_user_errors_exit_2_with_one_line(served_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = served_dir.parent.parent
    assert _gate(root, "--champion", str(tmp_path / "missing"), "--out", str(tmp_path / "g.json")) == 2
    assert capsys.readouterr().err.startswith("error: gate: --champion:")
    code = _gate(root, "--candidate", str(tmp_path), "--champion", "none")
    assert code == 2
    assert "not a served model directory" in capsys.readouterr().err
    assert not (tmp_path / "g.json").exists()


def test_a_fairness_group_that_is_no_column_is_one_line(
    served_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = small_params_dict()
    raw["evaluate"]["fairness"] = {"groups": [{"column": "age", "bands": [30]}]}
    params = write_params(tmp_path / "params.yaml", raw)
    code = _gate(
        served_dir.parent.parent, "--champion", "none", "--params", str(params), "--out", str(tmp_path / "g.json")
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: gate: evaluate.fairness.groups.0.column: 'age' is not a column of the contract")
    assert err.count("\n") == 1
    assert not (tmp_path / "g.json").exists()


def test_champion_and_base_rev_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        gate.main(["--champion", "none", "--base-rev", "HEAD"])
    assert exit_info.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["gate", "promote", "report"])
def test_the_cli_forwards_to_the_command(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    from mlops_template import cli  # noqa: PLC0415

    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: mlops-template {command} ")
