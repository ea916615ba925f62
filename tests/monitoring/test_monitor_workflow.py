"""The monitor workflow under act, against the fake GitHub REST API (tests/support/fake_github.py).

The workflow's own logic is under test: what it does with each of the monitor's exit statuses.
`mlops-template monitor` is replaced by a stand-in that honours the command's agreed interface
(the files it writes, the `breach: <kind>: <reason>` line, exit 0 / 4 / 5 / 2) and records its
arguments; the monitor itself is tested where it lives. Everything else is real: act, bash, curl,
jq, the upload-artifact and checkout stand-ins of tests/support/act_harness.py.

The fake GitHub listens on the host's 127.0.0.1, which a fresh network namespace cannot reach, so
these runs are not wrapped in `unshare -n` as the other act runs are; every URL they use is the
fake's, on 127.0.0.1 (`GITHUB_API_URL`, through act's `.env` file).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

import tests.support.act_harness
from tests.support.act_harness import ActHarness, make_harness, report_durations
from tests.support.fake_github import FakeGitHub, serve

pytestmark = pytest.mark.act

REPOSITORY = tests.support.act_harness.REPOSITORY
TOKEN = "fake-token-0123456789"  # noqa: S105 (the fake GitHub's, nothing real)
TITLE = "Monitoring: the production model breached its thresholds"
LABEL = "monitoring-breach"
LOG_URI = "s3://acme-prediction-log/prod"

# `mlops-template`: `monitor` is the stand-in described above; any other command is the real one.
MONITOR = """\
#!@PYTHON@
import json, os, sys
from pathlib import Path

args = sys.argv[1:]
if args[:1] != ["monitor"]:
    os.execv("@REAL@", ["@REAL@", *args])
records = Path("@RECORDS@")
with (records / "monitor-calls.jsonl").open("a") as log:
    log.write(json.dumps(args) + "\\n")
verdict = json.loads((records / "verdict.json").read_text())
out = Path(args[args.index("--out") + 1])
out.mkdir(parents=True, exist_ok=True)
status = {0: "ok", 4: "breach", 5: "insufficient"}.get(verdict["exit"], "error")
breaches = [verdict["breach"]] if verdict["exit"] == 4 else []
if verdict["exit"] == 2:
    print("error: monitor: --profile reports/reference_profile.json: not found", file=sys.stderr)
    sys.exit(2)
summary = {"status": status, "window": {"start": "2026-11-09T00:00:00Z", "end": "2026-11-23T00:00:00Z",
           "rows": 10000, "labelled": 5000}, "model_version": "v-test", "breaches": breaches, "detectors": breaches}
(out / "summary.json").write_text(json.dumps(summary))
(out / "report.md").write_text(f"# Monitoring report\\n\\nstatus: {status}\\n")
(out / "report.html").write_text(f"<html><body>status: {status}</body></html>")
if breaches:
    print(f"breach: {breaches[0]['kind']}: {breaches[0]['reason']}")
if status == "insufficient":
    print("insufficient: performance: 3 labelled positives, fewer than 10")
sys.exit(verdict["exit"])
"""

AWS_CREDENTIALS = """\
name: configure-aws-credentials (test stand-in)
description: the variable MONITOR_AWS_ROLE is unset in these runs, so this step must be skipped
inputs:
  role-to-assume: {required: true}
  aws-region: {default: ""}
runs:
  using: composite
  steps:
    - shell: bash
      run: exit 1
