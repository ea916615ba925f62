"""deploy/ as the deploy tests read it: its paths, the Grafana dashboard's queries, and the real
tools that check it (a missing tool skips its test locally and fails it when CI=true)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlops_template.serving.prometheus import ServingMetrics
from tests.support.workspace import REPO, VENV_BIN

DEPLOY = REPO / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "mlops-api.json"

Obj = dict[str, Any]

# A monitor summary as `mlops-template monitor` writes it (the fields the API's gauges read): one banded
# finding that breached, one with a one-sided band, one judged without reference weeks.
MONITOR_SUMMARY: Obj = {
    "status": "breach",
    "reason": "breach: input_drift: amount",
    "detectors": [
        {
            "kind": "input_drift",
            "detector": "psi:amount",
            "status": "breach",
            "details": {"band": {"low": 0.01, "high": 0.08, "weeks": 6}, "value": 0.31},
        },
        {
            "kind": "data_quality",
            "detector": "missing:merchant",
            "status": "ok",
            "details": {"band": {"low": None, "high": 0.02, "weeks": 6}, "value": 0.004},
        },
        {
            "kind": "performance",
            "detector": "recall_at_threshold",
            "status": "ok",
            "details": {"band": None, "band_note": "fewer than 4 reference weeks", "value": 0.7},
        },
    ],
}


def write_monitor_summary(directory: Path) -> Path:
    """MONITOR_SUMMARY as summary.json in `directory` (what MLOPS_MONITOR_REPORT may name)."""
    path = directory / "summary.json"
    path.write_text(json.dumps(MONITOR_SUMMARY), encoding="utf-8")
    return path


def require_tool(name: str, how: str) -> str:
    """The tool's path; else skip with the reason, or fail when CI=true (CI must run every check)."""
    found = shutil.which(name, path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if found:
        return found
    message = f"`{name}` is not installed: {how}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, **kwargs)


def promtool() -> str:
    return require_tool("promtool", "run `sudo scripts/system-deps.sh` (Debian's prometheus package)")


# Grafana's built-in interval variables, replaced by a duration so promtool can parse the query.
GRAFANA_INTERVALS = ("$__rate_interval", "$__interval", "$__range")


def dashboard() -> Obj:
    loaded: Obj = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def dashboard_queries(board: Obj) -> list[tuple[str, str]]:
    """(panel title and refId, PromQL with every variable replaced by its current value)."""
    variables = {var["name"]: str(var["current"]["value"]) for var in board.get("templating", {}).get("list", [])}
    queries = []
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            expr = str(target["expr"])
            for name in GRAFANA_INTERVALS:
                expr = expr.replace(name, "5m")
            for name, value in variables.items():
                expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
            queries.append((f"{panel['title']} [{target['refId']}]", expr))
    return queries


# Queries of series the rules make (recorded `level:metric:operation` names, ALERTS): checked against
# deploy/prometheus/rules/ by tests/deploy/test_alerts.py.
RULE_SERIES = re.compile(r"(?<![\w:])(?:[a-z_]+:[\w:]+|ALERTS)\b")


def exposed_series(scratch: Path) -> dict[str, frozenset[str]]:
    """Sample name -> label names, as the API's own metrics module renders them for a scrape.

    prometheus-client picks in-memory or file-backed values once, at import, from
    PROMETHEUS_MULTIPROC_DIR (and keeps the first directory's files open): keep its mode, and point it
    at `scratch` so nothing is written outside the test.
    """
    with pytest.MonkeyPatch.context() as patch:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            patch.setenv("PROMETHEUS_MULTIPROC_DIR", str(scratch))
        metrics = ServingMetrics(write_monitor_summary(scratch))
        for status in (200, 401, 503):
            metrics.observe_request("/v1/predict", "POST", status, 0.001)
        metrics.observe_predictions(["fraud", "legit"], [0.9, 0.1])
        metrics.model_loaded("0123456789ab", None)
        metrics.model_refused(ready=True)
        body, _ = metrics.render()
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(body.decode("utf-8")):
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return {name: frozenset(labels) for name, labels in found.items()}
