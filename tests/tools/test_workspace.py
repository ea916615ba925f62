"""tools/workspace.py: the working copies simulate, the tests and the benchmarks make, and their environment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from mlops_template.tools import workspace


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def _project(root: Path) -> Path:
    root.mkdir()
    _git(root, "init", "-q")
    (root / ".gitignore").write_text("ignored.txt\n")
    for name in ("tracked.txt", "data/week.csv", "src/pkg/mod.py", "ignored.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    _git(root, "add", ".gitignore", "tracked.txt")
    _git(root, *workspace.git_identity("tests"), "commit", "-qm", "start")
    (root / "tracked.txt").write_text("changed, not committed")
    return root


def test_the_copy_is_the_working_tree_committed_in_a_fresh_repository(tmp_path: Path) -> None:
    root = _project(tmp_path / "root")
    copy = workspace.copy_project(root, tmp_path / "copy", message="the start", leave_out=("data/",))
    assert (copy / "tracked.txt").read_text() == "changed, not committed"  # uncommitted changes come along
    assert (copy / "src/pkg/mod.py").is_file()  # untracked but not ignored
    assert not (copy / "ignored.txt").exists()
    assert not (copy / "data").exists()  # left out
    assert _git(copy, "status", "--porcelain") == ""
    assert _git(copy, "log", "--format=%s|%an|%ae").strip() == (
        "the start|mlops-template workspace|workspace@example.invalid"
    )


def test_a_failing_git_command_is_one_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(workspace.WorkspaceError, match=r"git ls-files in .*: exit 128: .*not a git repository"):
        workspace.copy_project(tmp_path, tmp_path / "copy")


def test_the_environment_leaves_out_the_callers_stores_and_runs_this_environments_commands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example")
    monkeypatch.setenv("DVC_REMOTE", "elsewhere")
    monkeypatch.setenv("MLOPS_TEMPLATE_LOG_LEVEL", "DEBUG")
    env = workspace.project_env(EXTRA="1")
    assert "MLFLOW_TRACKING_URI" not in env
    assert "DVC_REMOTE" not in env
    assert env["MLOPS_TEMPLATE_LOG_LEVEL"] == "WARNING"
    assert env["PATH"].startswith(f"{workspace.VENV_BIN}:")
    assert env["EXTRA"] == "1"
    kept = workspace.project_env(drop=("MLFLOW_TRACKING",), log_level="DEBUG")
    assert "DVC_REMOTE" in kept
    assert kept["MLOPS_TEMPLATE_LOG_LEVEL"] == "DEBUG"


def _gone(process: psutil.Process) -> bool:
    """Exited: reaped, or a zombie waiting for init to reap it (it holds no port and runs nothing)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def test_stop_process_group_waits_for_a_child_that_outlives_its_leader(tmp_path: Path) -> None:
    """`mlflow models serve`: the CLI dies at once on SIGTERM, the uvicorn under it drains for a while and
    still answers; the next start must not find it there."""
    child = "import signal, time; signal.signal(signal.SIGTERM, lambda *_: (time.sleep(1), exit(0))); time.sleep(60)"
    leader = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child!r}]); time.sleep(60)"
    process = subprocess.Popen([sys.executable, "-c", leader], start_new_session=True)
    deadline = time.monotonic() + 10
    while not psutil.Process(process.pid).children() and time.monotonic() < deadline:
        time.sleep(0.02)
    (worker,) = psutil.Process(process.pid).children()
    time.sleep(0.3)  # the child's handler is installed
    workspace.stop_process_group(process, grace_seconds=5)
    assert _gone(worker)


def test_stop_process_group_ends_the_workers_a_leader_left_when_it_exited_by_itself() -> None:
    leader = "import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])"
    process = subprocess.Popen([sys.executable, "-c", leader], start_new_session=True)
    deadline = time.monotonic() + 10
    while psutil.Process(process.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.02)  # exited, not yet reaped: its workers are no longer its children
    (orphan,) = [p for p in psutil.process_iter() if _pgid(p.pid) == process.pid and p.pid != process.pid]
    workspace.stop_process_group(process, grace_seconds=5)
    assert _gone(orphan)
