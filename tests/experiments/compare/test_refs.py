"""What a REF names, on small git repositories (no DVC run): the reasons a revision has no model to score."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlops_template.experiments.compare import refs
from tests.support.workspace import GIT_IDENTITY

LOCK = "schema: '2.0'\nstages:\n  export:\n    outs:\n    - path: models/served\n      hash: md5\n      md5: {md5}\n"


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *GIT_IDENTITY, *args], cwd=root, check=True, capture_output=True)


def _repo(root: Path, lock: str | None) -> Path:
    root.mkdir()
    _git(root, "init", "-q")
    (root / "README").write_text("a project\n", encoding="utf-8")
    if lock is not None:
        (root / "dvc.lock").write_text(lock, encoding="utf-8")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "one")
    return root


def test_the_baseline_and_an_unknown_ref(tmp_path: Path) -> None:
    root = _repo(tmp_path / "repo", None)
    found = refs.resolve("baseline", root, tmp_path / "t")
    assert (found.kind, found.directory) == ("baseline", None)
    with pytest.raises(
        refs.RefError, match=r"^REF 'nope': not `baseline`, a models:/ URI, a directory, a git revision"
    ):
        refs.resolve("nope", root, tmp_path / "t")
    with pytest.raises(refs.RefError, match=r"^REF '--help': not `baseline`"):
        refs.resolve("--help", root, tmp_path / "t")  # never an option to git


def test_a_revision_without_an_exported_model(tmp_path: Path) -> None:
    root = _repo(tmp_path / "repo", "schema: '2.0'\nstages: {}\n")
    with pytest.raises(refs.RefError, match=r"^REF 'HEAD': commit \w{12} has no models/served in its dvc.lock"):
        refs.resolve("HEAD", root, tmp_path / "t")


def test_a_revision_outside_a_dvc_project(tmp_path: Path) -> None:
    root = _repo(tmp_path / "repo", LOCK.format(md5="0123456789abcdef0123456789abcdef.dir"))
    with pytest.raises(refs.RefError, match=r"^REF 'HEAD': .* is no DVC project"):
        refs.resolve("HEAD", root, tmp_path / "t")


def test_a_revision_whose_model_is_not_in_the_cache(tmp_path: Path) -> None:
    root = _repo(tmp_path / "repo", LOCK.format(md5="0123456789abcdef0123456789abcdef.dir"))
    (root / ".dvc").mkdir()
    (root / ".dvc/config").write_text("", encoding="utf-8")
    with pytest.raises(refs.RefError, match=r"md5 0123456789abcdef0123456789abcdef.dir\) is not in the DVC cache"):
        refs.resolve("HEAD", root, tmp_path / "t")


def test_an_experiment_name_is_the_last_part_of_its_ref(tmp_path: Path) -> None:
    root = _repo(tmp_path / "repo", "schema: '2.0'\nstages: {}\n")
    _git(root, "update-ref", "refs/exps/ab/cdef/lr-0.1", "HEAD")
    with pytest.raises(refs.RefError, match=r"^REF 'lr-0.1': commit \w{12} has no models/served"):
        refs.resolve("lr-0.1", root, tmp_path / "t")  # found as an experiment, then judged by its dvc.lock
