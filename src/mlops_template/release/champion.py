"""Where the gate's champion comes from, and where the registry aliases go.

The champion for `mlops-template gate --base-rev REV`, first found wins:
1. With `MLFLOW_TRACKING_URI` set and a `champion` alias on the registered model: the `served/`
   artifact logged with the alias's run (what production runs).
2. The base commit's DVC outputs for `models/served` (its dvc.lock), checked out into a temporary
   `git worktree` from this checkout's DVC cache, or pulled from the default remote (this checkout's
   `.dvc/config.local` included: CI sets the team remote there).
3. Else the base commit's pipeline reproduced in that worktree (`dvc repro export`, with the base
   commit's own code on PYTHONPATH): the pipeline is deterministic, so this is the same model.
A base commit whose dvc.lock has no `models/served` output has no champion: the first model.

Aliases (registry `tracking.registered_model`): `challenger` marks a candidate that went through the
gate, `champion` what production runs (moved by `mlops-template promote`, which the deploy workflow
calls), `previous-champion` the one before it, for `mlops-template promote --rollback`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from mlops_template.core.command import params_argument, run_command
from mlops_template.core.config import Params, Settings, find_project_root, load_params
from mlops_template.core.errors import MlopsTemplateError

logger = logging.getLogger(__name__)

SERVED = "models/served"
CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous-champion"


class ChampionError(MlopsTemplateError):
    """The champion cannot be obtained, or an alias cannot be moved."""


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # git and `python -m dvc` with arguments built here; never a shell.
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)  # noqa: S603


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run(["git", *args], root)  # git from PATH, as the user runs it


def _dvc(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "dvc", *args], cwd, env)


def served_in_lock(lock_text: str) -> bool:
    """Whether a dvc.lock lists `models/served` as a stage output (the base commit had a model)."""
    lock: Any = yaml.safe_load(lock_text) or {}
    stages = lock.get("stages", {}) if isinstance(lock, dict) else {}
    return any(out.get("path") == SERVED for stage in stages.values() for out in stage.get("outs", []))


def resolve_commit(root: Path, rev: str) -> str:
    found = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if found.returncode != 0:
        msg = f"--base-rev: {rev!r} is not a commit of the repository at {root} (fetch it: fetch-depth 0)"
        raise ChampionError(msg)
    return found.stdout.strip()


@contextlib.contextmanager
def worktree(root: Path, commit: str, where: Path) -> Iterator[Path]:
    """A detached `git worktree` of `commit` at `where`, removed (and unregistered) afterwards."""
    added = _git(root, "worktree", "add", "--detach", "--force", str(where), commit)
    if added.returncode != 0:
        msg = f"git worktree add {commit}: {added.stderr.strip()}"
        raise ChampionError(msg)
    try:
        yield where
    finally:
        _git(root, "worktree", "remove", "--force", str(where))
        _git(root, "worktree", "prune")


def _checkout_or_reproduce(root: Path, tree: Path) -> str:
    """Put the base commit's models/served into `tree`; returns how it was obtained."""
    local = root / ".dvc" / "config.local"  # this checkout's own remotes (a team default) hold for the base too
    if local.is_file():
        shutil.copyfile(local, tree / ".dvc" / "config.local")
    cache = _dvc(root, "cache", "dir").stdout.strip() or str(root / ".dvc" / "cache")
    _dvc(tree, "config", "--local", "cache.dir", cache)
    checkout = _dvc(tree, "checkout", SERVED)
    if checkout.returncode == 0:
        return "the DVC cache"
    logger.debug("dvc checkout %s: %s", SERVED, checkout.stderr.strip())
    pull = _dvc(tree, "pull", SERVED)
    if pull.returncode == 0:
        return "the DVC remote"
    logger.debug("dvc pull %s: %s", SERVED, pull.stderr.strip())
    logger.info("the base commit's model is in no cache or remote: reproducing its pipeline (deterministic)")
    # The base commit's own code, not this checkout's, must train the base model.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tree / "src"), os.environ.get("PYTHONPATH")]))}
    _dvc(tree, "pull", "data.dvc", env=env)
    built = _dvc(tree, "repro", "export", env=env)
    if built.returncode != 0:
        tail = " | ".join(built.stderr.strip().splitlines()[-3:])
        msg = f"--base-rev: reproducing the base commit's pipeline failed: {tail}"
        raise ChampionError(msg)
    return "a reproduction of the base commit's pipeline"


def from_registry(params: Params, settings: Settings, root: Path, target: Path) -> Path | None:
    """The `champion` alias's served artifact, fetched into `target` (new); None without that alias."""
    from mlops_template.model.tracking import TrackingError, download_served  # noqa: PLC0415 - loads MLflow

    uri = f"models:/{params.tracking.registered_model}@{CHAMPION}"
    try:
        found = download_served(uri, target, root=root, settings=settings)
    except TrackingError:
        logger.info("no %r alias on %r in the registry", CHAMPION, params.tracking.registered_model)
        return None
    logger.info("champion: %s (the registry's alias)", uri)
    return found


@contextlib.contextmanager
def obtain(rev: str, scratch: Path, params: Params, root: Path | None = None) -> Iterator[Path | None]:
    """The champion's served directory for `--base-rev REV` (None: no model at the base commit)."""
    root = root or find_project_root()
    settings = Settings()
    if settings.mlflow_tracking_uri:
        found = from_registry(params, settings, root, scratch / "registry")
        if found is not None:
            yield found
            return
    commit = resolve_commit(root, rev)
    lock = _git(root, "show", f"{commit}:dvc.lock")
    if lock.returncode != 0 or not served_in_lock(lock.stdout):
        logger.info("the base commit %s has no %s in dvc.lock: no champion (first model)", commit[:12], SERVED)
        yield None
        return
    with worktree(root, commit, scratch / "base") as tree:
        how = _checkout_or_reproduce(root, tree)
        served = tree / SERVED
        if not (served / "served.json").is_file():
            msg = f"--base-rev: {commit[:12]} produced no {SERVED}/served.json"
            raise ChampionError(msg)
        logger.info("champion: %s at %s, from %s", SERVED, commit[:12], how)
        yield served


