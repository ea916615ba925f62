"""GET /v1/monitor: the monitor's last report, when the API is told where it is (MLOPS_MONITOR_REPORT)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from mlops_template.serving.routes._http import json_response
from mlops_template.serving.state import serving_state

router = APIRouter(prefix="/v1", tags=["model"])

SUMMARY = "summary.json"  # what `mlops-template monitor --out DIR` writes beside report.md and report.html
MAX_REPORT_BYTES = 1 << 20
KEPT = ("status", "reason", "model_version", "window", "alpha", "breaches")
DETECTOR_KEPT = ("detector", "kind", "status", "reason")


class MonitorReport(BaseModel):
    present: bool
    detail: str = Field(description="Where the report was read from, or why there is none.")
    modified_at: str | None = None
    report: dict[str, Any] | None = Field(
        None, description="The summary's status, reason, window, breaches and one line per detector."
    )


def read_report(setting: Path | None) -> dict[str, Any]:
    """The last report's headline, or why there is none (never an error: an absent report is normal)."""
    if setting is None:
        return {"present": False, "detail": "no monitor report configured (MLOPS_MONITOR_REPORT is not set)"}
    path = setting / SUMMARY if setting.is_dir() else setting
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            return {"present": False, "detail": f"{path.name}: over {MAX_REPORT_BYTES} bytes, not read"}
        summary = json.loads(path.read_text(encoding="utf-8"))
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")
    except FileNotFoundError:
        return {"present": False, "detail": f"no monitor report yet ({path.name} is not there)"}
    except (OSError, ValueError) as exc:
        return {"present": False, "detail": f"{path.name}: not readable JSON ({type(exc).__name__})"}
    if not isinstance(summary, dict) or "status" not in summary:
        return {"present": False, "detail": f"{path.name}: not a monitor summary (no status)"}
    report = {key: summary.get(key) for key in KEPT}
    detectors = summary.get("detectors")
    report["detectors"] = [
        {key: found.get(key) for key in DETECTOR_KEPT}
        for found in (detectors if isinstance(detectors, list) else [])
        if isinstance(found, dict)
    ]
    return {"present": True, "detail": f"read from {path.name}", "modified_at": modified, "report": report}


@router.get(
    "/monitor",
    operation_id="monitor",
    summary="The monitor's last report",
    description="The summary `mlops-template monitor` wrote last, from the file or directory that "
    "MLOPS_MONITOR_REPORT names; `present` is false, with the reason, when there is none.",
    response_model=MonitorReport,
)
async def monitor(request: Request) -> Response:
    return json_response(read_report(serving_state(request).settings.monitor_report))
