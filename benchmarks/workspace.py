"""This checkout, and fresh copies of it, for the benchmarks (mlops_template.tools.workspace bound to it).

The benchmarks import only the package and each other (never tests/): the package's workspace module
makes the copies, picks free ports and builds the project's environment.
"""

from __future__ import annotations

from pathlib import Path

from mlops_template.tools import workspace
from mlops_template.tools.workspace import VENV_BIN, free_port, project_env

__all__ = ["REPO", "VENV_BIN", "copy_project", "free_port", "project_env"]

REPO = Path(__file__).resolve().parents[1]


def copy_project(target: Path) -> Path:
    """This checkout's working tree (uncommitted changes too) as a fresh repository at `target`."""
    return workspace.copy_project(REPO, target, identity=workspace.git_identity("benchmarks"))
