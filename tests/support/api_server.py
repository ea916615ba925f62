"""The model API on a real uvicorn, on 127.0.0.1 and a free port, for the integration tests.

`start_api_server` runs `mlops-template serve` as a user would (its own process group, so a test can
kill it and every worker), waits for /health with a deadline, and `stop` ends it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mlops_template.tools.workspace import stop_process_group
from tests.support.workspace import free_port, project_env

VENV_BIN = Path(sys.executable).parent
API_KEY = "test-key-0123456789abcdef"
AUTH = {"X-API-Key": API_KEY}
# The test key as the server is given it: every scope, so a test reaches every route (reload included).
API_KEY_SPEC = f"{API_KEY}:predict+feedback+review+admin"

# One valid transaction under the shipped contract (data/schema.py).
VALID_RECORD: dict[str, Any] = {
    "transaction_id": "tx-0001",
    "timestamp": "2026-11-02T14:30:00Z",
    "customer_id": "c-042",
    "amount": 42.5,
    "merchant_category": "grocery",
    "channel": "pos",
    "is_cross_border": 0,
    "customer_age": 37,
    "account_age_days": 400,
    "distance_from_home_km": 3.2,
    "txn_count_24h": 2,
    "device_type": None,
}


@dataclass
class ApiServer:
    process: subprocess.Popen[bytes]
    base_url: str
    prediction_log: Path
    stderr_path: Path
    env: dict[str, str] = field(repr=False)

    def client(self, timeout: float = 10, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=timeout, **kwargs)

    def logs(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL to the server and all its workers (no shutdown, no flush)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        stop_process_group(self.process)


def wait_until(check: Any, timeout: float, what: str, server: ApiServer | None = None) -> None:
    """Poll `check()` until true; fail with `what` (and the server's log) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if server is not None and server.process.poll() is not None:
            msg = f"server exited ({server.process.returncode}) while waiting for {what}:\n{server.logs()}"
            raise AssertionError(msg)
        time.sleep(0.05)
    msg = f"timed out after {timeout}s waiting for {what}" + (f":\n{server.logs()}" if server else "")
    raise AssertionError(msg)


def start_api_server(model_dir: Path, workdir: Path, *, workers: int = 1, timeout: float = 60, **env: str) -> ApiServer:
    """`mlops-template serve` with the test key (all scopes) and a log in `workdir`; returns once /health answers."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "predictions.sqlite3"
    server_env = project_env(
        MLOPS_API_KEYS=API_KEY_SPEC, MLOPS_PREDICTION_LOG=str(log), MLOPS_TEMPLATE_LOG_LEVEL="INFO", **env
    )
    if "PROMETHEUS_MULTIPROC_DIR" not in env:
        server_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [str(VENV_BIN / "mlops-template"), "serve", "--model-dir", str(model_dir), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    stderr_path = workdir / f"server-{port}.log"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            command, env=server_env, stdout=stderr, stderr=stderr, cwd=workdir, start_new_session=True
        )
    server = ApiServer(process, f"http://127.0.0.1:{port}", log, stderr_path, server_env)

    def healthy() -> bool:
        try:
            return httpx.get(f"{server.base_url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(healthy, timeout, "GET /health", server)
    except BaseException:
        server.stop()
        raise
    return server
