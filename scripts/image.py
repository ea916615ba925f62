"""Build the serving image: wheels gathered on the host, then `docker build` with no network.

`make image` runs this. Three steps:
1. the wheelhouse (build/image/wheels/): the locked runtime closure of the `serve` extra, exported from
   uv.lock and downloaded as binary wheels for the image's Python (3.11, manylinux x86_64 or aarch64),
   plus the project's own wheel. The Dockerfile installs exactly these with `--no-index --no-deps`, so
   the build needs no network and installs what the lock says, nothing resolved anew;
2. the labels: revision and creation time from the git commit (not the clock, so the same commit gives
   the same labels), the package version, the model version from served.json, the data version (the md5
   DVC recorded for data/, as the model card gives it);
3. `docker build --network none` with those as build arguments.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path

import yaml
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
WHEELHOUSE = Path("build/image/wheels")
REQUIREMENTS = "requirements.txt"
PYTHON_VERSION = "3.11"  # the base image's Python (python:3.11-slim-bookworm, Debian bookworm)
GLIBC_MINOR = 36  # bookworm's glibc 2.36: the newest manylinux tag the base can load
DEFAULT_TAG = "mlops-template:latest"
DOWNLOAD_TIMEOUT_S = 900
BUILD_TIMEOUT_S = 1800


class ImageBuildError(RuntimeError):
    """A step of the image build failed: the message names the step and what it printed."""


def _run(command: Sequence[str], what: str, timeout: float, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except FileNotFoundError as error:
        raise ImageBuildError(f"{what}: {command[0]} not found") from error
    except subprocess.TimeoutExpired as error:
        raise ImageBuildError(f"{what}: no result within {timeout:.0f} s") from error
    if done.returncode != 0:
        raise ImageBuildError(f"{what} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def uv_command() -> str:
    """The uv the Makefile bootstraps into .tools/, else one on PATH."""
    for candidate in (os.environ.get("UV"), str(REPO / ".tools/bin/uv"), shutil.which("uv")):
        if candidate and Path(candidate).exists():
            return candidate
    raise ImageBuildError("uv not found: run `make install` first")


def pip_command() -> list[str]:
    """A pip to download with: the project venv has none (uv manages it); the Makefile's .tools/ venv
    (made with `python3 -m venv` to install uv) has one, and so may the python3 on PATH outside make."""
    candidates = (sys.executable, str(REPO / ".tools/bin/python"), shutil.which("python3"))
    for python in (c for c in candidates if c and Path(c).is_file()):
        if subprocess.run([python, "-m", "pip", "--version"], capture_output=True, check=False).returncode == 0:
            return [python, "-m", "pip"]
    tried = ", ".join(c for c in candidates if c)
    raise ImageBuildError(f"no python with pip found to download the wheels (tried {tried}): run `make install`")


def platform_tags(machine: str | None = None) -> list[str]:
    """Every manylinux tag a glibc-2.36 Linux loads, old aliases included, for `pip download --platform`."""
    arch = machine or platform.machine()
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(GLIBC_MINOR, 16, -1)]
    aliases = {"x86_64": ("manylinux2014", "manylinux2010", "manylinux1"), "aarch64": ("manylinux2014",)}
    return tags + [f"{alias}_{arch}" for alias in aliases.get(arch, ())]


def target_environment(machine: str | None = None) -> dict[str, str]:
    """The marker environment of the image's Python, to select requirements for it, not for this host."""
    return {
        "python_version": PYTHON_VERSION,
        "python_full_version": f"{PYTHON_VERSION}.2",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "os_name": "posix",
        "platform_system": "Linux",
        "platform_machine": machine or platform.machine(),
    }


def pins_for_image(exported: str, machine: str | None = None) -> list[str]:
    """The `name==version` lines of an exported lock whose markers hold in the image (markers dropped)."""
    environment = target_environment(machine)
    pins = []
    for line in exported.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", "-")):
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            requirement.marker = None
            pins.append(str(requirement))
    return sorted(pins)


def wheel_cache() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "mlops-template" / "wheels"


def download_wheels(pins: list[str]) -> Path:
    """The wheels of `pins` for the image, downloaded once per machine into a cache keyed by their inputs."""
    key_inputs = {"pins": pins, "python": PYTHON_VERSION, "platforms": platform_tags()}
    key = hashlib.sha256(json.dumps(key_inputs, sort_keys=True).encode()).hexdigest()[:16]
    cached = wheel_cache() / key
    if cached.is_dir():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=cached.parent))
    try:
        (partial / REQUIREMENTS).write_text("\n".join(pins) + "\n", encoding="utf-8")
        platforms = [arg for tag in platform_tags() for arg in ("--platform", tag)]
        _run(
            [*pip_command(), "download", "--quiet", "--no-deps", "--only-binary=:all:", "--implementation", "cp",
             "--python-version", PYTHON_VERSION, *platforms, "--dest", str(partial),
             "--requirement", str(partial / REQUIREMENTS)],
            "pip download of the serve wheels",
            timeout=DOWNLOAD_TIMEOUT_S,
        )  # fmt: skip
        (partial / REQUIREMENTS).unlink()
        partial.rename(cached)
        for stale in cached.parent.iterdir():  # wheelhouses of earlier locks: never used again
            if stale != cached and re.fullmatch(r"[0-9a-f]{16}", stale.name):  # not another run's partial
                shutil.rmtree(stale, ignore_errors=True)
    except OSError:
        if not cached.is_dir():  # not a concurrent run that finished first
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return cached


