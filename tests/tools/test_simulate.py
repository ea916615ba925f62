"""`mlops-template simulate`: its calendar, its refusals and its plot, without running the loop
(tests/tools/test_simulate_loop.py runs it)."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlops_template.core.config import parse_params
from mlops_template.monitoring.detectors import KINDS
from mlops_template.tools.simulate import api, command, loop, plot, working_copy
from mlops_template.tools.simulate.options import Options, SimulationError
from tests.support.params import shipped_params_dict


def _options(tmp_path: Path, **changes: Any) -> Options:
    values: dict[str, Any] = {
        "weeks": 4,
        "scenario": "new_fraud_pattern",
        "drift_week": 2,
        "history": 6,
        "strength": 1.0,
        "seed": None,
        "retrain": "on-breach",
        "retrain_weeks": (),
        "corrupt_labels": (),
        "base_params": tmp_path / "params.yaml",
        "workdir": tmp_path / "loop",
        "last_week": "2026-W40",
    }
    return Options(**(values | changes))


def test_the_calendar_ends_at_the_last_week_and_the_drift_starts_at_its_simulated_week(tmp_path: Path) -> None:
    raw = working_copy.simulation_params(shipped_params_dict(), _options(tmp_path, seed=7))
    # 6 history weeks + 4 simulated weeks end at 2026-W40: the first batch is 2026-W31.
    assert raw["source"]["first_week"] == "2026-W31"
    assert raw["source"]["drift"] == {"scenario": "new_fraud_pattern", "start_week": "2026-W38", "strength": 1.0}
    assert raw["tracking"]["enabled"] is False
    assert raw["base"]["seed"] == 7
    if "monitor" in raw:
        assert raw["monitor"]["volume"]["rows_per_week_max_ratio"] is None
    parse_params(raw)  # still valid params


def test_the_base_params_are_not_changed(tmp_path: Path) -> None:
    raw = shipped_params_dict()
    before = repr(raw)
    working_copy.simulation_params(raw, _options(tmp_path))
    assert repr(raw) == before


def test_a_file_source_is_refused(tmp_path: Path) -> None:
    raw = shipped_params_dict()
    raw["source"] = {"kind": "files", "path": "landing/*.csv"}
    with pytest.raises(SimulationError, match=r"source.kind='files'.*kind: simulated"):
        working_copy.simulation_params(raw, _options(tmp_path))


def test_the_last_ended_week_is_the_one_before_today() -> None:
    assert command.last_ended_week(dt.date(2026, 11, 23)) == "2026-W47"  # a Monday: W48 has just begun
    assert command.last_ended_week(dt.date(2026, 11, 29)) == "2026-W47"  # its Sunday: W48 not over yet


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--last-week", "2999-W01"], "has not ended yet"),
        (["--last-week", "2026-W99"], "--last-week: week '2026-W99'"),
        (["--scenario", "prior_shift", "--start-week", "9"], "--start-week 9: after the last simulated week"),
        (["--corrupt-labels", "5"], "--corrupt-labels 5: after the last simulated week"),
        (["--retrain-week", "7"], "--retrain-week 7: after the last simulated week"),
        (["--params", "missing.yaml"], "--params missing.yaml: not found"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    argv: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("base: {}\n")
    code = command.main(["--weeks", "4", "--workdir", str(tmp_path / "loop"), *argv])
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: simulate: ")
    assert expected in error
    assert not (tmp_path / "loop").exists()


def test_a_non_empty_workdir_is_refused(tmp_path: Path) -> None:
    (tmp_path / "loop").mkdir()
    (tmp_path / "loop" / "something").write_text("mine")
    with pytest.raises(SimulationError, match="not empty"):
        loop.Loop(_options(tmp_path)).prepare()
    assert (tmp_path / "loop" / "something").read_text() == "mine"


def test_live_metrics_from_the_answers_and_the_truth() -> None:
    served = api.Served(week="2026-W40", started="t")
    served.probabilities = [0.9, 0.8, 0.3, 0.1]
    served.predicted = [1, 1, 0, 0]
    served.truth = [1, 0, 1, 0]
    found = api.live_metrics(served)
    assert found["rows"] == 4
    assert found["positives"] == 2
    assert found["recall"] == 0.5
    assert found["average_precision"] == pytest.approx((1.0 + 2 / 3) / 2)
    served.truth = [0, 0, 0, 0]
    assert api.live_metrics(served)["average_precision"] is None


def _week(number: int, *, alarm: bool, promoted: bool | None, status: str = "ok") -> dict[str, Any]:
    breaches = [{"kind": "performance", "detector": "average_precision", "reason": "drop"}] if alarm else []
    return {
        "week": f"2026-W{30 + number}",
        "drift_active": number >= 2,
        "live": {"average_precision": 0.5 - 0.1 * alarm, "recall": 0.4},
        "monitor": {
            "status": status,
            "breaches": breaches,
            "detectors": {
                "score_psi": {"kind": "input_drift", "statistic": 0.01, "breach": False},
                "psi:amount": {"kind": "input_drift", "statistic": 0.02 * number, "breach": False},
            },
        },
        "alarm": alarm,
        "gate": None if promoted is None else {"decision": "pass" if promoted else "fail"},
        "promoted": bool(promoted),
    }


def test_the_plot_is_a_self_contained_stable_svg(tmp_path: Path) -> None:
    document = {
        "scenario": "new_fraud_pattern",
        "retrain": "on-breach",
        "weeks": [
            _week(1, alarm=False, promoted=None, status="insufficient"),
            _week(2, alarm=False, promoted=None),
            _week(3, alarm=True, promoted=False),
            _week(4, alarm=True, promoted=True),
        ],
    }
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    plot.plot(document, first)
    plot.plot(document, second)
    text = first.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml")
    assert not re.search(r"""(href|src)=["']https?:|url\(https?:""", text)  # nothing fetched (namespaces aside)
    assert "2026-W34" in text
    assert first.read_bytes() == second.read_bytes()  # a regenerated plot diffs only where the data changed


