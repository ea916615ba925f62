"""What a REF of `mlops-template compare` names, and its served artifact in a scratch directory.

A REF is, first match wins:
1. `baseline`: the prior (every row scored at the training split's positive rate); no artifact.
2. `models:/<name>@<alias>` or `models:/<name>/<version>`: a registered version's served artifact,
   from the project's MLflow store (`MLFLOW_TRACKING_URI`, else `mlruns.db`), as `fetch-model` gets it.
3. a directory holding `served.json`: a served artifact as `export` writes it.
4. a git revision (a branch, a tag, a commit, `HEAD~1`): the `models/served` output its dvc.lock
   records, read from the DVC cache (offline: nothing is pulled or reproduced).
5. a DVC experiment's name (a ref under `refs/exps/`): the same, at the experiment's commit.
A REF that is none of these, or whose artifact cannot be had, is one error line naming it and why.
Every artifact is loaded with its hashes checked (`model/artifact.py`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops_template.core.config import Settings
from mlops_template.core.errors import MlopsTemplateError
from mlops_template.model.artifact import METADATA

BASELINE = "baseline"
REGISTRY_PREFIX = "models:/"
SERVED = "models/served"  # the export stage's output, as dvc.yaml names it
EXPERIMENT_REFS = "refs/exps/"


class RefError(MlopsTemplateError):
    """A REF names nothing compare can score, or its artifact cannot be had."""


@dataclass(frozen=True)
class Resolved:
    """One REF: what it is, where its artifact came from (one line), and the artifact's directory."""

    ref: str  # as the user typed it: the scoreboard's name for the model
    kind: str  # baseline | registry | directory | git revision | DVC experiment
    source: str
    directory: Path | None  # None for the baseline


def _fail(ref: str, why: str) -> RefError:
    return RefError(f"REF {ref!r}: {why}")


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # git from PATH, as the user runs it; arguments built here, never a shell.
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)  # noqa: S603, S607


def _commit(root: Path, ref: str) -> str | None:
    if ref.startswith("-"):  # never an option to git
        return None
    found = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    return found.stdout.strip() if found.returncode == 0 else None


def _experiment_commit(root: Path, ref: str) -> str | None:
    """The commit of the DVC experiment named `ref` (its ref's last component), None if there is none."""
    listed = _git(root, "for-each-ref", "--format=%(refname) %(objectname)", EXPERIMENT_REFS)
    pairs = (line.split(" ", 1) for line in listed.stdout.splitlines() if " " in line)
    found = sorted({commit for name, commit in pairs if name.rsplit("/", 1)[-1] == ref})
    if len(found) > 1:
        raise _fail(
            ref, f"names {len(found)} DVC experiments (commits {', '.join(c[:12] for c in found)}): give a commit"
        )
    return found[0] if found else None


def _served_out(lock_text: str) -> dict[str, Any] | None:
    lock: Any = yaml.safe_load(lock_text) or {}
    stages = lock.get("stages", {}) if isinstance(lock, dict) else {}
    for stage in stages.values():
        for out in stage.get("outs", []):
            if out.get("path") == SERVED:
                found: dict[str, Any] = out
                return found
    return None


def cache_dir(root: Path) -> Path | None:
    """The DVC cache's object directory (`<cache>/files/md5`) as this project configures it; None
    when `root` is no DVC project."""
    from dvc.exceptions import DvcException  # type: ignore[import-untyped]  # noqa: PLC0415 - heavy
    from dvc.repo import Repo  # type: ignore[import-untyped]  # noqa: PLC0415 - only a revision needs it

    try:
        with Repo(str(root)) as repo:
            return Path(repo.cache.local.path)
    except DvcException:
        return None


def _from_cache(ref: str, commit: str, root: Path, target: Path) -> str:
    """Copy the commit's `models/served` out of the DVC cache into `target`; the line saying so."""
    lock = _git(root, "show", f"{commit}:dvc.lock")
    out = _served_out(lock.stdout) if lock.returncode == 0 else None
    if out is None:
        raise _fail(ref, f"commit {commit[:12]} has no {SERVED} in its dvc.lock (no model was exported there)")
    digest = str(out.get("md5", ""))
    objects = cache_dir(root)
    if objects is None:
        raise _fail(ref, f"{root} is no DVC project (no .dvc/): a revision's model comes from its DVC cache")

    def cached(md5: str) -> Path:
        return objects / md5[:2] / md5[2:]

    listing = cached(digest)
    if not digest.endswith(".dir") or not listing.is_file():
        raise _fail(
            ref,
            f"{SERVED} of commit {commit[:12]} (md5 {digest}) is not in the DVC cache at {objects.parent.parent}: "
            f"fetch it (`dvc fetch --rev {commit[:12]}`) or reproduce that commit",
        )
    entries = json.loads(listing.read_text(encoding="utf-8"))
    target.mkdir(parents=True)
    for entry in entries:
        source = cached(entry["md5"])
        if not source.is_file():
            raise _fail(ref, f"{SERVED}/{entry['relpath']} of commit {commit[:12]} is missing from the DVC cache")
        shutil.copyfile(source, target / entry["relpath"])
    return f"commit {commit[:12]}, {SERVED} from the DVC cache"


def resolve(ref: str, root: Path, target: Path, settings: Settings | None = None) -> Resolved:
    """The served artifact `ref` names, copied into `target` (new) unless it is a directory already."""
    if ref == BASELINE:
        return Resolved(ref, "baseline", "the prior: every row at the training split's positive rate", None)
    if ref.startswith(REGISTRY_PREFIX):
        from mlops_template.model.tracking import download_served  # noqa: PLC0415 - loads MLflow

        settings = settings or Settings()
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # the command's output stays lines
        try:
            download_served(ref, target, root=root, settings=settings)
        except MlopsTemplateError as exc:
            raise _fail(ref, str(exc)) from None
        return Resolved(ref, "registry", f"the registry at {settings.tracking_uri(root)}", target)
    directory = Path(ref)
    if directory.is_dir():
        if not (directory / METADATA).is_file():
            raise _fail(ref, f"the directory holds no {METADATA} (a served artifact is what `export` writes)")
        return Resolved(ref, "directory", f"the directory {ref}", directory)
    commit = _commit(root, ref)
    if commit is not None:
        return Resolved(ref, "git revision", _from_cache(ref, commit, root, target), target)
    commit = _experiment_commit(root, ref)
    if commit is not None:
        how = _from_cache(ref, commit, root, target)
        return Resolved(ref, "DVC experiment", f"DVC experiment at {how}", target)
    raise _fail(
        ref,
        f"not `{BASELINE}`, a models:/ URI, a directory, a git revision or a DVC experiment of the project at {root}",
    )
