"""Where our API's time at concurrency 1 goes: the API with parts taken out, beside the empty endpoint.

    python benchmarks/serve_parts.py              # after `make run`; needs wrk (see bench_serve.py)
    python benchmarks/serve_parts.py --pin 0      # every server and wrk on CPU 0: steadier figures

A diagnostic for bench-serve's p50 target, not a way to serve: each variant is the real app from
`create_app`, with one part replaced inside its server process.

    api                    as shipped: auth, metrics, contract validation, the model, the durable log
    api - log              the prediction log's commit replaced by nothing
    api - model            the model call replaced by a constant probability
    api - model - log      both: what HTTP, auth, validation, metrics and JSON cost together
    api, trees + append    a lower bound for a leaner design: the ONNX graph cut down to its tree
                           ensembles (no feature transform, so NOT the exact model) and the log as one
                           write(2) per request to an append-only file (no SQLite, no index)

Every server stays up and they take turns at concurrency 1 for `--rounds`; printed per variant:
the median p50, its ratio to the empty endpoint, and the server's CPU time per request.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.bench_serve import (
    API_KEY,
    EMPTY_APP,
    SAMPLE_RECORD,
    Load,
    Target,
    first_answer,
    median_load,
    started,
    wrk,
)
from benchmarks.workspace import REPO, free_port, project_env

EMPTY = "empty endpoint"


def _without_log() -> None:
    from mlops_template.serving.predlog import PredictionLog, PredictionRow  # noqa: PLC0415

    async def add_predictions(_log: PredictionLog, _rows: list[PredictionRow]) -> None:
        return None

    PredictionLog.add_predictions = add_predictions  # type: ignore[method-assign]


def _without_model() -> None:
    import numpy as np  # noqa: PLC0415

    from mlops_template.model.artifact import ServedModel  # noqa: PLC0415

    ServedModel.predict_records = lambda _model, records: np.full(len(records), 0.5)  # type: ignore[method-assign]


def _trees_and_append() -> None:
    import numpy as np  # noqa: PLC0415
    import onnx  # noqa: PLC0415
    import onnxruntime as ort  # noqa: PLC0415

    from mlops_template.model.artifact import MODEL, ServedModel, _session_options  # noqa: PLC0415
    from mlops_template.serving.predlog import PredictionLog, PredictionRow  # noqa: PLC0415

    sessions: dict[int, tuple[ort.InferenceSession, str, int]] = {}

    def trees_only(model: ServedModel) -> tuple[ort.InferenceSession, str, int]:
        full = onnx.load(model.directory / MODEL)
        trees = [node for node in full.graph.node if node.op_type == "TreeEnsemble"]
        x = trees[0].input[0]
        width = 1 + max(max(a.ints) for t in trees for a in t.attribute if a.name == "nodes_featureids")
        outputs = [t.output[0] for t in trees]
        cut = onnx.helper.make_graph(
            [*trees, onnx.helper.make_node("Concat", outputs, ["raw"], axis=1)],
            "trees",
            [onnx.helper.make_tensor_value_info(x, onnx.TensorProto.DOUBLE, ["N", width])],
            [onnx.helper.make_tensor_value_info("raw", onnx.TensorProto.DOUBLE, ["N", len(trees)])],
        )
        proto = onnx.helper.make_model(cut, opset_imports=full.opset_import, ir_version=full.ir_version)
        session = ort.InferenceSession(
            proto.SerializeToString(), _session_options(), providers=["CPUExecutionProvider"]
        )
        return session, x, width

    def predict_records(model: ServedModel, records: Sequence[Any]) -> Any:
        if id(model) not in sessions:
            sessions[id(model)] = trees_only(model)
        session, x, width = sessions[id(model)]
        raw = session.run(["raw"], {x: np.zeros((len(records), width))})[0]
        return 1.0 / (1.0 + np.exp(-raw.mean(axis=1)))

    appended: dict[str, int] = {}

    async def add_predictions(log: PredictionLog, rows: list[PredictionRow]) -> None:
        path = str(log.path) + ".append"
        if path not in appended:
            appended[path] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(appended[path], "".join(json.dumps(row) + "\n" for row in rows).encode())

    ServedModel.predict_records = predict_records  # type: ignore[method-assign]
    PredictionLog.add_predictions = add_predictions  # type: ignore[method-assign]


def _without_model_and_log() -> None:
    _without_model()
    _without_log()


VARIANTS: dict[str, Callable[[], None]] = {
    "api": lambda: None,
    "api - log": _without_log,
    "api - model": _without_model,
    "api - model - log": _without_model_and_log,
    "api, trees + append": _trees_and_append,
}


def serve(variant: str, port: int) -> None:
    """Run one variant (or the empty endpoint) under uvicorn on 127.0.0.1:`port`, as bench-serve runs them."""
    import uvicorn  # noqa: PLC0415

    if variant == EMPTY:
        namespace: dict[str, Any] = {}
        exec(EMPTY_APP, namespace)  # noqa: S102 - bench_serve's own empty app, the same floor
        app = namespace["app"]
    else:
        VARIANTS[variant]()
        from mlops_template.serving.app import create_app  # noqa: PLC0415

        app = create_app()
    # bench_serve's UVICORN_FLAGS, as keywords
    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", access_log=False, log_level="error")


def report(samples: dict[str, list[Load]]) -> list[dict[str, Any]]:
    """One row per server: median p50 (ms), its ratio to the empty endpoint, CPU us per request, errors."""
    floor = statistics.median(x.p50_ms for x in samples[EMPTY])
    rows = []
    for name, loads in samples.items():
        load = median_load(loads)
        rows.append(
            {
                "server": name,
                "p50_ms": load.p50_ms,
                "ratio": load.p50_ms / floor,
                "cpu_us_per_request": load.cpu_us_per_request,
                "errors": load.errors,
                "p50_by_round": [x.p50_ms for x in loads],
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=3, help="load duration per server and round (whole seconds)")
    parser.add_argument("--rounds", type=int, default=3, help="turns of every server")
    parser.add_argument("--pin", type=int, default=None, help="run every server and wrk on this CPU")
    parser.add_argument("--serve", choices=[EMPTY, *VARIANTS], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return 0
    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})  # inherited by every server and every wrk started below
    body = json.dumps({"record": SAMPLE_RECORD}).encode()
    samples: dict[str, list[Load]] = {name: [] for name in (EMPTY, *VARIANTS)}
    with tempfile.TemporaryDirectory(prefix="serve-parts-") as temporary, ExitStack() as stack:
        work = Path(temporary)
        up = []
        for name in samples:
            port = free_port()
            env = project_env(
                MLOPS_API_KEYS=API_KEY,
                MLOPS_MODEL_DIR=str(REPO / "models/served"),
                MLOPS_PREDICTION_LOG=str(work / f"{len(up)}.sqlite3"),
            )
            command = [sys.executable, str(Path(__file__).resolve()), "--serve", name, "--port", str(port)]
            url = f"http://127.0.0.1:{port}/v1/predict"
            log = work / f"{len(up)}.log"
            target = Target(name, command, env, url, body, {"Authorization": f"Bearer {API_KEY}"}, log)
            process, start = stack.enter_context(started(target, REPO))
            first_answer(process, start, target, limit=60)
            up.append((target, process))
        for _ in range(args.rounds):
            for target, process in up:
                samples[target.name].append(wrk(target, process, concurrency=1, seconds=args.seconds, work=work))
    cpu = "any" if args.pin is None else str(args.pin)
    print(f"\nconcurrency 1, {args.rounds} rounds of {args.seconds:g} s, CPU: {cpu}")
    print(f"{'server':<22}{'p50 ms':>9}{'x empty':>9}{'CPU us/req':>12}{'errors':>8}   p50 by round")
    for row in report(samples):
        rounds = " ".join(f"{x:.3f}" for x in row["p50_by_round"])
        print(
            f"{row['server']:<22}{row['p50_ms']:>9.3f}{row['ratio']:>9.2f}{row['cpu_us_per_request']:>12.0f}"
            f"{row['errors']:>8}   {rounds}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
