"""Prometheus metrics: requests, errors, latency, predictions by label, scores, the model's version,
and the monitor's last verdict (each statistic with its reference band) when MLOPS_MONITOR_REPORT names it.

Each app has its own registry (no import-time globals, so several apps can live in one test
process). With several uvicorn workers, set `PROMETHEUS_MULTIPROC_DIR` (`mlops-template serve` does
when `--workers` > 1): every worker writes its samples to files there and `/metrics`, whichever
worker answers it, reports the sum over all of them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlops_template.serving import monitor_summary

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SCORE_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
OTHER_ROUTE = "<unmatched>"
CLIENT_ERROR, SERVER_ERROR = 400, 500


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class MonitorCollector(Collector):
    """The monitor's last summary as gauges, read at scrape time and again only when the file changes.

    Per finding (labels kind, detector): `mlops_monitor_breach` (0/1), and for a finding judged against
    reference weeks `mlops_monitor_value` (the statistic its band applies to) and `mlops_monitor_band`
    (side low/high; an open side is left out); `mlops_monitor_report_timestamp_seconds` is the file's
    mtime. Without a readable report nothing is exported (GET /v1/monitor says why).
    """

    def __init__(self, setting: Path | None) -> None:
        self.setting = setting
        self._key: tuple[int, int] | None = None
        self._metrics: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        if self.setting is None:
            return iter(())
        try:
            stat = monitor_summary.summary_path(self.setting).stat()
        except OSError:
            self._key, self._metrics = None, []
            return iter(())
        key = (stat.st_mtime_ns, stat.st_size)
        if key != self._key:
            loaded = monitor_summary.load(self.setting)
            self._key, self._metrics = key, self._families(loaded)
        return iter(self._metrics)

    @staticmethod
    def _families(loaded: monitor_summary.Loaded) -> list[Metric]:
        if loaded.summary is None or loaded.modified is None:
            return []
        labels = ["kind", "detector"]
        stamp = GaugeMetricFamily(
            "mlops_monitor_report_timestamp_seconds", "When the monitor's last summary was written (its mtime)."
        )
        stamp.add_metric([], loaded.modified)
        breach = GaugeMetricFamily("mlops_monitor_breach", "1 when a detector breached in the last run.", labels=labels)
        value = GaugeMetricFamily(
            "mlops_monitor_value", "The statistic a detector judged against its reference band.", labels=labels
        )
        band = GaugeMetricFamily(
            "mlops_monitor_band",
            "The reference weeks' band (low, high) a detector's statistic was judged against.",
            labels=[*labels, "side"],
        )
        for found in monitor_summary.findings(loaded.summary):
            names = [str(found.get("kind")), str(found.get("detector"))]
            breach.add_metric(names, 1.0 if found.get("status") == "breach" else 0.0)
            details = found.get("details")
            details = details if isinstance(details, dict) else {}
            limits = details.get("band")
            measured = _number(details.get("value"))
            if not isinstance(limits, dict) or measured is None:
                continue
            value.add_metric(names, measured)
            for side in ("low", "high"):
                if (edge := _number(limits.get(side))) is not None:
                    band.add_metric([*names, side], edge)
        return [stamp, breach, value, band]


class ServingMetrics:
    """The API's metrics and how they are rendered for a scrape."""

    def __init__(self, monitor_report: Path | None = None) -> None:
        self.multiprocess = multiprocess_dir() is not None
        self.registry = CollectorRegistry()
        self.monitor = MonitorCollector(monitor_report)
        if not self.multiprocess:
            self.registry.register(self.monitor)
        if not self.multiprocess:  # per-process metrics make no sense summed over workers
            ProcessCollector(registry=self.registry)
        r = self.registry
        self.requests = Counter(
            "mlops_http_requests",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.errors = Counter(
            "mlops_http_errors",
            "HTTP responses with an error status, by route and kind (client: 4xx, server: 5xx).",
            ["route", "method", "kind"],
            registry=r,
        )
        self.latency = Histogram(
            "mlops_http_request_duration_seconds",
            "Time from the request's arrival to the end of the response, by route.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter("mlops_predictions", "Predictions served, by label.", ["label"], registry=r)
        self.scores = Histogram(
            "mlops_prediction_score", "Probability of the positive class.", buckets=SCORE_BUCKETS, registry=r
        )
        self.model_info = Gauge(
            "mlops_model_info",
            "1 for the model version a worker serves (0 after it was replaced).",
            ["version"],
            multiprocess_mode="liveall",
            registry=r,
        )
        self.model_ready = Gauge(
            "mlops_model_ready", "1 when a verified model is loaded.", multiprocess_mode="livemin", registry=r
        )
        self.reloads = Counter(
            "mlops_model_loads", "Model loads by outcome (loaded, refused).", ["outcome"], registry=r
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram, Counter | None]] = {}
        self._labels: dict[str, Counter] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            kind = "server" if status >= SERVER_ERROR else "client" if status >= CLIENT_ERROR else None
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
                self.errors.labels(route, method, kind) if kind else None,
            )
            self._children[key] = children
        requests, latency, errors = children
        requests.inc()
        latency.observe(seconds)
        if errors is not None:
            errors.inc()

    def observe_predictions(self, labels: Iterable[str], probabilities: Iterable[float]) -> None:
        counts: dict[str, int] = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        for label, count in counts.items():
            child = self._labels.get(label)
            if child is None:
                child = self._labels[label] = self.predictions.labels(label)
            child.inc(count)
        for probability in probabilities:
            self.scores.observe(probability)

    def model_loaded(self, version: str, previous: str | None) -> None:
        if previous is not None and previous != version:
            self.model_info.labels(previous).set(0)
        self.model_info.labels(version).set(1)
        self.model_ready.set(1)
        self.reloads.labels("loaded").inc()

    def model_refused(self, *, ready: bool) -> None:
        self.reloads.labels("refused").inc()
        self.model_ready.set(1 if ready else 0)

    def render(self) -> tuple[bytes, str]:
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            registry.register(self.monitor)  # a file every worker reads alike: not summed
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def close(self) -> None:
        """Forget this worker's live gauges (multiprocess mode), so a stopped worker stops reporting."""
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class MetricsMiddleware:
    """Counts every response (including 401, 413 and 404 answered by other middleware) and times it."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics, routes: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            path: str = scope["path"]
            method: str = scope["method"]
            self.metrics.observe_request(
                path if path in self.routes else OTHER_ROUTE,
                method if method in METHODS else "OTHER",
                status,
                time.perf_counter() - started,
            )