"""


def _breach(reason: str) -> dict[str, Any]:
    return {
        "kind": "performance",
        "detector": "average_precision",
        "statistic": 0.31,
        "threshold": 0.1,
        "p_value": 0.001,
        "reason": reason,
    }


@pytest.fixture
def harness(tmp_path: Path) -> ActHarness:
    harness = make_harness(tmp_path)
    stub = tmp_path / "stubs" / "mlops-template"  # setup-project's stand-in puts stubs/ first on PATH
    stub.write_text(
        MONITOR.replace("@PYTHON@", sys.executable)
        .replace("@REAL@", str(tests.support.act_harness.VENV_BIN / "mlops-template"))
        .replace("@RECORDS@", str(harness.records))
    )
    stub.chmod(0o755)
    standin = tmp_path / "standins" / "aws-actions+configure-aws-credentials" / "action.yml"
    standin.parent.mkdir(parents=True)
    standin.write_text(AWS_CREDENTIALS)
    (harness.clone / ".vars").write_text(f"MONITOR_LOG={LOG_URI}\nAWS_REGION=eu-west-1\n")
    (harness.clone / ".secrets").write_text(f"GITHUB_TOKEN={TOKEN}\n")
    return harness


def _run(harness: ActHarness, fake: FakeGitHub, verdict: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    (harness.records / "verdict.json").write_text(json.dumps(verdict))
    (harness.clone / ".env").write_text(f"GITHUB_API_URL={fake.url}\n")
    monkeypatch.setattr(tests.support.act_harness, "offline_prefix", list)  # see the module docstring
    event = {"schedule": "41 6 * * *", "repository": {"full_name": REPOSITORY}}
    return harness.run("schedule", "monitor.yml", event)


def test_a_breach_opens_one_issue_then_updates_it_and_dispatches_a_retrain_each_time(
    harness: ActHarness, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeGitHub(token=TOKEN, users={}, repos={REPOSITORY}, branches={})
    with serve(fake):
        first = _run(harness, fake, {"exit": 4, "breach": _breach("average precision fell 0.49 -> 0.31")}, monkeypatch)
        assert first.returncode == 0, first.output[-6000:]
        assert fake.violations == []
        issues = fake.issues[REPOSITORY]
        assert len(issues) == 1
        assert issues[0]["title"] == TITLE
        assert [label["name"] for label in issues[0]["labels"]] == [LABEL]
        assert "breach: performance: average precision fell 0.49 -> 0.31" in issues[0]["body"]
        assert "# Monitoring report" in issues[0]["body"]  # the report itself
        assert issues[0]["comments"] == []
        assert len(fake.dispatches) == 1
        repo, body = fake.dispatches[0]
        assert repo == REPOSITORY
        assert body["event_type"] == "monitor-breach"
        assert body["client_payload"]["reason"] == "breach: performance: average precision fell 0.49 -> 0.31"
        calls = harness.calls("monitor-calls.jsonl")
        assert calls[0][calls[0].index("--log") + 1] == LOG_URI
        assert calls[0][calls[0].index("--profile") + 1] == "reports/reference_profile.json"
        assert "--profile-from-history" in calls[0]  # a rolled-back model is judged against its own profile
        report = next((harness.artifacts / "monitor-report").rglob("summary.json")).parent  # the stand-in nests dirs
        assert {p.name for p in report.iterdir()} >= {"summary.json", "report.md", "report.html"}
        assert json.loads((report / "summary.json").read_text())["status"] == "breach"

        second = _run(
            harness, fake, {"exit": 4, "breach": _breach("calibration: 0.041 observed, 0.023 scored")}, monkeypatch
        )
        assert second.returncode == 0, second.output[-6000:]
        assert fake.violations == []
        assert len(fake.issues[REPOSITORY]) == 1, "a second breach opened a second issue"
        issue = fake.issues[REPOSITORY][0]
        assert "calibration: 0.041 observed, 0.023 scored" in issue["body"]
        assert len(issue["comments"]) == 1
        assert "Breached again" in issue["comments"][0]
        assert len(fake.dispatches) == 2
    with capsys.disabled():
        durations = [report_durations("monitor (breach)", first), report_durations("monitor (again)", second)]
        sys.stdout.write("\n" + "\n".join(durations) + "\n")


@pytest.mark.parametrize(("code", "succeeds"), [(0, True), (5, True), (2, False)])
def test_no_breach_touches_no_issue_and_dispatches_nothing(
    harness: ActHarness, monkeypatch: pytest.MonkeyPatch, code: int, *, succeeds: bool
) -> None:
    fake = FakeGitHub(token=TOKEN, users={}, repos={REPOSITORY}, branches={})
    with serve(fake):
        run = _run(harness, fake, {"exit": code}, monkeypatch)
    assert (run.returncode == 0) == succeeds, run.output[-6000:]
    assert fake.requests == []
    assert fake.dispatches == []
    assert len(harness.calls("monitor-calls.jsonl")) == 1
    uploaded = list((harness.artifacts / "monitor-report").rglob("summary.json"))
    assert len(uploaded) == (1 if succeeds else 0)  # a failed monitor (exit 2) wrote no report to upload
    if code == 5:  # a monitor that cannot judge is a warning on the run, not silence
        assert "monitor cannot judge" in run.output
        assert "insufficient: performance: 3 labelled positives, fewer than 10" in run.output
