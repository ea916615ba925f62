"""`mlops-template simulate`: the closed loop, week by week, with the real pieces on this machine.

In a working copy of the project (`--workdir`), with a simulated calendar that ends before today
(the batches' event times must lie in the past, or next-batch and ingest refuse them):

0. `data generate` writes the history, `dvc repro` trains the first model, `gate --champion none`
   passes it: the first champion (a served directory the simulator keeps, with its reference profile).
Then each simulated week W:
1. the champion serves W's traffic: the real API (`mlops-template serve`, uvicorn on 127.0.0.1, an API
   key) answers bounded batches of POST /v1/predict, every answer in its prediction log;
2. the labels of W-1 arrive, a week late: one POST /v1/feedback per prediction;
3. the labelled batch of W lands: `mlops-template data next-batch` (optionally with its labels
   corrupted, `--corrupt-labels W`: an upstream export that inverted them);
4. `mlops-template monitor` judges the window since the later of W-1's traffic and the champion's
   promotion (W-1 holds the labels, W the newest inputs) against the champion's reference profile;
5. on a breach (or every week with `--retrain weekly`): `dvc repro` on the data to date, `gate` of the
   candidate against the champion on the newest week, and on a pass the candidate becomes the
   champion (the API restarts with it).
Everything is recorded in `timeline.json` (live AP and recall from the ground truth, the monitor's
statistics, alarms, gate decisions, promotions) and drawn in `loop.svg`.

The registry of this loop is a directory (`champion/`), not MLflow: `tracking.enabled` is off in the
working copy, so nothing is logged anywhere else.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import yaml

from mlops_template.core import io
from mlops_template.core.command import positive_int
from mlops_template.core.config import Params, find_project_root, parse_params
from mlops_template.core.errors import MlopsTemplateError
from mlops_template.core.weeks import parse_week, shift_week, week_label
from mlops_template.data import schema
from mlops_template.data.sources.simulated import generate_week

logger = logging.getLogger(__name__)

SCENARIOS = ("none", "covariate_shift", "new_fraud_pattern", "prior_shift")
EXIT_BREACH, EXIT_INSUFFICIENT = 4, 5  # `mlops-template monitor`'s statuses besides 0 and 2
PREDICT_BATCH = 500  # records a POST /v1/predict carries (the API's default limit is 1000)
FEEDBACK_CONCURRENCY = 16
SERVER_START_S = 60.0
REQUEST_TIMEOUT_S = 30.0
PROFILE = "reports/reference_profile.json"
SERVED = "models/served"


class SimulationError(MlopsTemplateError):
    """A step of the loop failed (a command's exit status, a server that did not start, bad options)."""


@dataclass(frozen=True)
class Options:
    weeks: int
    scenario: str
    drift_week: int  # the simulated week (1-based) the drift starts at
    history: int  # weeks of data before the first simulated week
    strength: float
    seed: int | None
    retrain: str  # on-breach | weekly
    retrain_weeks: tuple[int, ...]  # simulated weeks (1-based) that retrain whatever the monitor says
    corrupt_labels: tuple[int, ...]  # simulated weeks (1-based) whose batch arrives with inverted labels
    base_params: Path
    workdir: Path
    last_week: str  # the last simulated week (ended before today)


@dataclass
class Served:
    """What the simulator knows of one week's traffic: request ids, scores, ground truth."""

    week: str
    started: str  # ISO time (UTC) of the first request
    request_ids: list[str] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    predicted: list[int] = field(default_factory=list)
    truth: list[int] = field(default_factory=list)


# --- the working copy ------------------------------------------------------------------------------------


def _run(args: Sequence[str], cwd: Path, what: str, ok: Sequence[int] = (0,)) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING", "MLFLOW_REGISTRY"))}
    env.setdefault("MLOPS_TEMPLATE_LOG_LEVEL", "WARNING")
    # dvc.yaml's `python -m ...` must be this environment's Python, as `source .venv/bin/activate` gives.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    started = time.monotonic()
    done = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    logger.info("%s: exit %d in %.1f s", what, done.returncode, time.monotonic() - started)
    if done.returncode not in ok:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-4:])
        msg = f"{what}: exit {done.returncode}: {tail}"
        raise SimulationError(msg)
    return done


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlops_template.cli", *args]


