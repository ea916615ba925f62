"""The BentoML peer serves the exported artifact exactly: its probability is the package's own for the same
record. Runs the venv `make bench-peers` installed (`make test` runs that step; the test never installs:
without the venv it skips locally and fails under CI=true)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from benchmarks import bench_serve as bench
from benchmarks.peers.environments import Environment
from benchmarks.workspace import REPO, free_port
from mlops_template.model.artifact import ServedModel


@pytest.mark.server
def test_bentoml_answers_the_same_body_with_the_artifacts_own_probability(
    tmp_path: Path, served_dir: Path, record: dict[str, Any]
) -> None:
    problem = Environment.of("bentoml").problem()
    if problem is not None:
        reason = f"the BentoML peer is {problem} (`make bench-peers` installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    peer = next(t for t in bench.targets(tmp_path, "1", "sqlite:///unused.db") if t.name == bench.BENTOML)
    body = json.dumps({"record": record}).encode()
    target = replace(peer, env={**peer.env, "MLOPS_MODEL_DIR": str(served_dir)}, body=body)
    fresh = target.on(free_port())
    with bench.started(fresh, REPO) as (process, start):
        bench.first_answer(process, start, fresh, limit=90)
        status, answer = bench.post(fresh)
    assert status == 200
    expected = float(ServedModel.load(served_dir).predict_records([record])[0])
    assert json.loads(answer)["probability"] == pytest.approx(expected, abs=1e-12)
