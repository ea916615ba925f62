"""A private Docker engine for the image test: containerd and dockerd started in a temp dir, and stopped.

Nothing touches the machine's default engine paths (/var/lib/docker, /run/docker.sock, /run/containerd,
/etc/docker): sockets, data, state, config and pid files all live under one temp dir, removed at the end
with every process the engine started. The storage driver is vfs (any file system, no overlay mounts).
The engine makes no bridge and no iptables rules: containers run with `--network host` (a server in it
binds 127.0.0.1) or `--network none` (the build), so no traffic goes to a private-range address.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 600.0
SBIN = (Path("/usr/sbin"), Path("/sbin"))
# Debian's docker.io: the engine, its containerd and runc, and (same release) the client.
ENGINE_TOOLS = {"dockerd": "docker.io", "containerd": "docker.io", "runc": "docker.io"}
# containerd plugins the engine does not use; left on, they would reach for system paths (CRI's CNI
# directories, the opt plugin's /var/lib/containerd/opt) or probe file systems that are not there.
DISABLED_PLUGINS = (
    "io.containerd.grpc.v1.cri",
    "io.containerd.internal.v1.opt",
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
)


class EngineError(RuntimeError):
    """The private engine could not be started, or a docker command failed."""


def find_tool(name: str) -> str | None:
    return shutil.which(name) or next((str(d / name) for d in SBIN if (d / name).exists()), None)


def missing_packages(tools: dict[str, str]) -> list[str]:
    """The Debian packages providing the `tools` (name -> package) this machine lacks."""
    return sorted({package for tool, package in tools.items() if find_tool(tool) is None})


def require_tools() -> None:
    """Skip (locally) or fail (CI=true) with the reason when the engine or debootstrap cannot run here."""
    problems = []
    if missing := missing_packages({**ENGINE_TOOLS, "debootstrap": "debootstrap"}):
        problems.append(f"Debian packages {', '.join(missing)} are not installed")
    if os.geteuid() != 0:
        problems.append("dockerd and debootstrap need root")
    if problems:
        reason = f"image test: {'; '.join(problems)} (`make system-deps` as root installs them)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


def _tool(name: str) -> str:
    found = find_tool(name)
    if found is None:
        raise EngineError(f"{name} is not installed: run scripts/system-deps.sh as root")
    return found


def _client_major(client: str) -> int:
    shown = subprocess.run([client, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"version (\d+)\.", shown)
    return int(match[1]) if match else 0


def pick_client() -> tuple[str, bool]:
    """A docker client and whether it builds with BuildKit.

    BuildKit snapshots only the layers that change files; the classic builder commits a container for
    every instruction, a full copy of the file system each time under vfs (minutes instead of seconds).
    Clients before 23 carry BuildKit themselves (DOCKER_BUILDKIT=1); later ones need the buildx plugin.
    """
    candidates = dict.fromkeys(c for c in ("/usr/bin/docker", shutil.which("docker")) if c and Path(c).exists())
    for client in candidates:
        major = _client_major(client)
        if 0 < major < 23:  # the release that moved BuildKit into the buildx plugin
            return client, True
        if subprocess.run([client, "buildx", "version"], capture_output=True, check=False).returncode == 0:
            return client, True
    if not candidates:
        raise EngineError("no docker client found: run scripts/system-deps.sh as root (Debian's docker.io)")
    return next(iter(candidates)), False


@dataclass(frozen=True)
class DockerEngine:
    root: Path
    host: str
    client: str
    buildkit: bool

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "BUILDX_"))}
        env.update(
            DOCKER_HOST=self.host,
            DOCKER_BUILDKIT="1" if self.buildkit else "0",
            DOCKER_CONFIG=str(self.root / "client"),  # not ~/.docker
        )
        return env

    def run(
        self, *args: str, timeout: float = COMMAND_TIMEOUT_S, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        try:
            done = subprocess.run(
                [self.client, *args], capture_output=True, text=True, env=self.env, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as error:
            raise EngineError(f"docker {' '.join(args[:3])} ... did not finish within {timeout:.0f} s") from error
        if check and done.returncode != 0:
            shown = f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}".strip()
            raise EngineError(f"docker {' '.join(args)} failed ({done.returncode}):\n{shown}")
        return done


def _tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-chars:] if log.exists() else "(no log)"


def _wait_for(ready: Callable[[], bool], what: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready():
        if process.poll() is not None:
            raise EngineError(f"{what} exited ({process.returncode}) while starting:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise EngineError(f"{what} not ready within {START_TIMEOUT_S:.0f} s:\n{_tail(log)}")
        time.sleep(0.1)


def _start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        # A session of its own: a Ctrl-C meant for pytest does not reach the engine half-way.
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


def _processes_under(root: Path) -> list[int]:
    """Processes whose command line names the engine's temp dir (container shims left behind)."""
    marker = str(root).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if marker in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve())
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines()]
    return sorted((p for p in points if p == prefix or p.startswith(prefix + "/")), key=len, reverse=True)


