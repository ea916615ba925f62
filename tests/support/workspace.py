"""Fresh copies of the project, made the way a user gets one: a clean git repository.

Shared by the integration tests and the benchmarks. The copy is made from the working tree (tracked
files plus untracked ones git does not ignore), so uncommitted changes are exercised too.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "loan_applications"  # the worked second dataset
VENV_BIN = Path(sys.executable).parent
GIT_IDENTITY = ("-c", "user.name=mlops-template tests", "-c", "user.email=tests@example.invalid")


def project_env(**extra: str) -> dict[str, str]:
    """The environment a user has after `source .venv/bin/activate`, minus MLflow/DVC overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_", "AWS_"))}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["MLOPS_TEMPLATE_LOG_LEVEL"] = "WARNING"
    env.update(extra)
    return env


def copy_project(target: Path) -> Path:
    """Copy the working tree into `target` and commit it there as a fresh repository."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for command in (["init", "-q"], ["add", "-A"], [*GIT_IDENTITY, "commit", "-qm", "fresh copy"]):
        subprocess.run(["git", *command], cwd=target, check=True, capture_output=True)
    return target


def offline_prefix() -> list[str]:
    """`unshare -n`: run a command in a network namespace with no network, where permitted."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True, check=False).returncode == 0:
        return [unshare, "-n"]
    return []


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (servers in tests and benchmarks bind only there)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def uv_path() -> str:
    """The uv that `make install` bootstraps (or one on PATH); CI fails without it, a laptop skips."""
    for candidate in (REPO / ".tools/bin/uv", shutil.which("uv")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    if os.environ.get("CI") == "true":
        pytest.fail("uv is needed (make install bootstraps it into .tools/)")
    pytest.skip("uv not found: run `make install`")
