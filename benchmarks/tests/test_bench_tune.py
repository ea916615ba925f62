"""bench-tune's bookkeeping: its row comes from the study's summary, and the target needs every trial in time."""

from __future__ import annotations

from typing import Any

from benchmarks import bench_tune as bench


def _summary(finished: int = 50) -> dict[str, Any]:
    return {
        "trials": {"finished": finished, "complete": 30, "pruned": finished - 30, "failed": 1},
        "fold_fits": {"run": 110, "saved_by_pruning": 40},
        "best": {"trial": 17, "walk_forward_average_precision": 0.61},
        "baseline": {"trial": 0, "walk_forward_average_precision": 0.58},
        "gain": 0.03,
        "proposal": {"changes": {"learning_rate": 0.0734}},
    }


def test_the_row_reads_the_summary() -> None:
    row = bench.result(_summary(), 300.0, 50, 2)
    assert row["minutes"] == 5.0
    assert (row["complete"], row["pruned"], row["failed"]) == (30, 20, 1)
    assert row["fold_fits_saved_by_pruning"] == 40
    assert (row["best_walk_forward_average_precision"], row["todays_walk_forward_average_precision"]) == (0.61, 0.58)
    assert row["met"] is True
    assert "0.6100 walk-forward AP (trial 17)" in bench.report(row)


def test_the_target_needs_every_trial_within_ten_minutes() -> None:
    assert bench.result(_summary(), 601.0, 50, 2)["met"] is False
    assert bench.result(_summary(finished=45), 300.0, 50, 2)["met"] is False  # the time budget cut the study


def test_no_complete_trial_still_reports() -> None:
    summary = {**_summary(), "best": None, "baseline": None, "gain": None, "proposal": {"changes": {}}}
    text = bench.report(bench.result(summary, 60.0, 50, 2))
    assert "best        - walk-forward AP" in text
    assert "proposed: no change" in text
