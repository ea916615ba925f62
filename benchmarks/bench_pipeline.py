"""Benchmark `dvc repro` end to end: default data, a large simulated history, and the no-op run.

    make bench                                  # default data, ~250k and ~1M rows
    python benchmarks/bench_pipeline.py --rows 1000000

Every number is measured in this run, on this machine: per-row cost on the large history is
printed as a ratio to the default-data run, the marginal cost of each extra row between sizes
(fixed costs cancel out there: linear growth means the marginal cost stays flat), and the no-op
`dvc repro` as a difference to DVC's own floor (a one-stage pipeline with nothing to do).
Every stage is forced (`dvc repro -f -s`), so each call also pays DVC's floor once.
Peak memory is the largest process's max RSS.
Targets (from the issue): cost grows linearly with rows, the 1M-row run stays under 4 GB, and the
no-op run adds at most 0.5 s to DVC's floor. Results also go to
benchmarks/results/<time>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.workspace import REPO, VENV_BIN, copy_project, project_env

STAGES = ("ingest", "featurize", "train", "export", "evaluate", "register")
WEEKS = 12
# Runs a command, letting its stdout and stderr through (a failure is reported with them), then prints
# on a line of its own the peak RSS (KiB) of the largest process it waited for and the command's exit
# code (negative: killed by that signal, which an exit status cannot carry).
MEASURED = "measured: peak-rss-kib exit-code"
MEASURE = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    f"print('\\n{MEASURED}', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)\n"
    "sys.exit(code != 0)\n"
)
TAIL_LINES = 20  # of each stream, when a command fails


def split_measured(stdout: str) -> tuple[str, int, float] | None:
    """MEASURE's stdout as (the command's own stdout, its exit code, peak MiB); None if MEASURE died first."""
    own, marker, summary = stdout.rpartition(MEASURED)
    if not marker:
        return None
    peak_kib, code = summary.split()
    return own.removesuffix("\n"), int(code), int(peak_kib) / 1024


def failure_report(
    command: tuple[str, ...], cwd: Path, code: int, stdout: str, stderr: str, *, lines: int = TAIL_LINES
) -> str:
    """Why the benchmark stopped: the command, where it ran, its exit code and the end of both streams.

    Both streams, because our CLI prints its one-line `error: ...` on stderr while DVC reports a failed
    stage's command on stdout.
    """
    how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    report = [f"benchmark command failed ({how}): {' '.join(command)}", f"  in {cwd}"]
    for name, text in (("stdout", stdout), ("stderr", stderr)):
        every = text.rstrip("\n").splitlines()
        if not every:
            report.append(f"  {name}: (empty)")
            continue
        shown = every[-lines:]
        report.append(
            f"  {name} (last {len(shown)} of {len(every)} lines):" if len(shown) < len(every) else f"  {name}:"
        )
        report.extend(f"    | {line}" for line in shown)
    return "\n".join(report)


def checked(cwd: Path, *command: str) -> None:
    """Run `command` in `cwd` unmeasured; stop the benchmark with a failure report if it fails."""
    found = subprocess.run(list(command), cwd=cwd, env=project_env(), capture_output=True, text=True, check=False)
    if found.returncode != 0:
        raise SystemExit(failure_report(command, cwd, found.returncode, found.stdout, found.stderr))


def timed(cwd: Path, *command: str) -> tuple[float, float]:
    """Run `command` in `cwd`; return (seconds, peak MiB), or stop the benchmark with a failure report."""
    start = time.perf_counter()
    found = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        cwd=cwd,
        env=project_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    measured = split_measured(found.stdout)
    if measured is None:  # MEASURE could not run the command at all (not found, say): its traceback says why
        raise SystemExit(failure_report(command, cwd, found.returncode, found.stdout, found.stderr))
    stdout, code, peak_mib = measured
    if code != 0:
        raise SystemExit(failure_report(command, cwd, code, stdout, found.stderr))
    return seconds, peak_mib


def workspace(root: Path, name: str) -> Path:
    """A fresh git repository with the project's tracked and untracked-unignored files."""
    return copy_project(root / name)


def run_stages(ws: Path) -> dict[str, dict[str, float]]:
    """Each stage on its own (`dvc repro -s`), in pipeline order: seconds and peak MiB."""
    found = {}
    for stage in STAGES:
        seconds, peak = timed(ws, "dvc", "repro", "--force", "--single-item", stage)
        found[stage] = {"seconds": round(seconds, 2), "peak_mib": round(peak, 1)}
    found["total"] = {
        "seconds": round(sum(s["seconds"] for s in found.values()), 2),
        "peak_mib": max(s["peak_mib"] for s in found.values()),
    }
    return found


