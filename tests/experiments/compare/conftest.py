"""Fixtures of the comparison tests: a small project with a served model, and a second model beside it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


@pytest.fixture
def compare_project(served_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding the small project's splits (artifacts/ingest) and two served models:
    `models/served` (the trained one) and `models/stricter` (the same graph at a higher threshold)."""
    source = served_dir.parent.parent
    root = tmp_path / "project"
    shutil.copytree(source / "artifacts/ingest", root / "artifacts/ingest")
    shutil.copytree(served_dir, root / "models/served")
    stricter = root / "models/stricter"
    shutil.copytree(served_dir, stricter)
    metadata = json.loads((stricter / "served.json").read_text(encoding="utf-8"))
    metadata["threshold"] = round(min(0.95, metadata["threshold"] * 2 + 0.05), 6)  # served.json is not hashed
    (stricter / "served.json").write_text(json.dumps(metadata), encoding="utf-8")
    monkeypatch.chdir(root)
    return root
