"""A Debian base image for the container, made with debootstrap where registry pulls are not possible.

`python:3.11-slim` (the Dockerfile's default BASE_IMAGE) comes from a registry. Where none is reachable,
debootstrap builds an equivalent root file system from Debian's package mirror (the same place apt
installs from): Debian bookworm's Python 3.11 with venv, no compiler, no apt lists. The tarball is cached
outside the repository, keyed by a hash of everything that shapes it (suite, mirror, packages, this file),
so it is built once per machine and rebuilt when any input changes.

    python scripts/debian_base.py            # build (or find) the tarball, print its path
    python scripts/debian_base.py --import   # also `docker import` it, print the image name
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

SUITE = "bookworm"  # Python 3.11, the version the wheelhouse is downloaded for
VARIANT = "minbase"  # essential packages and apt only
# python3-venv brings ensurepip, so the builder stage can make a venv with pip; passwd has useradd.
PACKAGES = ("python3", "python3-venv", "passwd")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
IMAGE_NAME = "mlops-template-base"
# Bounds, so a hung mirror fails the build instead of hanging it.
DEBOOTSTRAP_TIMEOUT_S = 1200
IMPORT_TIMEOUT_S = 600
# Files a runtime image never needs: package caches and lists, documentation, translations.
PRUNED = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale")


class BaseImageError(RuntimeError):
    """The base image could not be built: a missing tool, a failed debootstrap, a leftover mount."""


def cache_dir() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "mlops-template" / "debian-base"


def mirror() -> str:
    return os.environ.get("MLOPS_DEBIAN_MIRROR", DEFAULT_MIRROR)


def architecture() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def cache_key() -> str:
    """A hash of every input of the tarball: change one and a new tarball is built."""
    inputs = {
        "suite": SUITE,
        "variant": VARIANT,
        "packages": sorted(PACKAGES),
        "mirror": mirror(),
        "arch": architecture(),
        "pruned": sorted(PRUNED),
        "script": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def image_name() -> str:
    return f"{IMAGE_NAME}:{SUITE}-{cache_key()}"


def mounts_under(root: Path) -> list[Path]:
    """Mount points at or below `root`, deepest first (debootstrap mounts /proc and /sys in the target)."""
    resolved = root.resolve()
    found = []
    for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines():
        point = Path(line.split()[4].replace("\\040", " "))
        if point == resolved or resolved in point.parents:
            found.append(point)
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def release_mounts(root: Path) -> None:
    """Unmount whatever a failed debootstrap left mounted, and refuse to go on if anything remains:
    deleting the tree through a bind mount would delete the host's files."""
    for point in mounts_under(root):
        subprocess.run(["umount", "--lazy", str(point)], check=False, capture_output=True)
    if left := mounts_under(root):
        raise BaseImageError(f"mounts left under {root}: {', '.join(map(str, left))}; unmount them by hand")


def build_tarball(target: Path) -> None:
    debootstrap = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
    )
    if debootstrap is None:
        raise BaseImageError("debootstrap is not installed: run `sudo scripts/system-deps.sh` (Debian's debootstrap)")
    if os.geteuid() != 0:
        raise BaseImageError("debootstrap needs root (it chroots into the new tree)")
    work = Path(tempfile.mkdtemp(prefix="debootstrap-", dir=target.parent))
    root = work / "rootfs"
    try:
        command = [
            debootstrap,
            f"--variant={VARIANT}",
            f"--arch={architecture()}",
            f"--include={','.join(PACKAGES)}",
            SUITE,
            str(root),
            mirror(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=DEBOOTSTRAP_TIMEOUT_S, check=False)
        if done.returncode != 0:
            log = root / "debootstrap" / "debootstrap.log"
            detail = log.read_text(encoding="utf-8", errors="replace")[-3000:] if log.exists() else done.stderr[-3000:]
            raise BaseImageError(f"debootstrap {SUITE} from {mirror()} failed ({done.returncode}):\n{detail}")
        release_mounts(root)
        for relative in PRUNED:
            for child in (root / relative).glob("*"):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        partial = work / "rootfs.tar"
        # Sorted names, numeric owners and fixed times: the same tree gives the same tarball.
        subprocess.run(
            ["tar", "--numeric-owner", "--sort=name", "--mtime=@0", "-C", str(root), "-cf", str(partial), "."],
            check=True,
            capture_output=True,
            timeout=IMPORT_TIMEOUT_S,
        )
        partial.replace(target)
    finally:
        release_mounts(root)
        shutil.rmtree(work, ignore_errors=True)


def base_tarball() -> Path:
    """The cached root file system tarball, built first if this machine has none for these inputs."""
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{SUITE}-{cache_key()}.tar"
    if not target.exists():
        started = time.monotonic()
        build_tarball(target)
        print(f"debian base: built {target} in {time.monotonic() - started:.0f} s", file=sys.stderr)
        for stale in directory.glob(f"{SUITE}-*.tar"):  # tarballs of earlier inputs: never used again
            if stale != target:
                stale.unlink(missing_ok=True)
    return target


def import_image(docker: Sequence[str], tarball: Path, env: dict[str, str] | None = None) -> str:
    """`docker import` the tarball as a local image (no registry involved); return its name."""
    name = image_name()
    changes = ["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "ENV LANG=C.UTF-8"]
    command = [*docker, "import", *(arg for change in changes for arg in ("--change", change)), str(tarball), name]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=IMPORT_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise BaseImageError(f"docker import {tarball} failed ({done.returncode}): {done.stderr.strip()}")
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--import", dest="do_import", action="store_true", help="docker import it, print the name")
    args = parser.parse_args(argv)
    try:
        tarball = base_tarball()
        print(import_image(["docker"], tarball) if args.do_import else tarball)
    except BaseImageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