# --- registry aliases ------------------------------------------------------------------------------------


def _client(settings: Settings, root: Path) -> Any:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    from mlflow import MlflowClient  # noqa: PLC0415 - heavy, and only the registry needs it

    uri = settings.tracking_uri(root)
    return MlflowClient(tracking_uri=uri, registry_uri=settings.mlflow_registry_uri or uri)


def find_version(client: Any, registered_model: str, served_version: str) -> str:
    """The registered version whose logged served artifact has `served_version` (newest first)."""
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    from mlops_template.core import io  # noqa: PLC0415
    from mlops_template.model.tracking import SERVED_ARTIFACT_PATH  # noqa: PLC0415

    versions = client.search_model_versions(f"name='{registered_model}'", order_by=["version_number DESC"])
    with tempfile.TemporaryDirectory(prefix="mlops-served-") as scratch:
        for number, candidate in enumerate(versions):
            where = Path(scratch) / str(number)
            where.mkdir()
            try:
                path = client.download_artifacts(candidate.run_id, f"{SERVED_ARTIFACT_PATH}/served.json", str(where))
            except (MlflowException, OSError):
                logger.debug("version %s has no served artifact: skipped", candidate.version)
                continue
            if io.read_json(Path(path)).get("version") == served_version:
                return str(candidate.version)
    msg = (
        f"registry {registered_model!r}: no version holds served model {served_version} "
        "(run the register stage with tracking.enabled: true)"
    )
    raise ChampionError(msg)


def mark_challenger(params: Params, served_version: str, root: Path | None = None) -> str | None:
    """Alias the candidate's registered version `challenger` (only with a tracking server configured)."""
    settings = Settings()
    if not settings.mlflow_tracking_uri:
        logger.info("MLFLOW_TRACKING_URI is not set: no %r alias to set", CHALLENGER)
        return None
    client = _client(settings, root or find_project_root())
    version = find_version(client, params.tracking.registered_model, served_version)
    client.set_registered_model_alias(params.tracking.registered_model, CHALLENGER, version)
    logger.info("%r -> version %s of %r", CHALLENGER, version, params.tracking.registered_model)
    return version


def _alias(client: Any, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def promote(
    params: Params,
    *,
    served_version: str | None,
    gate: dict[str, Any] | None,
    rollback: bool = False,
    root: Path | None = None,
) -> dict[str, str | None]:
    """Move `champion` to the served model's version (or back, with `rollback`); keep the old one as
    `previous-champion`. Returns {"champion", "previous-champion"} after the move."""
    client = _client(Settings(), root or find_project_root())
    name = params.tracking.registered_model
    current = _alias(client, name, CHAMPION)
    if rollback:
        target = _alias(client, name, PREVIOUS)
        if target is None:
            msg = f"--rollback: registry {name!r} has no {PREVIOUS!r} alias to roll back to"
            raise ChampionError(msg)
    else:
        if served_version is None:
            msg = "promote: a served model (--served) is required unless --rollback"
            raise ChampionError(msg)
        if gate is not None:
            if gate.get("candidate", {}).get("version") != served_version:
                msg = f"--gate: its candidate {gate.get('candidate', {}).get('version')!r} is not {served_version!r}"
                raise ChampionError(msg)
            if gate.get("decision") != "pass":
                msg = f"--gate: decision is {gate.get('decision')!r}, not 'pass' ({gate.get('reason')}): not promoted"
                raise ChampionError(msg)
        target = find_version(client, name, served_version)
    if target == current:
        logger.info("%r already at version %s of %r: nothing to move", CHAMPION, target, name)
    else:
        client.set_registered_model_alias(name, CHAMPION, target)
        if current is not None:
            client.set_registered_model_alias(name, PREVIOUS, current)
    return {CHAMPION: target, PREVIOUS: _alias(client, name, PREVIOUS)}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops-template promote",
        description=f"Move {CHAMPION!r} to the served model's registered version; keep the old one as {PREVIOUS!r}.",
    )
    params_argument(parser)
    parser.add_argument("--served", type=Path, default=Path(SERVED), help="served model directory")
    parser.add_argument("--gate", type=Path, help="refuse unless this gate.json passed this served model")
    parser.add_argument("--rollback", action="store_true", help=f"move {CHAMPION!r} back to {PREVIOUS!r}")
    return parser


def _promote(args: argparse.Namespace) -> None:
    from mlops_template.core import io  # noqa: PLC0415

    version = None
    if not args.rollback:
        metadata = io.require_artifact(args.served / "served.json", "export")
        version = str(io.read_json(metadata)["version"])
    gate = io.read_json(io.require_artifact(args.gate, "gate")) if args.gate else None
    moved = promote(load_params(args.params), served_version=version, gate=gate, rollback=args.rollback)
    sys.stdout.write(f"promote: {CHAMPION} -> version {moved[CHAMPION]}, {PREVIOUS} -> {moved[PREVIOUS]}\n")


def main(argv: list[str] | None = None) -> int:
    """`mlops-template promote`: move the registry's `champion` alias (the deploy workflow calls it)."""
    return run_command("promote", _parser(), argv, _promote)
