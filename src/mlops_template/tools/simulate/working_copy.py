"""The project copied into `--workdir` with the simulated calendar, and the project's commands run there."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from mlops_template.core import io
from mlops_template.core.config import Params, find_project_root, parse_params
from mlops_template.core.weeks import shift_week
from mlops_template.tools.simulate.options import Options, SimulationError
from mlops_template.tools.workspace import copy_project, git_identity, project_env

logger = logging.getLogger(__name__)

# The loop makes its own data, reports and models: the project's would only be overwritten.
LEFT_OUT = ("data/", "reports/", "models/")


def run_step(args: Sequence[str], cwd: Path, what: str, ok: Sequence[int] = (0,)) -> subprocess.CompletedProcess[str]:
    """A command of the working copy; an exit status outside `ok` is a SimulationError with its last lines."""
    # The caller's log level passes through; only a tracking or registry server of the caller's is kept out.
    env = project_env(
        drop=("MLFLOW_TRACKING", "MLFLOW_REGISTRY"), log_level=os.environ.get("MLOPS_TEMPLATE_LOG_LEVEL", "WARNING")
    )
    started = time.monotonic()
    done = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    logger.info("%s: exit %d in %.1f s", what, done.returncode, time.monotonic() - started)
    if done.returncode not in ok:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-4:])
        msg = f"{what}: exit {done.returncode}: {tail}"
        raise SimulationError(msg)
    return done


def cli(*args: str) -> list[str]:
    """`mlops-template ARGS` with this interpreter (the working copy has no install of its own)."""
    return [sys.executable, "-m", "mlops_template.cli", *args]


def copy_into_workdir(options: Options) -> Params:
    """The project (run from inside it) copied into the empty `--workdir`, with the simulation's params."""
    work = options.workdir
    if work.exists() and any(work.iterdir()):
        msg = f"--workdir {work}: not empty (rule: a new or empty directory; the loop writes a project there)"
        raise SimulationError(msg)
    work.mkdir(parents=True, exist_ok=True)
    root = find_project_root()
    if not (root / ".dvc").is_dir():
        msg = f"{Path.cwd()}: not inside a DVC project (rule: run simulate from the project, it copies it)"
        raise SimulationError(msg)
    copy_project(root, work, identity=git_identity("simulate"), message="simulation start", leave_out=LEFT_OUT)
    raw: dict[str, Any] = yaml.safe_load(options.base_params.read_text(encoding="utf-8"))
    simulated = simulation_params(raw, options)
    params = parse_params(simulated)
    io.write_text(work / "params.yaml", yaml.safe_dump(simulated, sort_keys=False))
    return params


def simulation_params(raw: dict[str, Any], options: Options) -> dict[str, Any]:
    """The base params with the simulated calendar, the scenario and no MLflow logging."""
    first_week = shift_week(options.last_week, -(options.weeks + options.history - 1))
    drift_start = shift_week(first_week, options.history + options.drift_week - 1)
    raw = json.loads(json.dumps(raw))  # a deep copy of plain YAML data
    source = raw["source"]
    if source.get("kind") != "simulated":
        msg = f"source.kind={source.get('kind')!r}: simulate needs the simulated source (rule: kind: simulated)"
        raise SimulationError(msg)
    source["first_week"] = first_week
    source["drift"] = {"scenario": options.scenario, "start_week": drift_start, "strength": options.strength}
    raw["tracking"]["enabled"] = False
    volume = raw.get("monitor", {}).get("volume")
    if isinstance(volume, dict):
        # The replay sends a week's traffic in seconds of wall-clock time, and the log stamps that time:
        # rows per week of the window would be meaningless. The flagged share is still judged.
        volume["rows_per_week_max_ratio"] = None
    if options.seed is not None:
        raw["base"]["seed"] = options.seed
    return raw
