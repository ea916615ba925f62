"""The API's layer rule: it imports neither the pipeline nor pandas, scikit-learn, DVC or MLflow.

Checked twice: statically by import-linter (the contract in pyproject.toml, which `make lint` runs),
and at run time in a real serving process after it has answered a prediction.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.api_server import API_KEY, VALID_RECORD, free_port
from tests.support.workspace import REPO, project_env

FORBIDDEN = ("pandas", "sklearn", "dvc", "mlflow", "pandera", "joblib", "pydantic_settings", "mlops_template.stages")
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def lint_imports(source_root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports with the project's contract, analysing the package found under `source_root`."""
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--config", str(REPO / "pyproject.toml")],
        cwd=source_root,
        env=project_env(PYTHONPATH=str(source_root)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_import_contract_holds_for_the_project() -> None:
    result = lint_imports(REPO / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "serving reads only the exported artifact KEPT" in result.stdout


@pytest.mark.parametrize(
    ("bad_import", "chain"),
    [
        ("import pandas", "mlops_template.serving.schemas -> pandas"),
        ("from mlops_template.data import schema", "mlops_template.data.schema -> pandas"),
        ("from mlops_template.stages import train", "mlops_template.serving.schemas -> mlops_template.stages.train"),
    ],
)
def test_the_import_contract_breaks_on_a_forbidden_import(tmp_path: Path, bad_import: str, chain: str) -> None:
    copy = tmp_path / "src"
    shutil.copytree(
        REPO / "src" / "mlops_template", copy / "mlops_template", ignore=shutil.ignore_patterns("__pycache__")
    )
    module = copy / "mlops_template" / "serving" / "schemas.py"
    module.write_text(module.read_text(encoding="utf-8") + f"\n{bad_import}  # a violation\n", encoding="utf-8")
    result = lint_imports(copy)
    assert result.returncode != 0
    assert "serving reads only the exported artifact BROKEN" in result.stdout
    assert chain in result.stdout


SERVING_PROCESS = textwrap.dedent(
    """
    import json, os, sys, threading, time, urllib.request
    from mlops_template import cli

    port, record, key = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    argv = ["serve", "--host", "127.0.0.1", "--port", port, "--workers", "1", "--log-level", "warning"]
    threading.Thread(target=cli.main, args=(argv,), daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/ready", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    request = urllib.request.Request(
        base + "/v1/predict",
        data=json.dumps({"record": record}).encode(),
        headers={"content-type": "application/json", "x-api-key": key},
    )
    answer = json.load(urllib.request.urlopen(request, timeout=10))
    print(json.dumps({"answer": answer, "modules": sorted(sys.modules)}), flush=True)
    # The server runs in a daemon thread (uvicorn, onnxruntime, the log's checkpoint thread): leave without
    # interpreter finalization under its feet, which may crash (SIGSEGV seen once in CI) after the answer.
    os._exit(0)
    """
)


def test_a_serving_process_never_imports_the_training_stack(served_dir: Path, tmp_path: Path) -> None:
    env = project_env(
        MLOPS_API_KEYS=API_KEY, MLOPS_MODEL_DIR=str(served_dir), MLOPS_PREDICTION_LOG=str(tmp_path / "log.sqlite3")
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    result = subprocess.run(
        [sys.executable, "-c", SERVING_PROCESS, str(free_port()), json.dumps(VALID_RECORD), API_KEY],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["answer"]["results"][0]["label"] in ("fraud", "legit")
    modules: list[str] = found["modules"]
    assert {"fastapi", "uvicorn", "onnxruntime", "mlops_template.serving.app"} <= set(modules)
    loaded = [m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert loaded == []
