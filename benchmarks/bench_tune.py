"""Benchmark `mlops-template tune` on the default data: 50 trials with --jobs 2.

    make bench-tune                                  # after `make run` (uses artifacts/ingest)
    python benchmarks/bench_tune.py --trials 50 --jobs 2

The study runs as a user runs it (`mlops-template tune` in a subprocess) in a temporary project made
of this checkout's params.yaml and artifacts/ingest, with a fresh study storage and MLflow store.
Reported: the trials completed and pruned, the fold fits pruning saved, the minutes, and the best
walk-forward average precision against today's params (trial 0) of the same study, on the same folds.
Target (the issue): 50 trials in under 10 minutes on a 2-core machine. Without artifacts/ingest, the
data is ingested in a temporary copy of the project first (`dvc pull data.dvc`, `dvc repro ingest`).
Results also go to benchmarks/results/tune-<time>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.workspace import REPO, VENV_BIN, copy_project, project_env

TARGET_MINUTES = 10.0


def ingested(scratch: Path) -> Path:
    """artifacts/ingest of this checkout, or of the default data ingested in a temporary copy."""
    ingest = REPO / "artifacts/ingest"
    if (ingest / "weeks.json").is_file() and (ingest / "valid.parquet").is_file():
        return ingest
    print("no artifacts/ingest here: ingesting the default data in a temporary copy (dvc pull, dvc repro ingest)")
    copy = copy_project(scratch / "copy")
    for command in (["dvc", "pull", "-q", "data.dvc"], ["dvc", "repro", "-q", "ingest"]):
        subprocess.run([str(VENV_BIN / command[0]), *command[1:]], cwd=copy, check=True, env=project_env())
    return copy / "artifacts/ingest"


def study_project(scratch: Path, params: Path, ingest: Path) -> Path:
    """A project holding only what `tune` reads: params.yaml and ingest's outputs (and `.dvc/`, its root mark)."""
    root = scratch / "project"
    (root / ".dvc").mkdir(parents=True)
    shutil.copy2(params, root / "params.yaml")
    shutil.copytree(ingest, root / "artifacts/ingest", ignore=shutil.ignore_patterns("test.parquet", "quarantine"))
    return root


def result(summary: dict[str, Any], seconds: float, trials: int, jobs: int) -> dict[str, Any]:
    """The benchmark's row from the study's summary.json and the wall time."""
    counts = summary["trials"]
    best, baseline = summary["best"] or {}, summary["baseline"] or {}
    minutes = seconds / 60
    return {
        "trials": trials,
        "jobs": jobs,
        "finished": counts["finished"],
        "complete": counts["complete"],
        "pruned": counts["pruned"],
        "failed": counts["failed"],
        "fold_fits": summary["fold_fits"]["run"],
        "fold_fits_saved_by_pruning": summary["fold_fits"]["saved_by_pruning"],
        "minutes": round(minutes, 2),
        "best_trial": best.get("trial"),
        "best_walk_forward_average_precision": best.get("walk_forward_average_precision"),
        "todays_walk_forward_average_precision": baseline.get("walk_forward_average_precision"),
        "gain": summary["gain"],
        "proposed": summary["proposal"]["changes"],
        "met": counts["finished"] == trials and minutes < TARGET_MINUTES,
    }


def report(row: dict[str, Any]) -> str:
    def ap(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    gain = "-" if row["gain"] is None else f"{row['gain']:+.4f}"
    counts = f"{row['complete']} complete, {row['pruned']} pruned, {row['failed']} failed"
    return "\n".join(
        [
            f"trials      {row['finished']} of {row['trials']} finished with --jobs {row['jobs']}: {counts}",
            f"fold fits   {row['fold_fits']} run, {row['fold_fits_saved_by_pruning']} saved by pruning",
            f"time        {row['minutes']:.1f} minutes (target: under {TARGET_MINUTES:.0f})",
            f"best        {ap(row['best_walk_forward_average_precision'])} walk-forward AP (trial {row['best_trial']})",
            f"today's     {ap(row['todays_walk_forward_average_precision'])} walk-forward AP (trial 0, same folds)",
            f"gain        {gain}; proposed: {row['proposed'] or 'no change'}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mlops-bench-tune-") as scratch:
        root = study_project(Path(scratch), args.params, ingested(Path(scratch)))
        command = [str(VENV_BIN / "mlops-template"), "tune", "--trials", str(args.trials), "--jobs", str(args.jobs)]
        print(f"$ {' '.join(command[1:])}  (in {root})", flush=True)
        began = time.perf_counter()
        done = subprocess.run(command, cwd=root, env=project_env(log_level="INFO"), check=False)
        seconds = time.perf_counter() - began
        if done.returncode != 0:
            print(f"tune exited with {done.returncode}")
            return 1
        summary = json.loads((root / "reports/tuning/summary.json").read_text(encoding="utf-8"))
        markdown = (root / "reports/tuning/summary.md").read_text(encoding="utf-8")
    row = result(summary, seconds, args.trials, args.jobs)
    print(f"\n{report(row)}\n\ntarget: {'met' if row['met'] else 'NOT met'}")
    out = REPO / "benchmarks/results" / f"tune-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**row, "summary": summary, "summary_md": markdown}, indent=2) + "\n", encoding="utf-8")
    return 0 if row["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
