"""Fresh copies of this repository for the integration tests (mlops_template.tools.workspace bound to it),
and what only tests need: the example dataset, a network-less prefix, digests, uv.

The package module makes the copies, picks free ports and builds the project's environment for
`mlops-template simulate` and the benchmarks too; it is re-exported here for the tests.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mlops_template.tools import workspace
from mlops_template.tools.workspace import VENV_BIN, free_port, project_env

__all__ = [
    "EXAMPLE",
    "GIT_IDENTITY",
    "REPO",
    "VENV_BIN",
    "copy_project",
    "digest",
    "free_port",
    "offline_prefix",
    "project_env",
    "run_offline",
    "uv_path",
]

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "loan_applications"  # the worked second dataset
GIT_IDENTITY = workspace.git_identity("tests")


def copy_project(target: Path) -> Path:
    """This repository's working tree (uncommitted changes too) as a fresh repository at `target`."""
    return workspace.copy_project(REPO, target, identity=GIT_IDENTITY)


def offline_prefix() -> list[str]:
    """`unshare -n`: run a command in a network namespace with no network, where permitted."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True, check=False).returncode == 0:
        return [unshare, "-n"]
    return []


def run_offline(cwd: Path, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    """A command of the project in `cwd`, with no network where permitted; a failure (check) fails the test
    with the command's output. `env` adds to the project's environment."""
    found = subprocess.run(
        [*offline_prefix(), *args], cwd=cwd, env=project_env(**env), capture_output=True, text=True, check=False
    )
    if check and found.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {found.returncode}:\n{found.stdout}\n{found.stderr}")
    return found


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def uv_path() -> str:
    """The uv that `make install` bootstraps (or one on PATH); CI fails without it, a laptop skips."""
    for candidate in (REPO / ".tools/bin/uv", shutil.which("uv")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    if os.environ.get("CI") == "true":
        pytest.fail("uv is needed (make install bootstraps it into .tools/)")
    pytest.skip("uv not found: run `make install`")
