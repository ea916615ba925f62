"""The served model as the loop talks to it: `mlops-template serve` on 127.0.0.1 (an API key, a prediction
log), a week's traffic replayed through POST /v1/predict, the labels sent back through POST /v1/feedback,
and the live metrics of what was served against the ground truth."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from mlops_template.data import schema
from mlops_template.tools.simulate.options import SimulationError
from mlops_template.tools.simulate.working_copy import cli
from mlops_template.tools.workspace import free_port, stop_process_group

PREDICT_BATCH = 500  # records a POST /v1/predict carries (the API's default limit is 1000)
FEEDBACK_CONCURRENCY = 16
SERVER_START_S = 60.0
REQUEST_TIMEOUT_S = 30.0


@dataclass
class Served:
    """What the simulator knows of one week's traffic: request ids, scores, ground truth."""

    week: str
    started: str  # ISO time (UTC) of the first request
    request_ids: list[str] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    predicted: list[int] = field(default_factory=list)
    truth: list[int] = field(default_factory=list)


@dataclass
class Api:
    process: subprocess.Popen[bytes]
    url: str
    key: str

    def stop(self) -> None:
        stop_process_group(self.process)


def serve(model_dir: Path, log_path: Path, server_log: Path) -> Api:
    """`mlops-template serve` on 127.0.0.1 and a free port; returns once /health answers."""
    key = secrets.token_hex(16)
    port = free_port()
    # The scopes of the two routes the simulation calls (replay: /v1/predict; send_feedback: /v1/feedback), no more.
    env = {**os.environ, "MLOPS_API_KEYS": f"{key}:predict+feedback", "MLOPS_PREDICTION_LOG": str(log_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = cli("serve", "--model-dir", str(model_dir), "--host", "127.0.0.1", "--port", str(port))
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


def request_records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Contract rows as the API's request records (JSON values: ISO times, None for a missing value)."""
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
    records = request_records(rows)
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
