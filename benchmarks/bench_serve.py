"""Benchmark the model API against `mlflow models serve` on the same registered model version.

    make bench-serve                        # after `make run`; needs wrk (make installs it as root)
    python benchmarks/bench_serve.py --seconds 5

Three servers on 127.0.0.1, each with one worker and the same uvicorn settings: an empty FastAPI
endpoint (the floor of this stack), our API (API key auth, Prometheus metrics and the durable
prediction log all on) and `mlflow models serve --env-manager local` on the registered version
whose logged served artifact is the one in models/served. `wrk` drives each with the same body for
a bounded time at concurrency 1 and 32.

This machine's speed drifts by tens of percent within minutes (a shared VM), so a ratio is only
fair between loads run side by side: the empty endpoint and our API stay up together and take
turns, `--rounds` times per concurrency, and each figure is the median over the rounds (mlflow,
hundreds of times off, runs one round on its own afterwards). Cold start (process start to first
correct prediction) is the median of `--starts` fresh starts. Reported: requests/s, p50, p99,
errors, the server's CPU time per request (user + system, all its processes: what a request costs
wherever the scheduler puts the client), cold start and resident memory after the load; then the
ratios, and the in-process vectorised path on 10,000 rows.
Targets (from the issue): >= 200x MLflow's throughput at concurrency 32; p50 at concurrency 1
within 2x of the empty endpoint; cold start < 0.5 s; < 120 MB resident per worker; 10,000 rows
in < 0.2 s. Results also go to benchmarks/results/serve-<time>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.workspace import REPO, VENV_BIN, free_port, project_env
from mlops_template.core.command import positive_int
from mlops_template.tools.workspace import stop_process_group

API_KEY = "bench-key-not-a-secret"
EMPTY_APP = """
from fastapi import FastAPI, Request

app = FastAPI()


@app.post("/v1/predict")
async def predict(request: Request) -> dict[str, list[int]]:
    await request.body()
    return {"predictions": [0]}
"""
UVICORN_FLAGS = ("--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning")
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{auth}
"""
SAMPLE_RECORD = {
    "transaction_id": "bench-0001",
    "timestamp": "2026-11-16T14:32:05Z",
    "customer_id": "c-00042",
    "amount": 129.95,
    "merchant_category": "electronics",
    "channel": "online",
    "is_cross_border": 1,
    "customer_age": 34,
    "account_age_days": 210,
    "distance_from_home_km": 812.5,
    "txn_count_24h": 6,
    "device_type": "mobile",
}


@dataclass
class Load:
    concurrency: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    cpu_us_per_request: float = float("nan")


@dataclass(frozen=True)
class Target:
    """One server to measure: how to start it and what to send it."""

    name: str
    command: list[str]
    env: dict[str, str]
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Server:
    name: str
    cold_starts_s: list[float]
    rss_mb: float
    rounds: dict[int, list[Load]]  # every round, by concurrency

    @property
    def cold_start_s(self) -> float:
        return statistics.median(self.cold_starts_s)

    @property
    def loads(self) -> list[Load]:
        """One per concurrency: the medians over the rounds."""
        return [median_load(self.rounds[c]) for c in sorted(self.rounds)]


def median_load(rounds: Sequence[Load]) -> Load:
    """Each figure's median over the rounds; requests and errors are summed (errors must stay 0)."""
    return Load(
        rounds[0].concurrency,
        statistics.median(x.requests_per_second for x in rounds),
        statistics.median(x.p50_ms for x in rounds),
        statistics.median(x.p99_ms for x in rounds),
        sum(x.requests for x in rounds),
        sum(x.errors for x in rounds),
        statistics.median(x.cpu_us_per_request for x in rounds),
    )


def post(target: Target, timeout: float = 5.0) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json", **target.headers}
    request = urllib.request.Request(target.url, data=target.body, headers=headers)  # noqa: S310 - http://127.0.0.1
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - 127.0.0.1 only
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


@contextmanager
def started(command: list[str], env: dict[str, str], cwd: Path) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    start = time.monotonic()
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        yield process, start
    finally:
        stop_process_group(process, grace_seconds=15)


def first_answer(process: subprocess.Popen[bytes], start: float, target: Target, limit: float) -> float:
    """Seconds from `process` start until it answers 200 with a prediction (polled every 5 ms)."""
    deadline = start + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            raise SystemExit(f"{target.name} exited with {process.returncode} before answering:\n{error[-3000:]}")
        status, _ = post(target, timeout=limit)
        if status == 200:
            return time.monotonic() - start
        time.sleep(0.005)
    raise SystemExit(f"{target.name} did not answer within {limit} s")


def _tree(process: subprocess.Popen[bytes]) -> list[psutil.Process]:
    root = psutil.Process(process.pid)
    return [root, *root.children(recursive=True)]


def resident_mb(process: subprocess.Popen[bytes]) -> float:
    """RSS of the server and its children (uvicorn or gunicorn workers), in MB."""
    return sum(p.memory_info().rss for p in _tree(process)) / 1e6


def cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    """User + system CPU time of the server and its children so far."""
    return sum(t.user + t.system for t in (p.cpu_times() for p in _tree(process)))


def _wrk_script(target: Target, work: Path) -> Path:
    auth = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in target.headers.items())
    script = work / "post.lua"
    script.write_text(WRK_SCRIPT.format(body=json.dumps(target.body.decode()), auth=auth), encoding="utf-8")
    return script


def wrk(target: Target, process: subprocess.Popen[bytes], *, concurrency: int, seconds: float, work: Path) -> Load:
    """Drive `target` with wrk for `seconds` at `concurrency` connections; its summary and the server's CPU."""
    threads = min(2, concurrency)
    command = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", "10s", "--latency"]
    cpu_before = cpu_seconds(process)
    found = subprocess.run(
        [*command, "-s", str(_wrk_script(target, work)), target.url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    load = parse_wrk(found.stdout, concurrency)
    load.cpu_us_per_request = (cpu_seconds(process) - cpu_before) / max(load.requests, 1) * 1e6
    return load


def parse_wrk(out: str, concurrency: int) -> Load:
    """wrk's `--latency` summary as a Load (a percentile wrk did not print is NaN)."""

    def percentile(name: str) -> float:
        match = re.search(rf"^\s*{name}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket_errors.groups())) if socket_errors else 0)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return Load(concurrency, rate, percentile("50"), percentile("99"), requests, errors)


def start_up(stack: ExitStack, target: Target, args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], list[float]]:
    """Start `target` `args.starts` times, timing each cold start; the last one stays up (in `stack`)."""
    colds = []
    for _ in range(args.starts - 1):
        with started(target.command, target.env, REPO) as (process, start):
            colds.append(first_answer(process, start, target, limit=args.start_limit))
    process, start = stack.enter_context(started(target.command, target.env, REPO))
    colds.append(first_answer(process, start, target, limit=args.start_limit))
    return process, colds


def measure(targets: Sequence[Target], args: argparse.Namespace, rounds: int) -> list[Server]:
    """Start every target, then drive them in turns, `rounds` times per concurrency (see the docstring)."""
    with tempfile.TemporaryDirectory(prefix="bench-") as work, ExitStack() as stack:  # servers stop first
        up = [(target, *start_up(stack, target, args)) for target in targets]
        samples: dict[str, dict[int, list[Load]]] = {t.name: {1: [], 32: []} for t in targets}
        for concurrency in (1, 32):
            for _ in range(rounds):
                for target, process, _colds in up:
                    load = wrk(target, process, concurrency=concurrency, seconds=args.seconds, work=Path(work))
                    samples[target.name][concurrency].append(load)
        servers = []
        for target, process, colds in up:
            server = Server(target.name, colds, resident_mb(process), samples[target.name])
            rates = ", ".join(f"c{x.concurrency} {x.requests_per_second:.0f}/s" for x in server.loads)
            cold = f"cold start {server.cold_start_s:.3f} s"
            print(f"  {target.name}: {cold}, {server.rss_mb:.0f} MB, {rates}", flush=True)
            servers.append(server)
    return servers


def registered_version(tracking_uri: str, served_version: str) -> str:
    """The newest registered version whose logged served artifact is the one in models/served."""
    database = Path(tracking_uri.removeprefix("sqlite:///"))
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "select v.version, v.run_id from model_versions v where v.name = 'fraud-detector' order by v.version desc"
        ).fetchall()
    artifacts = REPO / "mlartifacts"
    for version, run_id in rows:
        for candidate in artifacts.glob(f"**/{run_id}/artifacts/served/served.json"):
            if json.loads(candidate.read_text(encoding="utf-8"))["version"] == served_version:
                return str(version)
    raise SystemExit(f"no registered version of fraud-detector logs served version {served_version}: run `make run`")


def vectorised_seconds(rows: int = 10_000, repeats: int = 5) -> float:
    from mlops_template.model.artifact import ServedModel  # noqa: PLC0415

    served = ServedModel.load(REPO / "models/served")
    columns = served.columns_from_records([SAMPLE_RECORD] * rows)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        served.predict_columns(columns)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="load duration per server and concurrency")
    parser.add_argument("--start-limit", type=float, default=120.0, help="seconds a server may take to answer")
    parser.add_argument("--rounds", type=positive_int, default=3, help="turns of the empty endpoint and our API")
    parser.add_argument("--starts", type=positive_int, default=3, help="cold starts timed per server (median)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench-serve needs wrk (Debian package `wrk`; `make bench-serve` installs it as root)")
    served_json = json.loads((REPO / "models/served/served.json").read_text(encoding="utf-8"))
    tracking_uri = f"sqlite:///{REPO / 'mlruns.db'}"
    version = registered_version(tracking_uri, served_json["version"])
    body = json.dumps({"record": SAMPLE_RECORD}).encode()
    print(
        f"served artifact {served_json['version']}, registered version {version}; {args.seconds:g} s per load, "
        f"{args.rounds} rounds, {args.starts} cold starts per server"
    )
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as temporary:
        work = Path(temporary)
        (work / "empty_app.py").write_text(EMPTY_APP, encoding="utf-8")
        ports = [free_port() for _ in range(3)]
        local = [["--host", "127.0.0.1", "--port", str(port)] for port in ports]
        uvicorn = [str(VENV_BIN / "uvicorn"), "empty_app:app", *local[0], *UVICORN_FLAGS]
        api = [str(VENV_BIN / "mlops-template"), "serve", "--model-dir", "models/served", *local[1], "--workers", "1"]
        mlflow = [str(VENV_BIN / "mlflow"), "models", "serve", "-m", f"models:/fraud-detector/{version}"]
        mlflow += ["--env-manager", "local", *local[2], "--workers", "1"]
        targets = [
            Target(
                "empty endpoint",
                uvicorn,
                project_env(PYTHONPATH=str(work)),
                f"http://127.0.0.1:{ports[0]}/v1/predict",
                body,
                {},
            ),
            Target(
                "our API",
                api,
                project_env(MLOPS_API_KEYS=API_KEY, MLOPS_PREDICTION_LOG=str(work / "predictions.db")),
                f"http://127.0.0.1:{ports[1]}/v1/predict",
                body,
                {"Authorization": f"Bearer {API_KEY}"},
            ),
            Target(
                "mlflow models serve",
                mlflow,
                project_env(MLFLOW_TRACKING_URI=tracking_uri, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true"),
                f"http://127.0.0.1:{ports[2]}/invocations",
                json.dumps({"dataframe_records": [SAMPLE_RECORD]}).encode(),
                {},
            ),
        ]
        empty_and_ours = measure(targets[:2], args, rounds=args.rounds)
        mlflow_alone = measure(targets[2:], args, rounds=1)
        results = [*empty_and_ours, *mlflow_alone]
    vectorised = vectorised_seconds()
    report(results, vectorised, served_json["version"], version)
    return 0


def report(results: list[Server], vectorised: float, served_version: str, registered: str) -> None:
    print()
    header = f"{'server':<22}{'conc':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'CPU us/req':>11}"
    print(f"{header}{'cold s':>8}{'RSS MB':>8}")
    for server in results:
        for load in server.loads:
            print(
                f"{server.name:<22}{load.concurrency:>5}{load.requests_per_second:>10.1f}{load.p50_ms:>9.3f}"
                f"{load.p99_ms:>9.3f}{load.errors:>8}{load.cpu_us_per_request:>11.0f}{server.cold_start_s:>8.3f}"
                f"{server.rss_mb:>8.0f}"
            )
    print()
    for server in results:
        p50s = " ".join(f"{x.p50_ms:.3f}" for x in server.rounds[1])
        colds = " ".join(f"{x:.3f}" for x in server.cold_starts_s)
        print(f"  {server.name:<22} p50 ms at c1 by round: {p50s:<24} cold starts s: {colds}")
    empty, ours, mlflow = results
    by_concurrency = {s.name: {x.concurrency: x for x in s.loads} for s in results}
    throughput_ratio = (
        by_concurrency[ours.name][32].requests_per_second / by_concurrency[mlflow.name][32].requests_per_second
    )
    latency_ratio = by_concurrency[ours.name][1].p50_ms / by_concurrency[empty.name][1].p50_ms
    cpu_ratio = by_concurrency[ours.name][1].cpu_us_per_request / by_concurrency[empty.name][1].cpu_us_per_request
    checks: list[tuple[str, str, bool | None]] = [
        ("throughput vs mlflow at concurrency 32", f"{throughput_ratio:.0f}x", throughput_ratio >= 200),
        ("p50 vs empty endpoint at concurrency 1", f"{latency_ratio:.2f}x", latency_ratio <= 2),
        ("(server CPU per request vs empty, c1)", f"{cpu_ratio:.2f}x", None),
        ("cold start to first prediction", f"{ours.cold_start_s:.3f} s", ours.cold_start_s < 0.5),
        ("resident memory (one worker)", f"{ours.rss_mb:.0f} MB", ours.rss_mb < 120),
        ("10,000 rows, vectorised, in process", f"{vectorised * 1000:.1f} ms", vectorised < 0.2),
        ("errors under load (our API)", str(sum(x.errors for x in ours.loads)), all(x.errors == 0 for x in ours.loads)),
    ]
    print()
    for name, value, ok in checks:
        verdict = "    " if ok is None else "PASS" if ok else "MISS"
        print(f"  {verdict}  {name:<42}{value:>12}")
    out = REPO / "benchmarks/results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {
        "served_version": served_version,
        "registered_version": registered,
        "servers": [
            {**asdict(s), "cold_start_s": s.cold_start_s, "loads": [asdict(x) for x in s.loads]} for s in results
        ],
        "vectorised_10k_s": vectorised,
        "checks": {name: {"value": value, "pass": ok} for name, value, ok in checks},
    }
    (out / f"serve-{stamp}.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
