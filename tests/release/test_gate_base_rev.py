"""`mlops-template gate --base-rev`: the champion from the base commit, from the DVC cache or rebuilt.

A fresh clone; the base branch trains a model; a branch commits a params change and trains the
candidate. The gate must find the base model in the DVC cache, and, with the cache gone, rebuild the
very same model from the base commit in a temporary worktree (the pipeline is deterministic).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.workspace import GIT_IDENTITY, copy_project, run_offline

pytestmark = pytest.mark.dvc


def _run(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_offline(cwd, *args, check=check, MLOPS_TEMPLATE_LOG_LEVEL="INFO")


def _commit_params(repo: Path, message: str, **model: object) -> None:
    raw = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))
    raw["train"]["model"].update(model)
    (repo / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    _run(repo, "git", *GIT_IDENTITY, "commit", "-qam", message)


def _served_version(served: Path) -> str:
    return str(json.loads((served / "served.json").read_text(encoding="utf-8"))["version"])


def test_the_champion_comes_from_the_base_commit(tmp_path: Path) -> None:
    repo = copy_project(tmp_path / "repo")
    _run(repo, "git", "branch", "-M", "main")
    _commit_params(repo, "base: a smaller model for a faster test", max_iter=30)
    _run(repo, "dvc", "pull", "-q", "data.dvc")
    _run(repo, "dvc", "repro", "-q", "export")
    _run(repo, "git", *GIT_IDENTITY, "commit", "-qam", "base: dvc.lock of the smaller model")
    base_version = _served_version(repo / "models/served")
    _run(repo, "git", "switch", "-qc", "change")
    _commit_params(repo, "change: a faster learning rate", max_iter=30, learning_rate=0.2)
    _run(repo, "dvc", "repro", "-q", "export")
    candidate_version = _served_version(repo / "models/served")
    assert candidate_version != base_version

    status = _run(repo, "git", "status", "--porcelain").stdout

    gate = ["mlops-template", "gate", "--base-rev", "main", "--out", "reports/gate.json"]
    cached = _run(repo, *gate, check=False)
    assert cached.returncode in {0, 1}, cached.stderr
    assert "from the DVC cache" in cached.stderr
    evidence = json.loads((repo / "reports/gate.json").read_text(encoding="utf-8"))
    assert evidence["champion"]["version"] == base_version
    assert evidence["candidate"]["version"] == candidate_version
    assert cached.stdout == f"gate: {evidence['decision']}: {evidence['reason']}\n"
    first_bytes = (repo / "reports/gate.json").read_bytes()

    # The team remote, as CI sets it (this checkout's .dvc/config.local): the base model comes from it.
    team = tmp_path / "team-remote"
    _run(repo, "dvc", "remote", "add", "--local", "--default", "team", str(team))
    _run(repo, "dvc", "push", "-q", "--all-branches")  # main's model too
    shutil.rmtree(repo / ".dvc/cache")
    pulled = _run(repo, *gate, check=False)
    assert "from the DVC remote" in pulled.stderr
    assert (repo / "reports/gate.json").read_bytes() == first_bytes

    _run(repo, "dvc", "remote", "remove", "--local", "team")
    shutil.rmtree(repo / ".dvc/cache")  # no cache and no default remote: the base commit is rebuilt
    rebuilt = _run(repo, *gate, check=False)
    assert rebuilt.returncode == cached.returncode, rebuilt.stderr
    assert "reproduction of the base commit's pipeline" in rebuilt.stderr
    assert (repo / "reports/gate.json").read_bytes() == first_bytes  # the same model, the same evidence

    worktrees = _run(repo, "git", "worktree", "list", "--porcelain").stdout
    assert worktrees.count("worktree ") == 1, worktrees  # the temporary worktree is gone
    assert _run(repo, "git", "status", "--porcelain").stdout == status + "?? reports/gate.json\n"

    # A base commit without a model (no models/served in its dvc.lock) has no champion.
    _run(repo, "git", "rm", "-qf", "dvc.lock")
    _run(repo, "git", *GIT_IDENTITY, "commit", "-qm", "no lock")
    _run(repo, "git", "switch", "-qc", "after", "HEAD~1")
    first = _run(repo, "mlops-template", "gate", "--base-rev", "change", "--out", "reports/first.json", check=False)
    assert first.stdout.startswith("gate: pass: first model"), first.stdout + first.stderr