def rows_in(ws: Path) -> int:
    quality = json.loads((ws / "reports/data_quality.json").read_text(encoding="utf-8"))
    return int(quality["rows_read"])


def median_seconds(ws: Path, repeats: int, *command: str) -> float:
    return statistics.median(timed(ws, *command)[0] for _ in range(repeats))


def dvc_floor(root: Path, repeats: int) -> float:
    """DVC's own no-op floor: a one-stage pipeline that is up to date."""
    ws = root / "floor"
    ws.mkdir()
    checked(ws, "git", "init", "-q")
    checked(ws, str(VENV_BIN / "dvc"), "init", "-q")
    (ws / "input.txt").write_text("x\n", encoding="utf-8")
    stage = {"stages": {"copy": {"cmd": "cp input.txt output.txt", "deps": ["input.txt"], "outs": ["output.txt"]}}}
    (ws / "dvc.yaml").write_text(yaml.safe_dump(stage), encoding="utf-8")
    timed(ws, "dvc", "repro")
    return median_seconds(ws, repeats, "dvc", "repro")


def large_history(root: Path, rows: int) -> tuple[Path, float]:
    """A workspace whose data/ is WEEKS simulated weeks totalling about `rows` rows."""
    ws = workspace(root, f"rows-{rows}")
    params_path = ws / "params.yaml"
    params = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    params["source"]["rows_per_week"] = max(1, rows // WEEKS)
    params_path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    seconds, _ = timed(ws, "mlops-template", "data", "generate", "--weeks", str(WEEKS))
    return ws, seconds


def report(name: str, stages: dict[str, dict[str, float]], rows: int) -> None:
    print(f"\n{name}: {rows:,} rows")
    print(f"  {'stage':<10}{'seconds':>9}{'peak MiB':>10}")
    for stage, found in stages.items():
        print(f"  {stage:<10}{found['seconds']:>9.2f}{found['peak_mib']:>10.0f}")
    print(f"  rows/second end to end: {rows / stages['total']['seconds']:,.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="*", default=[250_000, 1_000_000], help="histories to run (rows)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats for the no-op timings (median)")
    args = parser.parse_args(argv)
    results: dict[str, object] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as scratch:
        root = Path(scratch)
        base = workspace(root, "default")
        timed(base, "dvc", "pull", "data.dvc")
        baseline = run_stages(base)
        base_rows = rows_in(base)
        report("baseline (default data)", baseline, base_rows)
        results["baseline"] = {"rows": base_rows, "stages": baseline}

        floor = dvc_floor(root, args.repeats)
        noop = median_seconds(base, args.repeats, "dvc", "repro")
        print(
            f"\nno-op dvc repro: {noop:.2f} s; DVC floor (one-stage pipeline): {floor:.2f} s; "
            f"added {noop - floor:+.2f} s (target <= 0.50 s)"
        )
        results["noop"] = {
            "seconds": round(noop, 3),
            "dvc_floor_seconds": round(floor, 3),
            "added": round(noop - floor, 3),
        }

        base_cost = baseline["total"]["seconds"] / base_rows
        previous = (base_rows, baseline["total"]["seconds"])
        for rows in sorted(args.rows):
            ws, generate_seconds = large_history(root, rows)
            stages = run_stages(ws)
            found_rows = rows_in(ws)
            report(f"large history (generated in {generate_seconds:.1f} s)", stages, found_rows)
            per_row = stages["total"]["seconds"] / found_rows
            marginal = (stages["total"]["seconds"] - previous[1]) / (found_rows - previous[0])
            print(f"  per-row cost vs baseline: {per_row / base_cost:.3f}x (fixed costs amortised)")
            print(f"  marginal cost: {marginal * 1e6:.1f} s per million extra rows since {previous[0]:,} rows")
            previous = (found_rows, stages["total"]["seconds"])
            print(f"  peak memory: {stages['total']['peak_mib'] / 1024:.2f} GiB (target < 4 GiB)")
            for stage in STAGES:
                ratio = (stages[stage]["seconds"] / found_rows) / (baseline[stage]["seconds"] / base_rows)
                print(f"    {stage:<10} per-row cost vs baseline {ratio:.3f}x")
            results[f"rows_{rows}"] = {
                "rows": found_rows,
                "stages": stages,
                "per_row_cost_ratio": round(per_row / base_cost, 4),
                "marginal_seconds_per_million_rows": round(marginal * 1e6, 2),
            }
            shutil.rmtree(ws)
    out = REPO / "benchmarks" / "results" / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults: {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
