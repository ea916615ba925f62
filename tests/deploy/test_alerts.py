"""deploy/prometheus/rules/: the alerting and recording rules, checked and unit-tested with promtool.

`promtool test rules` runs deploy/prometheus/tests/*.yml, where every alert has a series shaped like
the real situation it must catch and others where it must stay quiet. The tests here make sure that
stays true (every alert has both kinds of case; a case naming an unknown alert would pass
vacuously), that the unit tests bite (a weakened rule fails them), that promtool rejects a broken
rule file, and that the rules read only what the API exports and what Prometheus is configured with.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mlops_template.data import schema
from tests.support.api_server import AUTH, VALID_RECORD, ApiServer, start_api_server, wait_until
from tests.support.deploy_checks import (
    DASHBOARD,
    DEPLOY,
    RULE_SERIES,
    dashboard_queries,
    exposed_series,
    promtool,
    require_tool,
    run,
)
from tests.support.workspace import free_port

PROMETHEUS = DEPLOY / "prometheus"
RULES = sorted((PROMETHEUS / "rules").glob("*.yml"))
UNIT_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
README = DEPLOY / "README.md"
SEVERITIES = {"critical", "warning", "info"}
# Labels Prometheus adds to every scraped series (`namespace` under Kubernetes service discovery).
TARGET_LABELS = frozenset({"job", "instance", "namespace"})
# Series Prometheus itself makes: scrape health and the alerts' states.
PROMETHEUS_SERIES = {"up": frozenset({"job", "instance"}), "ALERTS": frozenset({"alertname", "alertstate", "severity"})}

Obj = dict[str, Any]


@cache
def load(path: Path) -> Obj:
    """A YAML file, parsed once (callers only read it)."""
    loaded: Obj = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def rules() -> list[Obj]:
    return [rule for path in RULES for group in load(path)["groups"] for rule in group["rules"]]


def alerts() -> dict[str, Obj]:
    return {rule["alert"]: rule for rule in rules() if "alert" in rule}


def recorded() -> dict[str, Obj]:
    return {rule["record"]: rule for rule in rules() if "record" in rule}


# --- promtool ---------------------------------------------------------------------------------------


def test_the_rules_exist() -> None:
    assert [path.name for path in RULES] == ["api.yml", "model-outputs.yml"]
    assert {path.name for path in UNIT_TESTS} == {"api.yml", "model-outputs.yml"}
    assert set(alerts()) == {
        "MlopsApiDown",
        "MlopsModelNotReady",
        "MlopsApiHighErrorRate",
        "MlopsApiHighLatency",
        "MlopsApiNoTraffic",
        "MlopsFlaggedShareShift",
        "MlopsScoreShift",
        "MlopsModelVersionChanged",
        "MlopsModelVersionsMixed",
        "MlopsModelLoadRefused",
    }


@pytest.mark.parametrize("path", RULES, ids=lambda path: path.name)
def test_rule_files_pass_promtool_check(path: Path) -> None:
    result = run([promtool(), "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    count = sum(len(group["rules"]) for group in load(path)["groups"])
    assert f"SUCCESS: {count} rules found" in result.stdout


@pytest.mark.parametrize("path", UNIT_TESTS, ids=lambda path: path.name)
def test_alert_unit_tests_pass_promtool(path: Path) -> None:
    result = run([promtool(), "test", "rules", path.name], cwd=path.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_prometheus_loads_every_rule_file() -> None:
    """prometheus.yml's rule_files globs find the rules (and `check config` checks them too)."""
    config = load(PROMETHEUS / "prometheus.yml")
    found = sorted({path for pattern in config["rule_files"] for path in PROMETHEUS.glob(pattern)})
    assert found == RULES
    result = run([promtool(), "check", "config", str(PROMETHEUS / "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    for path in RULES:
        assert f"Checking {PROMETHEUS / 'rules' / path.name}" in result.stdout


def test_compose_mounts_the_rules_beside_the_config() -> None:
    prometheus = load(DEPLOY / "compose.yaml")["services"]["prometheus"]
    mounts = {entry.split(":")[1]: entry.split(":")[0] for entry in prometheus["volumes"]}
    config = next(arg for arg in prometheus["command"] if arg.startswith("--config.file=")).split("=", 1)[1]
    mounted = (DEPLOY / mounts[str(Path(config).parent)]).resolve()
    assert mounted == PROMETHEUS
    assert all(path.is_relative_to(mounted) for path in RULES)


# --- what the unit tests cover ----------------------------------------------------------------------


def alert_cases() -> list[tuple[str, str, bool]]:
    """(unit-test file and case, alert name, fires?) for every alert_rule_test in the unit tests."""
    return [
        (f"{path.name}: {case['name']}", check["alertname"], bool(check["exp_alerts"]))
        for path in UNIT_TESTS
        for case in load(path)["tests"]
        for check in case.get("alert_rule_test", [])
    ]


def test_every_alert_has_a_case_where_it_fires_and_one_where_it_stays_quiet() -> None:
    cases = alert_cases()
    missing = [
        f"{name}: no case where it {'fires' if fires else 'stays quiet'}"
        for name in alerts()
        for fires in (True, False)
        if not any(alert == name and expected == fires for _, alert, expected in cases)
    ]
    assert missing == []


def test_unit_tests_name_only_alerts_that_exist() -> None:
    """promtool passes `exp_alerts: []` for an alert that does not exist: a typo would hide a gap."""
    unknown = [f"{case}: {alert}" for case, alert, _ in alert_cases() if alert not in alerts()]
    assert unknown == []


def test_unit_tests_load_the_shipped_rules() -> None:
    for path in UNIT_TESTS:
        files = [(path.parent / name).resolve() for name in load(path)["rule_files"]]
        assert files, f"{path.name} loads no rule file"
        assert all(file in RULES for file in files), f"{path.name} loads {files}"
    loaded = {(path.parent / name).resolve() for path in UNIT_TESTS for name in load(path)["rule_files"]}
    assert loaded == set(RULES)


def test_unit_tests_evaluate_recording_rules_before_the_alerts() -> None:
    """promtool orders groups at random unless told: an alert evaluated first sees stale records."""
    for path in UNIT_TESTS:
        test = load(path)
        groups = [group["name"] for name in test["rule_files"] for group in load(path.parent / name)["groups"]]
        assert test.get("group_eval_order") == groups, f"{path.name}: group_eval_order must list {groups}"


def mutated_copy(tmp_path: Path, rule_file: str, old: str, new: str) -> Path:
    """deploy/prometheus copied to tmp_path with one expression changed; returns the copy."""
    copy = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS, copy)
    path = copy / "rules" / rule_file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {rule_file}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return copy


@pytest.mark.slow
def test_unit_tests_fail_when_an_alert_is_weakened(tmp_path: Path) -> None:
    """The 5% error threshold raised to 50%: the case with 9% errors must now fail."""
    copy = mutated_copy(
        tmp_path,
        "api.yml",
        "job:mlops_http_server_errors:ratio_rate5m > 0.05",
        "job:mlops_http_server_errors:ratio_rate5m > 0.5",
    )
    result = run([promtool(), "test", "rules", "api.yml"], cwd=copy / "tests")
    assert result.returncode != 0
    assert "alertname: MlopsApiHighErrorRate, time: 15m" in result.stdout + result.stderr


@pytest.mark.slow
def test_unit_tests_fail_when_a_statistical_gate_is_removed(tmp_path: Path) -> None:
    """Without |z| > 4, the thin-traffic scenario (24 flagged where 12 were expected) alarms."""
    gate = "and on (namespace, job) abs(job:mlops_flagged_share:zscore1h) > 4\n"
    copy = mutated_copy(tmp_path, "model-outputs.yml", gate, "")
    result = run([promtool(), "test", "rules", "model-outputs.yml"], cwd=copy / "tests")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "alertname: MlopsFlaggedShareShift, time: 7d4h" in output
    assert 'namespace="thin-traffic"' in output


# --- promtool rejects a broken rule file ------------------------------------------------------------


BROKEN = {
    "a query that does not parse": (
        'expr: up{job="mlops-api"} == 0',
        'expr: up{job="mlops-api"} == ',
        r"unexpected end of input",
    ),
    "a duration with words": ("for: 10m", "for: 10 minutes", r"not a valid duration string: \"10 minutes\""),
    "a template that does not parse": (
        "{{ $value | humanizePercentage }} of /v1",
        "{{ $value | humanizePercentage } of /v1",
        r"template: __alert_MlopsApiHighErrorRate",
    ),
}


@pytest.mark.parametrize(("old", "new", "message"), list(BROKEN.values()), ids=list(BROKEN))
def test_promtool_rejects_a_broken_rule_file(tmp_path: Path, old: str, new: str, message: str) -> None:
    copy = mutated_copy(tmp_path, "api.yml", old, new)
    result = run([promtool(), "check", "rules", str(copy / "rules" / "api.yml")])
    assert result.returncode != 0
    assert re.search(message, result.stdout + result.stderr), result.stdout + result.stderr


# --- what every alert says ---------------------------------------------------------------------------


def readme_anchors() -> set[str]:
    """GitHub's anchors for deploy/README.md's headings (lower case, punctuation dropped)."""
    text = re.sub(r"^```.*?^```", "", README.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    headings = re.findall(r"^#+\s+(.+?)\s*$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading).strip().lower().replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("name", sorted(alerts()))
def test_alert_has_a_duration_a_severity_and_a_runbook(name: str) -> None:
    rule = alerts()[name]
    assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), f"{name}: `for:` must be a duration"
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert annotations["description"].strip()
    anchor = name.lower()
    assert f"deploy/README.md#{anchor}" in annotations["description"], f"{name}: link its runbook"
    assert anchor in readme_anchors(), f"deploy/README.md has no section {name}"


def test_positive_label_in_the_rules_is_the_contracts() -> None:
    text = "\n".join(path.read_text(encoding="utf-8") for path in RULES)
    labels = set(re.findall(r"mlops_predictions_total\{label=\"([^\"]+)\"\}", text))
    assert labels == {schema.POSITIVE_CLASS}
    variables = {var["name"]: var for var in load_dashboard()["templating"]["list"]}
    assert variables["positive_label"]["current"]["value"] == schema.POSITIVE_CLASS


def test_api_down_watches_the_scrape_job_prometheus_has() -> None:
    jobs = {job["job_name"] for job in load(PROMETHEUS / "prometheus.yml")["scrape_configs"]}
    watched = set(re.findall(r'up\{job="([^"]+)"\}', alerts()["MlopsApiDown"]["expr"]))
    assert watched
    assert watched <= jobs


# --- the rules read what the API exports ------------------------------------------------------------


@cache
def exposed() -> dict[str, frozenset[str]]:
    return exposed_series(Path(tempfile.mkdtemp(prefix="multiproc-")))


def load_dashboard() -> Obj:
    loaded: Obj = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def series_problems(expr: str, records: dict[str, frozenset[str]]) -> list[str]:
    """Series, matchers and grouping labels in `expr` that neither the API nor the rules provide.

    `records` maps each recording rule's name to the labels its result carries.
    """
    known = {**exposed(), **PROMETHEUS_SERIES, **records}
    problems: list[str] = []
    used = re.findall(
        r"(?<![\w:])([a-zA-Z_][\w:]*)\s*(\{[^}]*\})?(?=\s*(?:\[|\{|\)|$|\s|offset|==|>|<|/|\*|\+|-))", expr
    )
    named = [
        (name, matchers)
        for name, matchers in used
        if name.startswith("mlops_") or ":" in name or name in PROMETHEUS_SERIES
    ]
    if not named:
        problems.append(f"{expr!r} reads no series")
    for name, matchers in named:
        if name not in known:
            problems.append(f"{expr!r}: no series {name} (the API exports {sorted(exposed())})")
            continue
        labels = known[name] | (TARGET_LABELS if name.startswith("mlops_") else frozenset())
        problems += [
            f"{expr!r}: {name} has no label {label!r}"
            for label in re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*\"", matchers)
            if label not in labels
        ]
    available = set(TARGET_LABELS).union(*(known.get(name, frozenset()) for name, _ in named))
    problems += [
        f"{expr!r}: groups by {label!r}, which none of its series has"
        for clause in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr)
        for label in filter(None, (part.strip() for part in clause.split(",")))
        if label not in available
    ]
    return problems


def record_labels() -> dict[str, frozenset[str]]:
    """Each recording rule's labels: its `by (...)` clause, or those of the records it divides."""
    labels: dict[str, frozenset[str]] = {}
    for name, rule in recorded().items():
        outer = re.findall(r"\bby\s*\(([^)]*)\)", rule["expr"])
        labels[name] = (
            frozenset(part.strip() for part in outer[0].split(",") if part.strip() != "le") if outer else frozenset()
        )
    for name, rule in recorded().items():
        if not labels[name]:
            inner = [labels[other] for other in re.findall(r"[a-z_]+:[\w:]+", rule["expr"]) if other in labels]
            labels[name] = frozenset().union(*inner)
    return labels


def test_rules_read_only_series_the_api_exports_or_the_rules_record() -> None:
    records = record_labels()
    problems = [p for rule in rules() for p in series_problems(rule["expr"], records)]
    assert problems == []
    order = [
        name
        for path in RULES
        for group in load(path)["groups"]
        for name in (r.get("record") for r in group["rules"])
        if name
    ]
    for rule in rules():
        for name in re.findall(r"(?<![\w:])([a-z_]+:[\w:]+)", rule["expr"]):
            assert name in records, f"{rule.get('alert') or rule.get('record')} reads {name}, which no rule records"
            if "record" in rule:
                assert order.index(name) <= order.index(rule["record"]), (
                    f"{rule['record']} reads {name} before it is recorded"
                )


def test_series_checker_catches_unknown_series_and_labels() -> None:
    records = record_labels()
    assert series_problems("sum by (namespace, job) (rate(mlops_http_requests_total[5m]))", records) == []
    assert series_problems("job:mlops_http_requests:rate5m > 1", records) == []
    assert series_problems("sum(rate(mlops_requests_total[5m]))", records)  # not the API's name
    assert series_problems("job:mlops_requests:rate5m > 1", records)  # no such record
    assert series_problems('sum(rate(mlops_http_requests_total{path="/v1/predict"}[5m]))', records)
    assert series_problems("sum by (pod) (rate(mlops_http_requests_total[5m]))", records)
    assert series_problems('ALERTS{alertnam="MlopsApiDown"}', records)


# --- the dashboard shows the alerts and their signals -----------------------------------------------


def rule_queries() -> list[tuple[str, Obj, str]]:
    """(panel title, target, PromQL with variables replaced) for dashboard queries of the rules' series."""
    board = load_dashboard()
    targets = [(panel["title"], target) for panel in board["panels"] for target in panel["targets"]]
    return [
        (title, target, expr)
        for (title, target), (_, expr) in zip(targets, dashboard_queries(board), strict=True)
        if RULE_SERIES.search(expr)
    ]


def test_dashboard_reads_only_series_the_rules_make() -> None:
    records = record_labels()
    queries = rule_queries()
    assert len(queries) >= 7
    assert [p for _, _, expr in queries for p in series_problems(expr, records)] == []
    for title, target, expr in queries:
        labels = set(PROMETHEUS_SERIES["ALERTS"]) if "ALERTS" in expr else set()
        labels |= set().union(*(records.get(name, frozenset()) for name in re.findall(r"[a-z_]+:[\w:]+", expr)))
        legend = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")))
        assert legend <= labels, f"{title}: legend {legend} names labels its series lack"


def test_dashboard_shows_every_alert_and_the_signal_it_watches() -> None:
    queries = [expr for _, _, expr in rule_queries()]
    matchers = {m for expr in queries for m in re.findall(r'ALERTS\{alertname=~"([^"]+)"', expr)}
    assert matchers, "no panel shows the alerts' states"
    for name, rule in alerts().items():
        assert all(re.fullmatch(m, name) for m in matchers), f"the alert panels miss {name}"
        signal = re.findall(r"(?<![\w:])([a-z_]+:[\w:]+)", rule["expr"])
        if signal:  # the series the alert compares with its threshold: on the dashboard too
            assert any(re.search(rf"(?<![\w:]){signal[0]}\b", expr) for expr in queries), f"{name}: plot {signal[0]}"


def test_dashboard_alert_panels_are_unit_tested() -> None:
    """The alert panels' queries are evaluated in deploy/prometheus/tests (pending is 1, firing 2)."""
    tested = {
        check["expr"]
        for path in UNIT_TESTS
        for case in load(path)["tests"]
        for check in case.get("promql_expr_test", [])
    }
    panels = {expr for _, _, expr in rule_queries() if "ALERTS" in expr}
    assert panels
    assert panels <= tested


# --- the rules on a real Prometheus scraping the real API ------------------------------------------


@dataclass
class Prometheus:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def query(self, expr: str) -> list[Obj]:
        answer = httpx.get(f"{self.base_url}/api/v1/query", params={"query": expr}, timeout=5)
        answer.raise_for_status()
        result: list[Obj] = answer.json()["data"]["result"]
        return result

    def values(self, expr: str) -> dict[str, float]:
        """The instant vector `expr` as {labels without the metric name: value}."""
        return {
            ",".join(f"{k}={v}" for k, v in sorted(sample["metric"].items()) if k != "__name__"): float(
                sample["value"][1]
            )
            for sample in self.query(expr)
        }


@pytest.fixture(scope="module")
def api(served_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """The API with two workers (multiprocess metrics: mlops_model_info carries a pid label)."""
    running = start_api_server(served_dir, tmp_path_factory.mktemp("alerts-api"), workers=2)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def prometheus(api: ApiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """Debian's Prometheus server on 127.0.0.1 with the shipped rules, scraping the API every second.

    The rules are the shipped ones with every group evaluated each second (the model-output group
    runs each minute in the stack).
    """
    binary = require_tool("prometheus", "run `sudo scripts/system-deps.sh` (Debian's prometheus package)")
    workdir = tmp_path_factory.mktemp("prometheus")
    config = load(PROMETHEUS / "prometheus.yml")
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    # Everything a thousand times faster than in the stack: scrapes, and every rule group each second.
    rule_files = []
    for path in RULES:
        rules_copy = load(path)
        faster = {
            "groups": [
                {key: value for key, value in group.items() if key != "interval"} for group in rules_copy["groups"]
            ]
        }
        rule_files.append(workdir / path.name)
        rule_files[-1].write_text(yaml.safe_dump(faster), encoding="utf-8")
    config["rule_files"] = [str(path) for path in rule_files]
    (job,) = (job for job in config["scrape_configs"] if job["job_name"] == "mlops-api")
    job["static_configs"][0]["targets"] = [api.base_url.removeprefix("http://")]
    config["scrape_configs"] = [job]
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    log = workdir / "prometheus.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=output,
            stderr=output,
        )
    server = Prometheus(process, f"http://127.0.0.1:{port}", log)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"prometheus exited ({process.returncode}):\n{log.read_text()}")
        try:
            return httpx.get(f"{server.base_url}/-/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(ready, 30, "Prometheus /-/ready")
        yield server
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.server
def test_rules_evaluate_on_what_the_real_api_exports(api: ApiServer, prometheus: Prometheus) -> None:
    """Real scrapes of a two-worker API: the recorded series come out, and the alerts judge them."""
    job = "job=mlops-api"
    idle = 'ALERTS{alertname="MlopsApiNoTraffic", alertstate="pending"}'
    # Up and ready, nothing scored yet: no traffic is pending (it fires after its 15 minutes).
    wait_until(lambda: bool(prometheus.query(idle)), 30, "MlopsApiNoTraffic pending before any prediction")
    with api.client() as client:
        answer = client.post("/v1/predict", json={"record": VALID_RECORD}, headers=AUTH)
        assert answer.status_code == 200, answer.text
        # The counter's first scrape already holds the prediction: the new series counts as traffic.
        wait_until(lambda: not prometheus.query(idle), 30, "MlopsApiNoTraffic to clear after a prediction")
        for _ in range(40):
            answer = client.post("/v1/predict", json={"records": [VALID_RECORD] * 5}, headers=AUTH)
            assert answer.status_code == 200, answer.text
        assert client.post("/v1/predict", json={"records": [VALID_RECORD]}).status_code == 401
    # 200 more scored records: the recorded series follow.
    wait_until(
        lambda: prometheus.values("job:mlops_predictions:increase1h").get(job, 0) >= 190,
        30,
        "the recorded hour's predictions",
    )
    # Each rule group evaluates on its own schedule: wait for every recorded series of the job.
    recorded = (
        "job:mlops_http_requests:rate5m",
        "job:mlops_http_server_errors:ratio_rate5m",
        "job:mlops_http_request_duration_seconds:p99_rate5m",
        "job:mlops_flagged_share:ratio1h",
        "job:mlops_prediction_score:mean1h",
    )
    wait_until(lambda: all(job in prometheus.values(name) for name in recorded), 30, "every recorded series")
    assert prometheus.values("job:mlops_http_requests:rate5m")[job] > 0
    assert prometheus.values("job:mlops_http_server_errors:ratio_rate5m") == {job: 0.0}  # no 5xx: 0, not absent
    p99 = prometheus.values("job:mlops_http_request_duration_seconds:p99_rate5m")[job]
    assert 0 < p99 < 0.25
    share = prometheus.values("job:mlops_flagged_share:ratio1h")[job]
    assert 0 <= share <= 1
    mean = prometheus.values("job:mlops_prediction_score:mean1h")[job]
    assert 0 < mean < 1
    # Both workers serve one version: not mixed; no baseline yet (no day of history): no shift alert.
    versions = prometheus.values("count by (job, version) (mlops_model_info == 1)")
    assert len(versions) == 1
    assert next(iter(versions.values())) == 2
    assert prometheus.query("job:mlops_flagged_share:ratio_same_hour_7d") == []
    assert prometheus.query('ALERTS{alertname!="MlopsApiNoTraffic"}') == []
    # Every rule evaluated without an error on the real series.
    groups = httpx.get(f"{prometheus.base_url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    health = {rule["name"]: (rule["health"], rule.get("lastError", "")) for group in groups for rule in group["rules"]}
    assert len(health) == len(rules())
    assert {name: state for name, state in health.items() if state[0] != "ok"} == {}
    log = prometheus.log.read_text(encoding="utf-8")
    assert "level=error" not in log
    assert "Evaluating rule failed" not in log
