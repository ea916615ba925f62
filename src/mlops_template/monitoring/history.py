"""The reference profile of the model production serves, from git history when it is not the checkout's.

Production does not always serve the model on `main`: after a rollback, or while a newer model waits
for approval, it serves an older one. Judged against the checkout's profile, its rows would belong to
another version and the monitor would see nothing to judge (exit 5, a green run that hides the model
that is live). With `monitor --profile-from-history`, the monitor takes the version that scored the
window's newest row and, when the checkout's profile is not that version's, the profile and the
`monitor:` params committed with it (the newest commit whose profile names that version).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from mlops_template.core.config import MonitorParams, parse_params
from mlops_template.core.errors import ConfigError, MlopsTemplateError
from mlops_template.monitoring import reference_profile


class HistoryError(MlopsTemplateError):
    """The served version's profile cannot be found in git history."""


@dataclass(frozen=True)
class Found:
    commit: str
    profile: reference_profile.Profile
    params: MonitorParams


def served_version(frame: pd.DataFrame) -> str | None:
    """The model version that scored the window's newest row (None: an empty window)."""
    if frame.empty:
        return None
    newest = frame.sort_values("ts", kind="stable").iloc[-1]
    return str(newest["model_version"])


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603, S607


def _in_repository(path: Path) -> tuple[Path, str]:
    """The repository's top level and `path` relative to it."""
    where = path.resolve().parent
    top = _git(where, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        msg = f"--profile {path}: not inside a git repository ({top.stderr.strip()}); --profile-from-history needs one"
        raise HistoryError(msg)
    root = Path(top.stdout.strip())
    return root, _relative(root, path, "--profile")


def _relative(root: Path, path: Path, option: str) -> str:
    """`path` relative to the repository's top level, as `git show REV:PATH` wants it."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        msg = f"{option} {path}: outside the repository {root} (rule: --profile-from-history reads its history)"
        raise HistoryError(msg) from None


def _params_at(root: Path, commit: str, params_path: Path) -> MonitorParams:
    relative = _relative(root, params_path, "--params")
    shown = _git(root, "show", f"{commit}:{relative}")
    if shown.returncode != 0:
        msg = f"{commit[:12]}:{relative}: not in that commit (rule: the profile's params are committed with it)"
        raise HistoryError(msg)
    try:
        return parse_params(yaml.safe_load(shown.stdout), f"{commit[:12]}:{relative}").monitor
    except (yaml.YAMLError, ConfigError) as exc:
        raise HistoryError(str(exc)) from None


def find(version: str, profile_path: Path, params_path: Path) -> Found:
    """The newest commit whose profile at `profile_path` is `version`'s, with its profile and params."""
    root, relative = _in_repository(profile_path)
    listed = _git(root, "log", "--format=%H", "--", relative)
    if listed.returncode != 0:
        msg = f"git log -- {relative}: {listed.stderr.strip()}"
        raise HistoryError(msg)
    commits = listed.stdout.split()
    for commit in commits:
        shown = _git(root, "show", f"{commit}:{relative}")
        try:
            raw = json.loads(shown.stdout) if shown.returncode == 0 else None
        except ValueError:
            continue  # a broken profile in an old commit cannot be the one we look for
        if isinstance(raw, dict) and raw.get("model_version") == version:
            profile = reference_profile.parse(raw, f"{commit[:12]}:{relative}")
            return Found(commit, profile, _params_at(root, commit, params_path))
    shallow = _git(root, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"
    hint = " (a shallow clone: fetch the whole history, e.g. actions/checkout with fetch-depth: 0)" if shallow else ""
    msg = (
        f"model version {version} scored the window's newest rows, but none of the {len(commits)} commit(s) "
        f"of {relative} profiles it{hint} (rule: production serves a model this repository trained)"
    )
    raise HistoryError(msg)
