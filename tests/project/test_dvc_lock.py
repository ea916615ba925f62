"""The committed dvc.lock matches the committed files it names, so a fresh clone's `dvc repro` is a
no-op and the results in the repository are the results of the code in the repository.

A change to a stage's code, params or contract without `dvc repro` fails here, in the fast tier, in
a second; the slow pipeline test (tests/stages/test_pipeline.py) would catch it only after a full
clone-and-repro. Only deps that git tracks are checked: data and artifacts live in DVC, and their
hashes are the pipeline test's business.
"""

from __future__ import annotations

import hashlib
import subprocess

import pytest
import yaml

from tests.support.imports import PACKAGE
from tests.support.workspace import REPO


def _tracked() -> set[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    return set(listed.stdout.splitlines())


def test_every_tracked_dep_has_the_hash_dvc_lock_records() -> None:
    lock = yaml.safe_load((REPO / "dvc.lock").read_text(encoding="utf-8"))
    tracked = _tracked()
    code = {dep["path"] for entry in lock["stages"].values() for dep in entry.get("deps", [])} & tracked
    if not any(path.startswith(f"src/{PACKAGE}/") for path in code):
        # `make rename` moves the package and rewrites dvc.lock's paths: until the rename is committed
        # and `dvc repro` has run, the lock describes code git does not hold yet.
        pytest.skip(f"dvc.lock names no committed code of src/{PACKAGE}/ (a rename before its commit and repro)")
    stale = []
    checked = 0
    for stage, entry in lock["stages"].items():
        for dep in entry.get("deps", []):
            if dep["path"] not in tracked or "md5" not in dep:
                continue
            checked += 1
            actual = hashlib.md5((REPO / dep["path"]).read_bytes()).hexdigest()  # noqa: S324 - DVC's own hash
            if actual != dep["md5"]:
                stale.append(f"{stage}: {dep['path']}")
    assert checked > 20, "dvc.lock should name the stages' code files"
    assert not stale, "dvc.lock is stale; run `dvc repro` and commit dvc.lock:\n" + "\n".join(stale)