def _remove(root: Path) -> None:
    """Kill what the engine left running, unmount what it left mounted, then delete the temp dir.

    If a mount cannot be released the directory stays: deleting through a mount would reach outside it.
    """
    for pid in _processes_under(root):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for point in _mounts_under(root):
        subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)
    if left := _mounts_under(root):
        raise EngineError(f"mounts left under {root}, not removing it: {left}")
    shutil.rmtree(root, ignore_errors=True)


def _containerd_config(directory: Path, socket: Path) -> Path:
    config = directory / "config.toml"
    config.write_text(
        "version = 2\n"
        f'root = "{directory / "root"}"\n'
        f'state = "{directory / "state"}"\n'
        f"disabled_plugins = {json.dumps(list(DISABLED_PLUGINS))}\n"
        f'[grpc]\n  address = "{socket}"\n'
        f'[ttrpc]\n  address = "{socket}.ttrpc"\n',
        encoding="utf-8",
    )
    return config


@contextlib.contextmanager
def docker_engine() -> Iterator[DockerEngine]:
    """containerd + dockerd under a fresh temp dir; on exit every container, process and file is gone."""
    client, buildkit = pick_client()
    # Short paths: a unix socket path holds at most 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="mlops-dockerd-"))
    (root / "containerd").mkdir()
    containerd_sock = root / "containerd" / "containerd.sock"
    daemon_json = root / "daemon.json"
    daemon_json.write_text("{}\n", encoding="utf-8")  # not /etc/docker/daemon.json
    docker_sock = root / "docker.sock"
    engine = DockerEngine(root=root, host=f"unix://{docker_sock}", client=client, buildkit=buildkit)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        config = _containerd_config(root / "containerd", containerd_sock)
        log = root / "containerd.log"
        processes.append(_start([_tool("containerd"), "--config", str(config), "--log-level", "warn"], log))
        _wait_for(containerd_sock.exists, "containerd", processes[-1], log)
        dockerd = [
            _tool("dockerd"),
            f"--host={engine.host}",
            f"--containerd={containerd_sock}",
            f"--data-root={root / 'data'}",
            f"--exec-root={root / 'exec'}",
            f"--pidfile={root / 'dockerd.pid'}",
            f"--config-file={daemon_json}",
            "--storage-driver=vfs",
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
            "--ip-forward=false",
            "--log-level=warn",
        ]
        log = root / "dockerd.log"
        processes.append(_start(dockerd, log))

        def answers() -> bool:
            return docker_sock.exists() and engine.run("version", timeout=10, check=False).returncode == 0

        _wait_for(answers, "dockerd", processes[-1], log)
        yield engine
    finally:
        if len(processes) == 2 and processes[-1].poll() is None:  # dockerd is up
            with contextlib.suppress(EngineError):
                ids = engine.run("ps", "--all", "--quiet", timeout=30, check=False).stdout.split()
                if ids:
                    engine.run("rm", "--force", "--volumes", *ids, timeout=120, check=False)
        for process in reversed(processes):
            _stop(process)
        _remove(root)
