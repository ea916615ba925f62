"""Benchmark `mlops-template compare` (three models) and `compare --ablate` (ten inputs) on the default data.

    make bench-compare                                   # after `make run` (uses models/served)
    python benchmarks/bench_compare.py --jobs 2 --candidate train.model.learning_rate=0.1

In a temporary copy of the project (`dvc pull data.dvc` from the seed remote), a candidate is made as a
user makes one: `dvc exp run -n candidate -S <change> export` (not timed). Then, timed, as a user runs
them (the CLI in a subprocess):
- `compare <this checkout's models/served> candidate baseline`: the champion as a directory, the
  candidate as a DVC experiment (its artifact from the DVC cache), the prior. Its baseline in the same
  run: `gate` on two of them (the project's other paired comparison on the same rows).
- `compare --ablate --jobs N`: one retrain per input left out. Its baseline in the same run: one
  retrain of the model with every input, in process, one thread (what each ablation retrain costs).
Targets (the issue): three models in under 30 s, ten inputs in under 5 minutes, on a 2-core machine.
The scoreboards (Markdown) and the figures go to benchmarks/results/compare-<time>/ (git-ignored).
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

COMPARE_TARGET_SECONDS = 30.0
ABLATION_TARGET_SECONDS = 300.0
CANDIDATE = "candidate"


def _run(cwd: Path, *command: str, env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run a command of the venv; its wall time and result (failing loudly)."""
    began = time.perf_counter()
    done = subprocess.run(
        [str(VENV_BIN / command[0]), *command[1:]],
        cwd=cwd,
        env=env or project_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - began
    if done.returncode not in {0, 1}:  # the gate's fail (1) is a verdict, not an error
        sys.stderr.write(done.stdout + done.stderr)
        msg = f"{' '.join(command)} exited {done.returncode}"
        raise SystemExit(msg)
    return seconds, done


def candidate_project(scratch: Path, change: str) -> Path:
    """A copy of the project with the default data and a DVC experiment `candidate` (models/served in its cache)."""
    copy = copy_project(scratch / "copy")
    for key, value in (("user.name", "bench-compare"), ("user.email", "bench@example.invalid")):
        subprocess.run(["git", "config", key, value], cwd=copy, check=True)
    print(
        f"making the candidate in {copy}: dvc pull data.dvc; dvc exp run -n {CANDIDATE} -S {change} export", flush=True
    )
    _run(copy, "dvc", "pull", "-q", "data.dvc")
    _run(copy, "dvc", "exp", "run", "-q", "-n", CANDIDATE, "-S", change, "export", env=project_env(OMP_NUM_THREADS="1"))
    return copy


def one_retrain_seconds(ingest: Path, params: Path) -> float:
    """One retrain of the model with every input, as each ablation retrain runs (in process, one thread)."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # noqa: PLC0415

    from mlops_template.core.config import load_params  # noqa: PLC0415
    from mlops_template.data import schema  # noqa: PLC0415
    from mlops_template.data.splits import SPLITS, read_split  # noqa: PLC0415
    from mlops_template.experiments.compare.ablation import fit  # noqa: PLC0415

    splits = {name: read_split(ingest / f"{name}.parquet") for name in SPLITS}
    with threadpool_limits(limits=1):
        began = time.perf_counter()
        fit(load_params(params), schema.active(), splits)
        return time.perf_counter() - began


def result(
    *,
    compare_seconds: float,
    gate_seconds: float,
    ablation_seconds: float,
    retrain_seconds: float,
    inputs: int,
    jobs: int,
) -> dict[str, Any]:
    """The benchmark's row: the times, their ratios to the baselines measured in the same run, the targets."""
    return {
        "compare_seconds": round(compare_seconds, 1),
        "gate_seconds": round(gate_seconds, 1),
        "compare_over_gate": round(compare_seconds / gate_seconds, 2),
        "ablation_seconds": round(ablation_seconds, 1),
        "one_retrain_seconds": round(retrain_seconds, 1),
        "ablation_over_one_retrain": round(ablation_seconds / retrain_seconds, 1),
        "inputs": inputs,
        "jobs": jobs,
        "compare_met": compare_seconds < COMPARE_TARGET_SECONDS,
        "ablation_met": ablation_seconds < ABLATION_TARGET_SECONDS,
    }


def report(row: dict[str, Any]) -> str:
    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    return "\n".join(
        [
            (
                f"compare   3 models: {row['compare_seconds']:.1f} s (target < {COMPARE_TARGET_SECONDS:.0f} s: "
                f"{met(row['compare_met'])}); gate on 2 models: {row['gate_seconds']:.1f} s; "
                f"ratio {row['compare_over_gate']:.2f}x"
            ),
            (
                f"ablation  {row['inputs']} inputs, --jobs {row['jobs']}: {row['ablation_seconds']:.1f} s (target < "
                f"{ABLATION_TARGET_SECONDS:.0f} s: {met(row['ablation_met'])}); one retrain: "
                f"{row['one_retrain_seconds']:.1f} s; ratio {row['ablation_over_one_retrain']:.1f}x"
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--candidate", default="train.model.learning_rate=0.1", help="the candidate's params change")
    parser.add_argument("--champion", type=Path, default=REPO / "models/served")
    args = parser.parse_args(argv)
    if not (args.champion / "served.json").is_file():
        print(f"{args.champion}: no served model (run `make run` first)")
        return 1
    stamp = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
    out = REPO / "benchmarks/results" / f"compare-{stamp}"
    with tempfile.TemporaryDirectory(prefix="mlops-bench-compare-") as scratch:
        copy = candidate_project(Path(scratch), args.candidate)
        champion, shipped = str(args.champion), REPO / "params.yaml"
        rows = ["--rows", "artifacts/ingest/test.parquet"]
        gate_seconds, _ = _run(
            copy, "mlops-template", "gate", "--champion", champion, *rows, "--out", f"{scratch}/gate.json"
        )
        compare_seconds, compared = _run(
            copy, "mlops-template", "compare", champion, CANDIDATE, "baseline", "--out", f"{scratch}/compare"
        )
        print(compared.stdout, end="", flush=True)
        ablation_seconds, ablated = _run(
            copy,
            "mlops-template",
            "compare",
            "--ablate",
            "--jobs",
            str(args.jobs),
            "--params",
            str(shipped),  # the workspace holds the candidate's params (dvc exp run applied them)
            "--out",
            f"{scratch}/ablation",
        )
        print(ablated.stdout, end="", flush=True)
        retrain_seconds = one_retrain_seconds(copy / "artifacts/ingest", shipped)
        board = json.loads((Path(scratch) / "ablation/ablation.json").read_text(encoding="utf-8"))
        out.mkdir(parents=True, exist_ok=True)
        for name in ("compare", "ablation"):
            shutil.copytree(Path(scratch) / name, out / name)
    row = result(
        compare_seconds=compare_seconds,
        gate_seconds=gate_seconds,
        ablation_seconds=ablation_seconds,
        retrain_seconds=retrain_seconds,
        inputs=len(board["left_out"]),
        jobs=args.jobs,
    )
    print(f"\n{report(row)}\n\nscoreboards: {out}/compare/compare.md, {out}/ablation/ablation.md")
    (out / "bench.json").write_text(json.dumps({**row, "candidate": args.candidate}, indent=2) + "\n", encoding="utf-8")
    return 0 if row["compare_met"] and row["ablation_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
