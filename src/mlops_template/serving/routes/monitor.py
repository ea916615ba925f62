"""GET /v1/monitor: the monitor's last report, when the API is told where it is (MLOPS_MONITOR_REPORT)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from mlops_template.serving import monitor_summary
from mlops_template.serving.routes._http import json_response
from mlops_template.serving.state import serving_state

router = APIRouter(prefix="/v1", tags=["model"])

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
    loaded = monitor_summary.load(setting)
    if loaded.summary is None or loaded.modified is None:
        return {"present": False, "detail": loaded.detail}
    report = {key: loaded.summary.get(key) for key in KEPT}
    report["detectors"] = [
        {key: found.get(key) for key in DETECTOR_KEPT} for found in monitor_summary.findings(loaded.summary)
    ]
    modified = datetime.fromtimestamp(loaded.modified, UTC).isoformat(timespec="seconds")
    return {"present": True, "detail": loaded.detail, "modified_at": modified, "report": report}


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
