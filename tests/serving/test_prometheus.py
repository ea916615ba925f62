"""/metrics with the monitor's last report: each statistic, its reference band and the breach, or nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from mlops_template.serving.app import create_app
from tests.support.deploy_checks import MONITOR_SUMMARY, write_monitor_summary
from tests.support.serving_settings import MakeSettings

MONITOR_SERIES = (
    "mlops_monitor_value",
    "mlops_monitor_band",
    "mlops_monitor_breach",
    "mlops_monitor_report_timestamp_seconds",
)


def monitor_samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
        if sample.name.startswith("mlops_monitor_")
    }


def test_without_a_report_no_monitor_series_are_exported(client: TestClient) -> None:
    assert monitor_samples(client) == {}


def test_the_reports_statistics_bands_and_breaches_are_exported(make_settings: MakeSettings, tmp_path: Path) -> None:
    path = write_monitor_summary(tmp_path)
    with TestClient(create_app(make_settings(monitor_report=tmp_path))) as client:
        found = monitor_samples(client)
    drift = (("detector", "psi:amount"), ("kind", "input_drift"))
    missing = (("detector", "missing:merchant"), ("kind", "data_quality"))
    recall = (("detector", "recall_at_threshold"), ("kind", "performance"))
    assert found == {
        ("mlops_monitor_report_timestamp_seconds", ()): path.stat().st_mtime,
        ("mlops_monitor_breach", drift): 1.0,
        ("mlops_monitor_breach", missing): 0.0,
        ("mlops_monitor_breach", recall): 0.0,
        ("mlops_monitor_value", drift): 0.31,
        ("mlops_monitor_value", missing): 0.004,
        ("mlops_monitor_band", (*drift, ("side", "low"))): 0.01,
        ("mlops_monitor_band", (*drift, ("side", "high"))): 0.08,
        ("mlops_monitor_band", (*missing, ("side", "high"))): 0.02,  # one-sided: no low
    }  # the finding without reference weeks has no band, so neither value nor band


def test_a_new_report_is_read_at_the_next_scrape_and_a_removed_one_disappears(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    path = write_monitor_summary(tmp_path)
    with TestClient(create_app(make_settings(monitor_report=path))) as client:
        assert (
            monitor_samples(client)[("mlops_monitor_value", (("detector", "psi:amount"), ("kind", "input_drift")))]
            == 0.31
        )
        quiet = {**MONITOR_SUMMARY, "status": "ok", "detectors": [MONITOR_SUMMARY["detectors"][1]]}
        path.write_text(json.dumps(quiet) + "\n", encoding="utf-8")  # another size: seen even within one mtime tick
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
        found = monitor_samples(client)
        assert ("mlops_monitor_breach", (("detector", "psi:amount"), ("kind", "input_drift"))) not in found
        assert found[("mlops_monitor_breach", (("detector", "missing:merchant"), ("kind", "data_quality")))] == 0.0
        path.unlink()
        assert monitor_samples(client) == {}


def test_a_broken_report_exports_nothing(make_settings: MakeSettings, tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text("{not json", encoding="utf-8")
    with TestClient(create_app(make_settings(monitor_report=path))) as client:
        assert monitor_samples(client) == {}
        assert client.get("/metrics").status_code == 200
