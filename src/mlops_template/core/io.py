"""Atomic writes: a stage that fails never leaves a half-written or replaced output behind."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from mlops_template.core.errors import StageInputError


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; move it over `target` only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        temporary.chmod(0o644)
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)


def _write(target: Path, writer: Callable[[Path], object]) -> Path:
    with atomic_path(target) as temporary:
        writer(temporary)
    return target


def write_text(target: Path, text: str) -> Path:
    return _write(target, lambda p: p.write_text(text, encoding="utf-8"))


def to_json(payload: Any) -> str:
    """Stable JSON: sorted keys, two-space indent, trailing newline (diffs stay small in git)."""
    return json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json(target: Path, payload: Any) -> Path:
    return write_text(target, to_json(payload))


def read_json(source: Path) -> Any:
    return json.loads(source.read_text(encoding="utf-8"))


def require_artifact(path: Path, stage: str) -> Path:
    """`path`, which `stage` writes; a clear error naming the stage to run if it is missing."""
    if not path.is_file():
        msg = f"{path}: not found (run the {stage} stage first: `dvc repro {stage}`)"
        raise StageInputError(msg)
    return path


def read_parquet_artifact(path: Path, columns: Iterable[str], stage: str) -> pd.DataFrame:
    """A table that `stage` writes; a clear error if it is missing or not what that stage writes."""
    frame = pd.read_parquet(require_artifact(path, stage))
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        msg = f"{path}: missing column(s) {missing}; it was not written by this version of {stage}"
        raise StageInputError(msg)
    return frame


def write_parquet(target: Path, frame: pd.DataFrame) -> Path:
    return _write(target, lambda p: frame.to_parquet(p, index=False, engine="pyarrow"))


def write_csv(target: Path, frame: pd.DataFrame) -> Path:
    return _write(target, lambda p: frame.to_csv(p, index=False))


def write_joblib(target: Path, payload: object) -> Path:
    return _write(target, lambda p: joblib.dump(payload, p, compress=3))


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a temporary directory beside `target`; swap it in for `target` only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    previous = target.with_name(f".{target.name}.previous")
    try:
        yield temporary
        temporary.chmod(0o755)
        shutil.rmtree(previous, ignore_errors=True)
        if target.exists():
            target.replace(previous)
        temporary.replace(target)
        shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
