"""bench-page's bookkeeping: medians, p90 and ratios to the baseline, and the 1 s target per screen."""

from __future__ import annotations

from benchmarks import bench_page as bench


def test_a_figure_is_the_median_and_the_p90_of_its_samples() -> None:
    figure = bench.Figure("x", [5.0, 1.0, 3.0, 2.0, 4.0, 6.0, 7.0, 8.0, 9.0, 10.0, 100.0])
    assert figure.median == 6.0
    assert figure.p90 == 10.0


def test_the_table_gives_each_screen_its_ratio_and_says_whether_it_met_the_target() -> None:
    baseline = bench.Figure("baseline: GET /health loaded", [50.0, 50.0, 50.0])
    fast = bench.Figure("page: key screen usable (new tab)", [150.0, 200.0, 250.0])
    slow = bench.Figure("page: score form usable (key kept)", [1200.0, 1300.0, 1100.0])
    lines = bench.table(baseline, [fast, slow])
    assert lines[0].split()[:4] == ["screen", "median", "ms", "p90"]
    assert lines[1].split()[-1] == "1.00"  # the baseline: no verdict
    assert lines[2].endswith("4.00  met")
    assert lines[3].endswith("24.00  MISSED")
