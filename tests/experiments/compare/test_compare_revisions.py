"""REFs that are git revisions and DVC experiments: their models/served from the DVC cache, offline.

A fresh copy of the project with small data: `main` reproduces the pipeline up to export and commits
dvc.lock; `dvc exp run` makes an experiment with another learning rate. `compare main <experiment>
baseline` scores both artifacts (checked out of the cache by dvc.lock's hashes, no worktree, no pull)
on the working copy's test rows. The first commit's dvc.lock names a model this copy's cache never
held: one error line says so.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.params import small_params_dict, write_params
from tests.support.workspace import GIT_IDENTITY, copy_project, run_offline

pytestmark = pytest.mark.dvc

EXPERIMENT = "faster"


def _run(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_offline(cwd, *args, check=check, OMP_NUM_THREADS="1")


def test_revisions_and_experiments_from_the_dvc_cache(tmp_path: Path) -> None:
    repo = copy_project(tmp_path / "repo")
    for option in GIT_IDENTITY[1::2]:  # DVC commits the experiment: the copy needs a committer
        _run(repo, "git", "config", *option.split("=", 1))
    _run(repo, "git", "branch", "-M", "main")
    raw = small_params_dict()
    raw["gate"]["resamples"] = 200
    write_params(repo / "params.yaml", raw)
    _run(repo, "mlops-template", "data", "generate", "--weeks", "5")
    _run(repo, "dvc", "add", "-q", "data")
    _run(repo, "dvc", "repro", "-q", "export")
    _run(repo, "git", "add", "-A")
    _run(repo, "git", "commit", "-qm", "small data, model exported")
    main_version = json.loads((repo / "models/served/served.json").read_text(encoding="utf-8"))["version"]
    _run(repo, "dvc", "exp", "run", "-q", "-n", EXPERIMENT, "-S", "train.model.learning_rate=0.3", "export")
    experiment_version = json.loads((repo / "models/served/served.json").read_text(encoding="utf-8"))["version"]
    assert experiment_version != main_version

    compare = ["mlops-template", "compare", "main", EXPERIMENT, "baseline", "--out", "build/compare"]
    found = _run(repo, *compare)
    board = json.loads((repo / "build/compare/compare.json").read_text(encoding="utf-8"))
    assert [(m["ref"], m["kind"], m["version"]) for m in board["models"]] == [
        ("main", "git revision", main_version),
        (EXPERIMENT, "DVC experiment", experiment_version),
        ("baseline", "baseline", board["models"][2]["version"]),
    ]
    assert board["models"][0]["source"].endswith("models/served from the DVC cache")
    assert f"  {EXPERIMENT}: average_precision" in found.stdout
    assert "http" not in (repo / "build/compare/compare.html").read_text(encoding="utf-8")
    first = (repo / "build/compare/compare.json").read_bytes()
    _run(repo, *compare)
    assert (repo / "build/compare/compare.json").read_bytes() == first  # the same bytes again
    worktrees = _run(repo, "git", "worktree", "list", "--porcelain").stdout
    assert worktrees.count("worktree ") == 1  # no worktree was needed

    # The copy's first commit records the source repository's model, which this cache never held.
    missing = _run(repo, "mlops-template", "compare", "main~1", "--out", "build/missing", check=False)
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: compare: REF 'main~1': models/served of commit ")
    assert "is not in the DVC cache" in missing.stderr
    assert missing.stderr.count("\n") == 1
    assert not (repo / "build/missing").exists()
