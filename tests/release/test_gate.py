"""The promotion gate: interval code (property tests), each decision path, and the command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import average_precision_score, recall_score

from mlops_template.core.config import GateParams
from mlops_template.data import schema
from mlops_template.release import gate
from mlops_template.release.gate import Bootstrap, Interval, Statistic
from tests.conftest import small_params_dict, write_params

FAST = {"resamples": 200, "confidence": 0.9}
values = arrays(np.float64, st.integers(5, 60), elements=st.floats(-100, 100, allow_nan=False, width=32))


def weighted_mean(x: np.ndarray) -> Statistic:
    return lambda weights: (weights @ x) / weights.sum(axis=1)


@st.composite
def labelled_scores(draw: st.DrawFn, min_rows: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Labels with both classes (five positives at least, so resamples hold one) and tied scores."""
    n = draw(st.integers(min_rows, 80))
    labels = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    labels[:6] = [0, 1, 1, 1, 1, 1]
    scores = np.array(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))).round(1)
    return labels, scores


# --- interval properties ---------------------------------------------------------------------------------


@given(x=values, shift=st.floats(-5, 5, allow_nan=False))
@settings(max_examples=40, deadline=None)
def test_a_constant_shift_gives_a_difference_interval_at_the_shift(x: np.ndarray, shift: float) -> None:
    result = gate.paired_bootstrap(len(x), {"m": weighted_mean(x + shift)}, {"m": weighted_mean(x)}, **FAST, seed=1)
    assert result.difference is not None
    diff = result.difference["m"]
    assert diff.value == pytest.approx(shift, abs=1e-5)
    assert diff.low == pytest.approx(shift, abs=1e-5)
    assert diff.high == pytest.approx(shift, abs=1e-5)
    assert diff.low - 1e-6 <= diff.value <= diff.high + 1e-6


@given(x=values.filter(lambda a: np.ptp(a) > 1e-3))
@settings(max_examples=30, deadline=None)
def test_intervals_narrow_as_rows_grow(x: np.ndarray) -> None:
    small = gate.paired_bootstrap(len(x), {"m": weighted_mean(x)}, None, resamples=400, confidence=0.9, seed=3)
    large_x = np.tile(x, 16)  # the same distribution, 16 times the rows: the width should fall ~4x
    large = gate.paired_bootstrap(
        len(large_x), {"m": weighted_mean(large_x)}, None, resamples=400, confidence=0.9, seed=3
    )
    width = small.candidate["m"].high - small.candidate["m"].low
    assert large.candidate["m"].high - large.candidate["m"].low < width / 2


@given(data=labelled_scores(), threshold=st.floats(0.05, 0.95))
@settings(max_examples=40, deadline=None)
def test_identical_models_have_a_zero_difference_and_ordered_bounds(
    data: tuple[np.ndarray, np.ndarray], threshold: float
) -> None:
    labels, scores = data
    same = gate.model_statistics(labels, scores, threshold)
    result = gate.paired_bootstrap(len(labels), same, gate.model_statistics(labels, scores, threshold), **FAST, seed=5)
    assert result.difference is not None
    for name in ("average_precision", "recall"):
        assert result.difference[name] == Interval(0.0, 0.0, 0.0)
        interval = result.candidate[name]
        assert 0.0 <= interval.low <= interval.high <= 1.0


@given(data=labelled_scores(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_the_same_seed_gives_the_same_intervals(data: tuple[np.ndarray, np.ndarray], seed: int) -> None:
    labels, scores = data
    other = np.clip(scores[::-1], 0, 1)

    def once() -> Bootstrap:
        return gate.paired_bootstrap(
            len(labels),
            gate.model_statistics(labels, scores, 0.5),
            gate.model_statistics(labels, other, 0.5),
            **FAST,
            seed=seed,
        )

    assert once() == once()


@given(data=labelled_scores(), counts=st.lists(st.integers(0, 3), min_size=80, max_size=80))
@settings(max_examples=60, deadline=None)
def test_weighted_statistics_match_scikit_learn_on_repeated_rows(
    data: tuple[np.ndarray, np.ndarray], counts: list[int]
) -> None:
    labels, scores = data
    weights = np.array(counts[: len(labels)], dtype=float)
    weights[:2] = 1  # keep both classes
    repeated = np.repeat(np.arange(len(labels)), weights.astype(int))
    average_precision = gate.average_precision_statistic(labels, scores)(weights[None, :])[0]
    assert average_precision == pytest.approx(average_precision_score(labels[repeated], scores[repeated]), abs=1e-12)
    recall = gate.recall_statistic(labels, scores >= 0.5)(weights[None, :])[0]
    assert recall == pytest.approx(recall_score(labels[repeated], scores[repeated] >= 0.5), abs=1e-12)


def test_a_resample_without_positives_is_undefined_and_too_many_fail_the_gate() -> None:
    labels = np.array([1] + [0] * 99)
    statistic = gate.recall_statistic(labels, labels.astype(bool))
    assert np.isnan(statistic(np.r_[0.0, np.ones(99)][None, :])[0])
    with pytest.raises(gate.GateError, match=f"too few {schema.POSITIVE_CLASS} cases"):
        gate.paired_bootstrap(100, {"recall": statistic}, None, resamples=200, confidence=0.9, seed=0)


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
    }
    assert evidence["champion"] is None
    assert evidence["difference"] is None
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
