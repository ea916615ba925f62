"""A working copy of the project, made the way a user gets one, and what its commands run with.

`mlops-template simulate` runs its closed loop in one; the integration tests and the benchmarks make
theirs the same way. The copy is made from the working tree (tracked files plus untracked ones git
does not ignore), so uncommitted changes are exercised too. Standard library only (and the package's
errors): the tests and benchmarks import it beside anything else.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mlops_template.core.errors import MlopsTemplateError

logger = logging.getLogger(__name__)

# The environment this interpreter runs in: dvc.yaml's `python -m ...` and the console scripts must be
# its own, as `source .venv/bin/activate` gives.
VENV_BIN = Path(sys.executable).parent
# A working copy's commands must not reach a tracking server, a DVC remote or a bucket of the caller's.
OUTSIDE_STORES = ("MLFLOW_", "DVC_", "AWS_")


class WorkspaceError(MlopsTemplateError):
    """A git command making the working copy failed (its exit status and the end of its output)."""


def git_identity(who: str) -> tuple[str, ...]:
    """`git -c` options naming the committer, so a commit needs no user configuration."""
    return ("-c", f"user.name=mlops-template {who}", "-c", f"user.email={who}@example.invalid")


WORKSPACE_IDENTITY = git_identity("workspace")


def copy_project(
    root: Path,
    target: Path,
    *,
    identity: Sequence[str] = WORKSPACE_IDENTITY,
    message: str = "fresh copy",
    leave_out: Sequence[str] = (),
) -> Path:
    """The working tree of the project at `root` as a fresh git repository at `target` (one commit).

    `leave_out`: path prefixes (`"data/"`) not copied, for a copy that makes its own data and reports.
    """
    listed = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = root / name
        if source.is_file() and not name.startswith(tuple(leave_out)):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    _git(target, "init", "-q")
    _git(target, "add", "-A")
    _git(target, "commit", "-qm", message, options=identity)
    return target


def _git(cwd: Path, *args: str, options: Sequence[str] = ()) -> str:
    what = f"git {args[0]}"
    started = time.monotonic()
    # git from PATH, as the user runs it
    done = subprocess.run(["git", *options, *args], cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603, S607
    logger.info("%s: exit %d in %.1f s", what, done.returncode, time.monotonic() - started)
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-4:])
        msg = f"{what} in {cwd}: exit {done.returncode}: {tail}"
        raise WorkspaceError(msg)
    return done.stdout


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the servers started here bind only there)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def stop_process_group(process: subprocess.Popen[bytes], grace_seconds: float = 20) -> None:
    """Stop a server started with `start_new_session=True`, and every worker it forked: SIGTERM to its
    process group, then SIGKILL to what is left after `grace_seconds`.

    It returns only when no process of the group is left, not when the leader has exited: a leader can
    die at once while the server it started drains and still answers (`mlflow models serve`'s CLI over
    its uvicorn), or exit by itself and leave its workers behind; a next start on the same port must
    not find them there."""
    if not _signal_group(process, signal.SIGTERM):
        process.wait(timeout=10)
        return
    deadline = time.monotonic() + grace_seconds
    while _group_alive(process) and time.monotonic() < deadline:
        time.sleep(0.02)
    if _group_alive(process):
        _signal_group(process, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _group_alive(process) and time.monotonic() < deadline:
            time.sleep(0.02)
    process.wait(timeout=10)


def _signal_group(process: subprocess.Popen[bytes], sent: int) -> bool:
    """Send `sent` to the process group `process` leads; False when no process of it is left."""
    try:
        os.killpg(process.pid, sent)
    except ProcessLookupError:
        return False
    return True


def _group_alive(process: subprocess.Popen[bytes]) -> bool:
    """Whether a live process of the group is left. The leader is reaped first; on Linux, /proc tells a
    zombie (exited, waiting for a parent to reap it) from a live process, since both take a signal."""
    process.poll()
    proc = Path("/proc")
    if not (proc / "self" / "stat").is_file():
        return _signal_group(process, 0)
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="utf-8", errors="replace").rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        state, group = fields[0], fields[2]
        if group == str(process.pid) and state not in ("Z", "X"):
            return True
    return False


def project_env(*, drop: Sequence[str] = OUTSIDE_STORES, log_level: str = "WARNING", **extra: str) -> dict[str, str]:
    """The environment a user has after `source .venv/bin/activate`, without the variables that start
    with a prefix in `drop`, the package's log level set, and `extra` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(tuple(drop))}
    env["MLOPS_TEMPLATE_LOG_LEVEL"] = log_level
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env
