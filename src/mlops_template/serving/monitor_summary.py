"""The monitor's last summary.json, read with the stdlib, for GET /v1/monitor and the /metrics gauges."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUMMARY = "summary.json"  # what `mlops-template monitor --out DIR` writes beside report.md and report.html
MAX_REPORT_BYTES = 1 << 20


@dataclass(frozen=True)
class Loaded:
    """The summary, or None with why (an absent report is normal, never an error)."""

    summary: dict[str, Any] | None
    detail: str
    modified: float | None = None  # the file's mtime, seconds since the epoch


def summary_path(setting: Path) -> Path:
    return setting / SUMMARY if setting.is_dir() else setting


def load(setting: Path | None) -> Loaded:
    if setting is None:
        return Loaded(None, "no monitor report configured (MLOPS_MONITOR_REPORT is not set)")
    path = summary_path(setting)
    try:
        stat = path.stat()
        if stat.st_size > MAX_REPORT_BYTES:
            return Loaded(None, f"{path.name}: over {MAX_REPORT_BYTES} bytes, not read")
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Loaded(None, f"no monitor report yet ({path.name} is not there)")
    except (OSError, ValueError) as exc:
        return Loaded(None, f"{path.name}: not readable JSON ({type(exc).__name__})")
    if not isinstance(summary, dict) or "status" not in summary:
        return Loaded(None, f"{path.name}: not a monitor summary (no status)")
    return Loaded(summary, f"read from {path.name}", stat.st_mtime)


def findings(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The summary's per-detector findings that are objects (anything else is skipped)."""
    found = summary.get("detectors")
    return [f for f in (found if isinstance(found, list) else []) if isinstance(f, dict)]