def copy_project(root: Path, target: Path) -> None:
    """The project's working tree (tracked and untracked-not-ignored files) as a fresh git repository."""
    listed = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], root, "git ls-files")
    for name in filter(None, listed.stdout.split("\0")):
        source = root / name
        if source.is_file() and not name.startswith(("data/", "reports/", "models/")):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    identity = ["-c", "user.name=mlops-template simulate", "-c", "user.email=simulate@example.invalid"]
    for command in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-qm", "simulation start"]):
        _run(["git", *command], target, f"git {command[-1]}")


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


# --- the API -------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Api:
    process: subprocess.Popen[bytes]
    url: str
    key: str

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def serve(model_dir: Path, log_path: Path, server_log: Path) -> Api:
    """`mlops-template serve` on 127.0.0.1 and a free port; returns once /health answers."""
    key = secrets.token_hex(16)
    port = _free_port()
    env = {**os.environ, "MLOPS_API_KEYS": key, "MLOPS_PREDICTION_LOG": str(log_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = _cli("serve", "--model-dir", str(model_dir), "--host", "127.0.0.1", "--port", str(port))
    with server_log.open("ab") as stderr:
        process = subprocess.Popen(command, env=env, stdout=stderr, stderr=stderr, start_new_session=True)  # noqa: S603
    api = Api(process, f"http://127.0.0.1:{port}", key)
    deadline = time.monotonic() + SERVER_START_S
    while not _healthy(api):
        problem = None
        if process.poll() is not None:
            problem = f"serve exited {process.returncode} before answering /health (see {server_log})"
        elif time.monotonic() > deadline:
            problem = f"serve: no answer on {api.url}/health within {SERVER_START_S:.0f} s (see {server_log})"
        if problem is not None:
            api.stop()
            raise SimulationError(problem)
        time.sleep(0.1)
    return api


def _healthy(api: Api) -> bool:
    try:
        return httpx.get(f"{api.url}/health", timeout=1).status_code == httpx.codes.OK
    except httpx.TransportError:
        return False


def _records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    inputs = rows.drop(columns=[schema.LABEL]).copy()
    inputs[schema.TIMESTAMP] = inputs[schema.TIMESTAMP].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    cleaned = inputs.astype(object).where(inputs.notna(), None)
    return [
        {str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in record.items()}
        for record in cleaned.to_dict(orient="records")
    ]


def replay(api: Api, week: str, rows: pd.DataFrame) -> Served:
    """The week's transactions through POST /v1/predict, in batches of PREDICT_BATCH, in time order."""
    served = Served(week=week, started=dt.datetime.now(dt.UTC).isoformat())
    records = _records(rows)
    with httpx.Client(base_url=api.url, headers={"X-API-Key": api.key}, timeout=REQUEST_TIMEOUT_S) as client:
        for first in range(0, len(records), PREDICT_BATCH):
            answer = client.post("/v1/predict", json={"records": records[first : first + PREDICT_BATCH]})
            if answer.status_code != httpx.codes.OK:
                msg = f"POST /v1/predict ({week}): {answer.status_code} {answer.text[:300]}"
                raise SimulationError(msg)
            for result in answer.json()["results"]:
                served.request_ids.append(result["request_id"])
                served.probabilities.append(float(result["probability"]))
                served.predicted.append(int(result["label_value"]))
    served.truth = rows[schema.LABEL].astype(int).tolist()
    return served


def send_feedback(api: Api, served: Served) -> int:
    """The true labels of an earlier week, one POST /v1/feedback each (a bounded pool of connections)."""
    import asyncio  # noqa: PLC0415

    async def send_all() -> int:
        limits = httpx.Limits(max_connections=FEEDBACK_CONCURRENCY)
        gate = asyncio.Semaphore(FEEDBACK_CONCURRENCY)
        headers = {"X-API-Key": api.key}
        async with httpx.AsyncClient(base_url=api.url, headers=headers, limits=limits, timeout=30) as client:

            async def one(request_id: str, label: int) -> None:
                async with gate:
                    answer = await client.post("/v1/feedback", json={"request_id": request_id, "label": label})
                if answer.status_code != httpx.codes.OK:
                    msg = f"POST /v1/feedback ({served.week}): {answer.status_code} {answer.text[:300]}"
                    raise SimulationError(msg)

            await asyncio.gather(*(one(r, y) for r, y in zip(served.request_ids, served.truth, strict=True)))
        return len(served.request_ids)

    return asyncio.run(send_all())


# --- the loop ------------------------------------------------------------------------------------------------


def live_metrics(served: Served) -> dict[str, float | int | None]:
    """Average precision and recall of the served answers against the ground truth."""
    from sklearn.metrics import average_precision_score  # noqa: PLC0415

    truth = np.asarray(served.truth)
    positives = int(truth.sum())
    if positives == 0 or positives == len(truth):
        return {"rows": len(truth), "positives": positives, "average_precision": None, "recall": None}
    flagged = np.asarray(served.predicted)
    return {
        "rows": len(truth),
        "positives": positives,
        "average_precision": round(float(average_precision_score(truth, served.probabilities)), 6),
        "recall": round(float(flagged[truth == 1].mean()), 6),
    }


class Loop:
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
        if self.work.exists() and any(self.work.iterdir()):
            msg = f"--workdir {self.work}: not empty (rule: a new or empty directory; the loop writes a project there)"
            raise SimulationError(msg)
        self.work.mkdir(parents=True, exist_ok=True)
        root = find_project_root()
        if not (root / ".dvc").is_dir():
            msg = f"{Path.cwd()}: not inside a DVC project (rule: run simulate from the project, it copies it)"
            raise SimulationError(msg)
        copy_project(root, self.work)
        raw: dict[str, Any] = yaml.safe_load(self.options.base_params.read_text(encoding="utf-8"))
        simulated = simulation_params(raw, self.options)
        self.params = parse_params(simulated)
        io.write_text(self.work / "params.yaml", yaml.safe_dump(simulated, sort_keys=False))
        self.out.mkdir()
        _run(_cli("data", "generate", "--weeks", str(self.options.history)), self.work, "data generate")

    def repro_and_gate(self, week: str, *, first: bool) -> dict[str, Any]:
        _run([sys.executable, "-m", "dvc", "repro", "--quiet"], self.work, f"dvc repro ({week})")
        evidence_path = self.out / week / "gate.json"
        champion = "none" if first else str(self.champion / "served")
        gate = _run(
            _cli("gate", "--champion", champion, "--out", str(evidence_path)), self.work, f"gate ({week})", ok=(0, 1)
        )
        evidence: dict[str, Any] = io.read_json(evidence_path)
        promoted = gate.returncode == 0
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
        done = _run(_cli("data", "next-batch"), self.work, f"data next-batch ({week})")
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
        done = _run(_cli(*args), self.work, f"monitor ({week})", ok=(0, EXIT_BREACH, EXIT_INSUFFICIENT))
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


# --- the plot ------------------------------------------------------------------------------------------------

KINDS = ("performance", "calibration", "volume", "input_drift", "data_quality")


def _drift_scores(weeks: list[dict[str, Any]], detector: str | None) -> list[float]:
    """One detector's statistic per week, or (None) the largest input-drift statistic but the score's."""
    found = []
    for week in weeks:
        detectors = week["monitor"]["detectors"]
        if detector is not None:
            values = [detectors.get(detector, {}).get("statistic")]
        else:
            values = [d["statistic"] for n, d in detectors.items() if d["kind"] == "input_drift" and n != "score_psi"]
        numbers = [float(v) for v in values if v is not None]
        found.append(max(numbers) if numbers else np.nan)
    return found


def plot(document: dict[str, Any], target: Path) -> None:
    """The loop's figure (`loop_figure`) as an SVG (or PNG by suffix), written without network."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure = loop_figure(document)
    target.parent.mkdir(parents=True, exist_ok=True)
    with io.atomic_path(target) as temporary:
        kind = target.suffix.lstrip(".") or "svg"  # svg (stable text, what the docs commit) or png
        figure.savefig(temporary, format=kind, metadata={"Date": None} if kind == "svg" else None)
    plt.close(figure)


def loop_figure(document: dict[str, Any]) -> Any:
    """Live AP and recall over the weeks with the drift, alarms, gate decisions and promotions marked;
    below, which kind of detector breached each week (a matplotlib Figure)."""
    import matplotlib as mpl  # noqa: PLC0415

    mpl.use("Agg")
    mpl.rcParams["svg.hashsalt"] = "mlops-template-loop"  # stable ids: the committed plot diffs cleanly
    import matplotlib.pyplot as plt  # noqa: PLC0415

    weeks = document["weeks"]
    x = np.arange(len(weeks))
    labels = [w["week"] for w in weeks]
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 1.4]}, layout="constrained"
    )
    drifted = [i for i, w in enumerate(weeks) if w["drift_active"]]
    if drifted:
        top.axvspan(drifted[0] - 0.5, len(weeks) - 0.5, color="#f4e3c1", label=f"drift: {document['scenario']}")

    def series(name: str) -> list[float]:
        return [np.nan if w["live"][name] is None else w["live"][name] for w in weeks]

    top.plot(x, series("average_precision"), marker="o", color="#1f4e79", label="live average precision")
    top.plot(x, series("recall"), marker=".", ls="--", color="#5b9bd5", label="live recall")
    for i, week in enumerate(weeks):
        if week["alarm"]:
            top.axvline(i, color="#c00000", lw=1, ls=":")
        if week["gate"] is not None:
            promoted = week["promoted"]
            top.scatter(
                [i], [1.02], marker="*" if promoted else "x", s=120 if promoted else 60,
                color="#2e7d32" if promoted else "#c00000", clip_on=False, zorder=3,
            )  # fmt: skip
    psi = top.twinx()
    psi.plot(x, _drift_scores(weeks, "score_psi"), color="#7f7f7f", lw=1, label="score PSI (right)")
    psi.plot(x, _drift_scores(weeks, None), color="#bf9000", lw=1, ls="-.", label="largest input PSI (right)")
    psi.set_ylabel("PSI against the reference profile")
    psi.set_ylim(0, max(0.25, *(v for v in _drift_scores(weeks, None) if np.isfinite(v))))
    psi.legend(loc="upper left", fontsize=8)
    top.plot([], [], color="#c00000", lw=1, ls=":", label="monitor alarm")
    top.scatter([], [], marker="*", color="#2e7d32", label="retrained, gate passed: promoted")
    top.scatter([], [], marker="x", color="#c00000", label="retrained, gate failed: champion kept")
    top.set_ylim(0, 1.05)
    top.set_ylabel("on the week's traffic")
    top.set_title(f"The closed loop: scenario {document['scenario']}, retrain {document['retrain']}")
    top.legend(loc="lower left", fontsize=8, ncols=2)
    top.grid(alpha=0.3)

    matrix = np.full((len(KINDS), len(weeks)), np.nan)
    for j, week in enumerate(weeks):
        monitored = week["monitor"]
        breached = {b["kind"] for b in monitored["breaches"]}
        matrix[:, j] = [1.0 if kind in breached else 0.0 for kind in KINDS]
        if monitored["status"] == "insufficient" and not breached:
            matrix[0, j] = np.nan  # too few labels to judge performance that week
    colours = mpl.colors.ListedColormap(["#d9ead3", "#e06666"])
    bottom.imshow(matrix, aspect="auto", cmap=colours, vmin=0, vmax=1, interpolation="nearest")
    bottom.set_yticks(range(len(KINDS)), [k.replace("_", " ") for k in KINDS], fontsize=8)
    bottom.set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
    bottom.set_title("monitor breaches by kind (red), none (green), too few labels (blank)", fontsize=9)
    return figure


# --- the command ------------------------------------------------------------------------------------------------


def last_ended_week(today: dt.date | None = None) -> str:
    """The ISO week before the current one: the newest whose batch has arrived."""
    return shift_week(week_label(today or dt.datetime.now(dt.UTC).date()), -1)


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops-template simulate",
        description="Run the closed loop week by week in a working copy: serve, replay traffic, delayed labels, "
        "monitor, retrain on a breach, gate, promote. Writes WORKDIR/simulation/timeline.json and loop.svg.",
    )
    parser.add_argument("--weeks", type=positive_int, required=True, help="simulated weeks after the history")
    parser.add_argument("--scenario", choices=SCENARIOS, default="none")
    parser.add_argument(
        "--start-week", type=positive_int, default=3, help="the simulated week (1 = the first) the drift starts at"
    )
    parser.add_argument("--strength", type=float, default=1.0, help="drift strength (source.drift.strength)")
    parser.add_argument("--history", type=positive_int, default=8, help="weeks of data before the first simulated one")
    parser.add_argument("--workdir", type=Path, default=Path("simulation-workdir"), help="a new or empty directory")
    parser.add_argument("--seed", type=int, default=None, help="base.seed of the working copy (default: params')")
    parser.add_argument("--retrain", choices=("on-breach", "weekly"), default="on-breach")
    parser.add_argument(
        "--corrupt-labels", type=positive_int, action="append", default=[], metavar="K",
        help="the batch of simulated week K arrives with its labels inverted (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--retrain-week", type=positive_int, action="append", default=[], metavar="K",
        help="also retrain at simulated week K, whatever the monitor says (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--last-week", default=None, help="the last simulated ISO week (default: the last week that has ended)"
    )
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="base params (default: %(default)s)")
    return parser


def options_from(args: argparse.Namespace) -> Options:
    last = args.last_week or last_ended_week()
    try:
        ended = parse_week(last) < parse_week(week_label(dt.datetime.now(dt.UTC).date()))
    except ValueError as exc:
        raise SimulationError(f"--last-week: {exc}") from None
    if not ended:
        msg = f"--last-week {last}: has not ended yet (rule: a past week; batches arrive once their week is over)"
        raise SimulationError(msg)
    if args.scenario != "none" and args.start_week > args.weeks:
        msg = f"--start-week {args.start_week}: after the last simulated week (rule: 1..--weeks={args.weeks})"
        raise SimulationError(msg)
    for flag, chosen in (("--corrupt-labels", args.corrupt_labels), ("--retrain-week", args.retrain_week)):
        outside = [k for k in chosen if k > args.weeks]
        if outside:
            msg = f"{flag} {outside[0]}: after the last simulated week (rule: 1..--weeks={args.weeks})"
            raise SimulationError(msg)
    if not args.params.is_file():
        msg = f"--params {args.params}: not found"
        raise SimulationError(msg)
    return Options(
        weeks=args.weeks,
        scenario=args.scenario,
        drift_week=args.start_week,
        history=args.history,
        strength=args.strength,
        seed=args.seed,
        retrain=args.retrain,
        retrain_weeks=tuple(sorted(set(args.retrain_week))),
        corrupt_labels=tuple(sorted(set(args.corrupt_labels))),
        base_params=args.params.resolve(),
        workdir=args.workdir.resolve(),
        last_week=last,
    )


def main(argv: list[str] | None = None) -> int:
    from mlops_template.core.command import configure_logging, run_guarded  # noqa: PLC0415

    args = _arguments().parse_args(argv)
    configure_logging()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    timeline: list[dict[str, Any]] = []

    def simulate() -> None:
        timeline.extend(Loop(options_from(args)).run())

    code = run_guarded(simulate, "simulate")
    if code == 0:
        out = args.workdir / "simulation"
        alarms = [w["week"] for w in timeline if w["alarm"]]
        promotions = [w["week"] for w in timeline if w["promoted"]]
        sys.stdout.write(
            f"simulate: {len(timeline)} weeks; alarms {alarms or 'none'}; promotions {promotions or 'none'}; "
            f"{out / 'timeline.json'}, {out / 'loop.svg'}\n"
        )
    return code
