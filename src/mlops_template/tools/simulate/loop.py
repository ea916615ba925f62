"""The closed loop, week by week, in the working copy (the steps are the package's docstring)."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import sys
import time
from typing import Any

import pandas as pd

from mlops_template.core import io
from mlops_template.core.command import EXIT_FAILED, EXIT_OK
from mlops_template.core.config import Params
from mlops_template.core.weeks import shift_week
from mlops_template.data import schema
from mlops_template.data.sources.simulated import generate_week
from mlops_template.monitoring.monitor import EXIT_BREACH, EXIT_INSUFFICIENT
from mlops_template.tools.simulate.api import Served, live_metrics, replay, send_feedback, serve
from mlops_template.tools.simulate.options import Options, SimulationError
from mlops_template.tools.simulate.plot import plot
from mlops_template.tools.simulate.working_copy import cli, copy_into_workdir, run_step

logger = logging.getLogger(__name__)

PROFILE = "reports/reference_profile.json"
SERVED = "models/served"


class Loop:
    """The weeks of one run, in `options.workdir`: the champion served, watched, retrained and replaced."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.work = options.workdir
        self.champion = self.work / "champion"
        self.out = self.work / "simulation"
        self.timeline: list[dict[str, Any]] = []
        self.params: Params | None = None
        self.promoted_at: str | None = None

    # -- pieces --

    def prepare(self) -> None:
        self.params = copy_into_workdir(self.options)
        self.out.mkdir()
        run_step(cli("data", "generate", "--weeks", str(self.options.history)), self.work, "data generate")

    def repro_and_gate(self, week: str, *, first: bool) -> dict[str, Any]:
        run_step([sys.executable, "-m", "dvc", "repro", "--quiet"], self.work, f"dvc repro ({week})")
        evidence_path = self.out / week / "gate.json"
        champion = "none" if first else str(self.champion / "served")
        gate = run_step(
            cli("gate", "--champion", champion, "--out", str(evidence_path)),
            self.work,
            f"gate ({week})",
            ok=(EXIT_OK, EXIT_FAILED),
        )
        evidence: dict[str, Any] = io.read_json(evidence_path)
        promoted = gate.returncode == EXIT_OK
        if promoted:
            self.promote()
        logger.info("gate %s: %s: %s", week, evidence["decision"], evidence["reason"])
        return {
            "decision": evidence["decision"],
            "reason": evidence["reason"],
            "candidate": evidence["candidate"]["version"],
            "promoted": promoted,
        }

    def promote(self) -> None:
        staging = self.work / "champion.new"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(self.work / SERVED, staging / "served")
        profile = self.work / PROFILE
        if not profile.is_file():
            msg = f"{PROFILE}: the pipeline wrote no reference profile (the monitor needs it)"
            raise SimulationError(msg)
        shutil.copy2(profile, staging / "reference_profile.json")
        shutil.rmtree(self.champion, ignore_errors=True)
        staging.rename(self.champion)
        self.promoted_at = dt.datetime.now(dt.UTC).isoformat()

    def champion_version(self) -> str:
        return str(io.read_json(self.champion / "served" / "served.json")["version"])

    def land_batch(self, week: str, number: int) -> None:
        done = run_step(cli("data", "next-batch"), self.work, f"data next-batch ({week})")
        landed = self.work / done.stdout.strip().splitlines()[-1]
        if landed.name != f"{week}.csv":
            msg = f"data next-batch: landed {landed.name}, the loop expected {week}.csv"
            raise SimulationError(msg)
        if number in self.options.corrupt_labels:
            batch = pd.read_csv(landed, dtype=str)
            batch[schema.LABEL] = batch[schema.LABEL].map({"0": "1", "1": "0"}).fillna(batch[schema.LABEL])
            io.write_text(landed, batch.to_csv(index=False))
            logger.info("%s: labels inverted (--corrupt-labels)", landed)

    def monitor(self, week: str, start: str) -> dict[str, Any]:
        out = self.out / week / "monitor"
        args = ["monitor", "--log", str(self.out / "predictions.sqlite3")]
        args += ["--profile", str(self.champion / "reference_profile.json"), "--params", "params.yaml"]
        args += ["--start", start, "--end", dt.datetime.now(dt.UTC).isoformat(), "--out", str(out)]
        done = run_step(cli(*args), self.work, f"monitor ({week})", ok=(EXIT_OK, EXIT_BREACH, EXIT_INSUFFICIENT))
        summary: dict[str, Any] = io.read_json(out / "summary.json")
        return {
            "exit_code": done.returncode,
            "status": summary["status"],
            "labelled": summary.get("window", {}).get("labelled"),
            "breaches": [
                {"kind": b["kind"], "detector": b["detector"], "reason": b["reason"]} for b in summary["breaches"]
            ],
            "detectors": {
                str(d["detector"]): {"kind": d.get("kind"), "statistic": d.get("statistic"), "breach": d.get("breach")}
                for d in summary.get("detectors", [])
            },
        }

    # -- the whole run --

    def run(self) -> list[dict[str, Any]]:
        self.prepare()
        assert self.params is not None  # noqa: S101 (set by prepare)
        first_week = shift_week(self.options.last_week, -(self.options.weeks - 1))
        initial = self.repro_and_gate(shift_week(first_week, -1), first=True)
        if not initial["promoted"]:
            msg = f"the first model failed the gate's floors: {initial['reason']}"
            raise SimulationError(msg)
        source, seed = self.params.source, self.params.base.seed
        log_path, server_log = self.out / "predictions.sqlite3", self.out / "server.log"
        previous: Served | None = None
        api = serve(self.champion / "served", log_path, server_log)
        try:
            for number in range(1, self.options.weeks + 1):
                week = shift_week(first_week, number - 1)
                started = time.monotonic()
                champion = self.champion_version()
                served = replay(api, week, generate_week(source, seed, week))  # type: ignore[arg-type]
                labels_sent = send_feedback(api, previous) if previous is not None else 0
                self.land_batch(week, number)
                # W-1's traffic holds the labels, W's the newest inputs; never an earlier champion's answers.
                window_start = max(previous.started if previous else served.started, self.promoted_at or "")
                watched = self.monitor(week, window_start)
                gate = None
                scheduled = self.options.retrain == "weekly" or number in self.options.retrain_weeks
                if watched["exit_code"] == EXIT_BREACH or scheduled:
                    gate = self.repro_and_gate(week, first=False)
                    if gate["promoted"]:
                        api.stop()
                        api = serve(self.champion / "served", log_path, server_log)
                self.timeline.append(
                    {
                        "week": week,
                        "number": number,
                        "drift_active": self.options.scenario != "none" and number >= self.options.drift_week,
                        "labels_corrupted": number in self.options.corrupt_labels,
                        "champion": champion,
                        "live": live_metrics(served),
                        "labels_sent": labels_sent,
                        "monitor": watched,
                        "alarm": watched["exit_code"] == EXIT_BREACH,
                        "retrained": gate is not None,
                        "gate": gate,
                        "promoted": bool(gate and gate["promoted"]),
                        "champion_after": self.champion_version(),
                        "seconds": round(time.monotonic() - started, 1),
                    }
                )
                self.save()
                logger.info("%s: monitor %s, gate %s", week, watched["status"], gate["decision"] if gate else "-")
                previous = served
        finally:
            api.stop()
        return self.timeline

    def save(self) -> None:
        document = {
            "scenario": self.options.scenario,
            "strength": self.options.strength,
            "drift_week": self.options.drift_week,
            "retrain": self.options.retrain,
            "retrain_weeks": list(self.options.retrain_weeks),
            "corrupt_labels": list(self.options.corrupt_labels),
            "weeks": self.timeline,
        }
        io.write_json(self.out / "timeline.json", document)
        plot(document, self.out / "loop.svg")