def build_project_wheel(target: Path) -> None:
    """The project's wheel from the working tree; offline when uv's cache has the build backend."""
    command = [uv_command(), "build", "--wheel", "--out-dir", str(target), str(REPO)]
    try:
        _run([*command, "--offline"], "uv build of the project wheel (offline)", timeout=300)
    except ImageBuildError:
        _run(command, "uv build of the project wheel", timeout=300)


def build_wheelhouse(target: Path) -> Path:
    """Fill `target` (emptied first) with the project wheel, the serve closure's wheels and requirements.txt."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    exported = _run(
        [uv_command(), "export", "--project", str(REPO), "--frozen", "--extra", "serve", "--no-dev",
         "--no-emit-project", "--no-hashes", "--no-header", "--no-annotate", "--format", "requirements-txt"],
        "uv export of the serve closure",
        timeout=120,
    )  # fmt: skip
    pins = pins_for_image(exported)
    for wheel in download_wheels(pins).glob("*.whl"):
        try:
            os.link(wheel, target / wheel.name)  # same file system: no copy
        except OSError:
            shutil.copy2(wheel, target / wheel.name)
    (target / REQUIREMENTS).write_text("\n".join(pins) + "\n", encoding="utf-8")
    build_project_wheel(target)
    return target


def _git(*args: str) -> str | None:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def source_url() -> str:
    """The origin remote as an https URL (what org.opencontainers.image.source expects), else empty."""
    remote = _git("remote", "get-url", "origin") or ""
    if match := re.fullmatch(r"git@([^:]+):(.+?)(?:\.git)?", remote):
        return f"https://{match[1]}/{match[2]}"
    return remote.removesuffix(".git") if remote.startswith("https://") else ""


def data_version(card: Path | None) -> str:
    """The md5 DVC recorded for data/: the model card's (the data the model was evaluated on) when there
    is a card, else the one in data.dvc; "unknown" when neither says."""
    if card is not None and card.is_file():
        md5 = json.loads(card.read_text(encoding="utf-8")).get("data", {}).get("version", {}).get("md5")
        return str(md5 or "unknown")
    data_dvc = REPO / "data.dvc"
    if data_dvc.is_file():
        outs = yaml.safe_load(data_dvc.read_text(encoding="utf-8")).get("outs") or [{}]
        return str(outs[0].get("md5") or "unknown")
    return "unknown"


def build_args(model_dir: Path, card: Path | None) -> dict[str, str]:
    """The Dockerfile's label arguments. Raises ImageBuildError if model_dir holds no served.json."""
    served = model_dir / "served.json"
    if not served.is_file():
        raise ImageBuildError(f"model_dir {model_dir}: no served.json (run `dvc repro export` first)")
    metadata = json.loads(served.read_text(encoding="utf-8"))
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    revision = _git("rev-parse", "HEAD") or "unknown"
    if revision != "unknown" and _git("status", "--porcelain", "--untracked-files=no"):
        revision += "-dirty"
    return {
        "SOURCE": source_url(),
        "REVISION": revision,
        "CREATED": _git("show", "--no-patch", "--format=%cI", "HEAD") or "1970-01-01T00:00:00Z",
        "VERSION": str(project["version"]),
        "MODEL_VERSION": str(metadata.get("version", "unknown")),
        "DATA_VERSION": data_version(card),
    }


def build_command(
    docker: Sequence[str],
    *,
    context: Path,
    tag: str,
    model_dir: str,
    card_dir: str,
    labels: dict[str, str],
    base_image: str | None,
) -> list[str]:
    """`docker build` with no network: everything it installs is already in the context."""
    args = {**labels, "MODEL_DIR": model_dir, "MODEL_CARD_DIR": card_dir}
    if base_image:
        args["BASE_IMAGE"] = base_image
    return [
        *docker, "build", "--network", "none", "--file", str(context / "Dockerfile"), "--tag", tag,
        *(arg for key, value in args.items() for arg in ("--build-arg", f"{key}={value}")),
        str(context),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tag", default=DEFAULT_TAG)
    parser.add_argument("--model-dir", default="models/served", help="the exported artifact, inside the repo")
    parser.add_argument("--card", default="reports/model_card.json", help="the model card (copied if present)")
    parser.add_argument("--base-image", default=None, help="overrides the Dockerfile's BASE_IMAGE")
    parser.add_argument("--wheels-only", action="store_true", help="prepare the wheelhouse, do not build")
    args = parser.parse_args(argv)
    try:
        build_wheelhouse(REPO / WHEELHOUSE)
        if args.wheels_only:
            return 0
        card = Path(args.card)
        labels = build_args(REPO / args.model_dir, REPO / card)
        command = build_command(
            ["docker"],
            context=REPO,
            tag=args.tag,
            model_dir=args.model_dir,
            card_dir=str(card.parent),
            labels=labels,
            base_image=args.base_image,
        )
    except ImageBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    # docker prints its own progress and errors: its exit code is ours.
    return subprocess.run(command, cwd=REPO, timeout=BUILD_TIMEOUT_S, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