def test_the_plot_draws_each_week_its_alarms_gates_and_breaches() -> None:
    from matplotlib.colors import to_hex  # noqa: PLC0415 (matplotlib only where the plot is tested)

    weeks = [
        _week(1, alarm=False, promoted=None, status="insufficient"),
        _week(2, alarm=False, promoted=None),
        _week(3, alarm=True, promoted=False),
        _week(4, alarm=True, promoted=True),
    ]
    figure = plot.loop_figure({"scenario": "new_fraud_pattern", "retrain": "on-breach", "weeks": weeks})
    top = next(axes for axes in figure.axes if axes.get_ylabel() == "on the week's traffic")
    lines = {line.get_label(): line for line in top.get_lines()}
    # Live AP and recall, one point a week
    assert list(lines["live average precision"].get_ydata()) == pytest.approx([0.5, 0.5, 0.4, 0.4])
    assert list(lines["live recall"].get_ydata()) == pytest.approx([0.4] * 4)
    # An alarm line at each week the monitor fired
    alarms = sorted(
        float(line.get_xdata()[0])
        for line in top.get_lines()
        if line.get_linestyle() == ":" and len(line.get_xdata()) == 2 and line.get_xdata()[0] == line.get_xdata()[1]
    )
    assert alarms == [2.0, 3.0]
    # A red cross where the gate kept the champion, a green star where it promoted
    marks = {
        to_hex(collection.get_facecolor()[0]): [tuple(offset) for offset in collection.get_offsets()]
        for collection in top.collections
        if len(collection.get_offsets())
    }
    assert marks == {"#c00000": [(2.0, 1.02)], "#2e7d32": [(3.0, 1.02)]}
    # The drift shaded from its first week
    assert top.patches[0].get_x() == pytest.approx(0.5)
    # Below: performance breached in weeks 3 and 4; week 1 too few labels to judge it (blank)
    (matrix,) = (image.get_array() for axes in figure.axes for image in axes.images)
    performance = list(plot.BREACH_ROWS).index("performance")
    assert list(matrix[performance].filled(-1)) == [-1, 0, 1, 1]
    assert matrix.sum() == 2


def test_the_breach_rows_are_every_detector_kind_in_the_committed_figures_order() -> None:
    # docs/loop.svg has these rows; a new kind, or a reordered `Kind`, changes it: regenerate it (make loop-plot).
    assert plot.BREACH_ROWS == ("performance", "calibration", "volume", "input_drift", "data_quality")
    assert set(plot.BREACH_ROWS) == set(KINDS)


def test_python_dash_m_runs_the_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlops_template.tools.simulate", "--weeks", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "mlops-template simulate: error: argument --weeks: '0' (rule: a whole number, at least 1)" in done.stderr
