"""bench-pipeline stops with a report that says which command failed and why, not an empty reason."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmarks import bench_pipeline as bench

# What `data generate` printed when the simulator wrote a Sunday row into Monday (issue 13): the reason
# is on stderr, where the benchmark used to lose it.
CLI_ERROR = (
    "error: data generate: data/2026-W37.csv: 2 of 20840 rows have event times outside 2026-W37 "
    "(2026-09-07 to 2026-09-13 UTC)"
)


def test_a_failure_names_the_command_where_it_ran_its_exit_code_and_both_streams() -> None:
    report = bench.failure_report(
        ("mlops-template", "data", "generate", "--weeks", "12"), Path("rows-250000"), 2, "wrote nothing\n", CLI_ERROR
    )
    lines = report.splitlines()
    assert lines[0] == "benchmark command failed (exit code 2): mlops-template data generate --weeks 12"
    assert lines[1] == "  in rows-250000"
    assert lines[2:] == ["  stdout:", "    | wrote nothing", "  stderr:", f"    | {CLI_ERROR}"]


def test_only_the_last_lines_of_a_long_stream_are_shown_and_an_empty_one_says_so() -> None:
    stdout = "".join(f"line {i}\n" for i in range(1, 101))
    report = bench.failure_report(("dvc", "repro"), Path(), 1, stdout, "", lines=3)
    assert "  stdout (last 3 of 100 lines):\n    | line 98\n    | line 99\n    | line 100" in report
    assert "line 97" not in report
    assert report.endswith("  stderr: (empty)")


def test_a_command_killed_by_a_signal_says_so() -> None:
    report = bench.failure_report(("dvc", "repro"), Path(), -9, "", "")
    assert report.startswith("benchmark command failed (killed by signal 9): dvc repro")


def test_the_measure_line_is_split_from_the_commands_own_output() -> None:
    assert bench.split_measured(f"Running stage 'train'\n\n{bench.MEASURED} 2048 0\n") == (
        "Running stage 'train'\n",
        0,
        2.0,
    )
    assert bench.split_measured(f"\n{bench.MEASURED} 1024 -9\n") == ("", -9, 1.0)
    assert bench.split_measured("Traceback (most recent call last):\n") is None  # the wrapper itself died


def test_timed_reports_what_the_failed_command_printed_on_stdout_and_stderr(tmp_path: Path) -> None:
    fail = f"import sys; print('progress'); sys.exit({CLI_ERROR!r})"  # sys.exit(text): text on stderr, exit 1
    with pytest.raises(SystemExit) as stopped:
        bench.timed(tmp_path, sys.executable, "-c", fail)
    report = str(stopped.value.code)
    assert report.startswith(f"benchmark command failed (exit code 1): {sys.executable} -c ")
    assert f"  in {tmp_path}" in report
    assert "  stdout:\n    | progress\n" in report
    assert report.endswith(f"  stderr:\n    | {CLI_ERROR}")


def test_timed_reports_a_command_that_could_not_start(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stopped:
        bench.timed(tmp_path, "no-such-command-mlops-bench")
    assert "No such file or directory: 'no-such-command-mlops-bench'" in str(stopped.value.code)


def test_timed_measures_a_command_that_succeeds(tmp_path: Path) -> None:
    seconds, peak_mib = bench.timed(tmp_path, sys.executable, "-c", "print('fine')")
    assert seconds > 0
    assert peak_mib > 1  # a Python interpreter's resident set, in MiB
