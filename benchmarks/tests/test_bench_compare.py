"""bench-compare's bookkeeping: the ratios to the baselines measured in the same run, and the two targets."""

from __future__ import annotations

from benchmarks import bench_compare as bench


def _row(compare: float = 12.0, ablation: float = 90.0) -> dict[str, object]:
    return bench.result(
        compare_seconds=compare, gate_seconds=4.0, ablation_seconds=ablation, retrain_seconds=3.0, inputs=10, jobs=2
    )


def test_the_row_has_the_ratios_and_meets_both_targets() -> None:
    row = _row()
    assert row["compare_over_gate"] == 3.0
    assert row["ablation_over_one_retrain"] == 30.0
    assert row["compare_met"] is True
    assert row["ablation_met"] is True
    text = bench.report(row)
    assert "compare   3 models: 12.0 s (target < 30 s: met); gate on 2 models: 4.0 s; ratio 3.00x" in text
    assert "ablation  10 inputs, --jobs 2: 90.0 s (target < 300 s: met); one retrain: 3.0 s; ratio 30.0x" in text


def test_a_target_missed_says_so() -> None:
    assert _row(compare=31.0)["compare_met"] is False
    assert _row(ablation=301.0)["ablation_met"] is False
    assert "NOT met" in bench.report(_row(ablation=301.0))
