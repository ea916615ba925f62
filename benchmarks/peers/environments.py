"""Each peer's own pinned environment, outside the project's lock: install it once, then say whether it is ready.

    python benchmarks/peers/environments.py     # what `make bench-peers` runs (the registry is reachable)

A peer is a folder here with `requirements.txt` (every package pinned: `uv pip compile requirements.in`,
see its first lines) and the code it serves. Its venv is `.tools/peers/<name>/`, made by the project's
uv with the project's interpreter (no Python download), and synced to exactly those pins; a stamp holds
the requirements' sha256, so a second install does nothing and a changed pin reinstalls. The installer's
output goes to `.tools/peers/<name>.log`. An install that fails leaves no stamp and is not an error here:
bench-serve reports that peer by name with the log's last lines and measures the others. Nothing is
downloaded after this step: bench-serve only checks the stamp.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere
from benchmarks.workspace import REPO

PEERS = Path(__file__).resolve().parent
ROOT = REPO / ".tools/peers"
UV = REPO / ".tools/bin/uv"
STAMP = ".installed"
INSTALL_SECONDS = 900


@dataclass(frozen=True)
class Environment:
    """One peer's pinned venv: `requirements` installed into `venv`, the installer's output in `log`."""

    name: str
    requirements: Path
    venv: Path
    log: Path

    @classmethod
    def of(cls, name: str, root: Path = ROOT) -> Environment:
        return cls(name, PEERS / name / "requirements.txt", root / name, root / f"{name}.log")

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def pins(self) -> str:
        return hashlib.sha256(self.requirements.read_bytes()).hexdigest()

    def problem(self) -> str | None:
        """None when the venv holds exactly the current pins, else why not (for bench-serve's report)."""
        stamp = self.venv / STAMP
        if not stamp.exists() and self.log.exists():
            return f"its install failed (`make bench-peers` tries again; the installer's log: {self.log})"
        if not stamp.exists():
            return "not installed (run `make bench-peers`)"
        if stamp.read_text(encoding="utf-8").strip() != self.pins():
            return f"installed from other pins than {self.requirements} (run `make bench-peers`)"
        return None


def install(environment: Environment, python: str = sys.executable, uv: Path = UV) -> bool:
    """Create and sync the venv unless its stamp matches the pins; True when it is ready."""
    if environment.problem() is None:
        return True
    environment.log.parent.mkdir(parents=True, exist_ok=True)
    (environment.venv / STAMP).unlink(missing_ok=True)
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": str(environment.venv)}
    env.pop("UV_PROJECT_ENVIRONMENT", None)
    steps = [
        [str(uv), "venv", "--allow-existing", "--python", python, str(environment.venv)],
        [str(uv), "pip", "sync", "--python", str(environment.bin / "python"), str(environment.requirements)],
    ]
    with environment.log.open("w", encoding="utf-8") as log:
        for step in steps:
            log.write(f"$ {' '.join(step)}\n")
            log.flush()
            try:
                done = subprocess.run(
                    step, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=INSTALL_SECONDS, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                log.write(f"{exc}\n")
                return False
            if done.returncode != 0:
                log.write(f"exit status {done.returncode}\n")
                return False
    (environment.venv / STAMP).write_text(environment.pins() + "\n", encoding="utf-8")
    return True


def names() -> list[str]:
    """Every peer: a folder here with a requirements.txt."""
    return sorted(p.parent.name for p in PEERS.glob("*/requirements.txt"))


def main() -> int:
    if not UV.exists() and shutil.which("uv") is None:
        print(f"no uv at {UV}: run `make install` first", file=sys.stderr)
        return 1
    for name in names():
        environment = Environment.of(name)
        ready = install(environment, uv=UV if UV.exists() else Path(shutil.which("uv") or "uv"))
        state = "ready" if ready else f"FAILED (bench-serve will report it; log: {environment.log})"
        print(f"peer {name}: {state} in {environment.venv.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
