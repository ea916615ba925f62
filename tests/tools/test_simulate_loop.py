"""The closed loop, end to end: `mlops-template simulate` with the real pieces (next-batch, dvc repro,
gate, uvicorn on 127.0.0.1, the prediction log, delayed feedback, the monitor).

Lean on purpose: a short history of small weeks and a small model (each `dvc repro` is the cost);
the detection figures over long runs and many seeds are the monitor benchmark's job.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.params import small_params_dict
from tests.support.workspace import REPO, VENV_BIN, project_env

pytestmark = [pytest.mark.dvc, pytest.mark.server]

LAST_WEEK = "2026-W40"  # a fixed, past calendar: the same batches whatever day the tests run


def _params(tmp_path: Path) -> Path:
    raw = small_params_dict()
    raw["source"].update(rows_per_week=3000, fraud_rate=0.015, customers=3000)
    raw["train"]["model"].update(max_iter=60)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _simulate(tmp_path: Path, *args: str) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    work = tmp_path / "loop"
    command = [str(VENV_BIN / "mlops-template"), "simulate", "--params", str(_params(tmp_path))]
    command += ["--workdir", str(work), "--last-week", LAST_WEEK, "--history", "6", *args]
    done = subprocess.run(command, cwd=REPO, env=project_env(), capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-6000:]}"
    timeline: dict[str, Any] = json.loads((work / "simulation" / "timeline.json").read_text(encoding="utf-8"))
    assert (work / "simulation" / "loop.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    return timeline, seconds


def _say(capsys: pytest.CaptureFixture[str], text: str) -> None:
    with capsys.disabled():
        sys.stdout.write(f"\n{text}\n")


def test_new_fraud_pattern_is_caught_retrained_promoted_and_recovered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drift_week = 3
    # Strength 2: a small week (3,000 rows) must hold enough of the new pattern to hurt, as 5,000 rows do at 1.
    arguments = ["--weeks", "6", "--scenario", "new_fraud_pattern", "--start-week", str(drift_week), "--strength", "2"]
    timeline, seconds = _simulate(tmp_path, *arguments)
    weeks = timeline["weeks"]
    _say(capsys, f"simulate new_fraud_pattern, 6 weeks: {seconds:.0f} s; " + _summary(weeks))
    assert [w["drift_active"] for w in weeks] == [False, False, True, True, True, True]
    assert not any(w["alarm"] for w in weeks[: drift_week - 1]), "an alarm before the drift"
    # Week 2 is judged for real (week 1's labels have arrived) and found quiet: not just "too few labels".
    assert weeks[1]["monitor"]["status"] == "ok", weeks[1]["monitor"]
    alarms = [w["number"] for w in weeks if w["alarm"]]
    assert alarms, "no alarm after the drift"
    assert alarms[0] - drift_week <= 1, f"first alarm at week {alarms[0]}: more than a week after the onset"
    first_alarm = weeks[alarms[0] - 1]
    assert "performance" in {b["kind"] for b in first_alarm["monitor"]["breaches"]}
    promoted = [w for w in weeks if w["promoted"]]
    assert promoted, "no retrain passed the gate"
    assert promoted[0]["gate"]["decision"] == "pass"
    assert promoted[0]["champion_after"] != promoted[0]["champion"]
    # Live AP: the drift hurts the old champion; the promoted model serves the following weeks better.
    before = weeks[drift_week - 2]["live"]["average_precision"]
    first_champion = weeks[0]["champion"]
    hurt = min(w["live"]["average_precision"] for w in weeks if w["drift_active"] and w["champion"] == first_champion)
    after = [w["live"]["average_precision"] for w in weeks if w["champion"] == promoted[0]["champion_after"]]
    assert after, "the promoted model served no week"
    assert hurt < before
    assert max(after) > hurt + 0.05, f"live AP did not recover: {before=} {hurt=} {after=}"
    assert max(after) >= before - 0.05, f"live AP did not return to its level before the drift: {before=} {after=}"


def test_a_harmful_retrain_is_kept_out_by_the_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Week 1's batch arrives with its labels inverted; the retrain at week 3 trains on it.
    timeline, seconds = _simulate(tmp_path, "--weeks", "3", "--corrupt-labels", "1", "--retrain-week", "3")
    weeks = timeline["weeks"]
    _say(capsys, f"simulate with corrupted labels, 3 weeks: {seconds:.0f} s; " + _summary(weeks))
    assert weeks[0]["labels_corrupted"]
    retrained = weeks[2]
    assert retrained["retrained"]
    assert retrained["gate"]["decision"] == "fail"
    assert not retrained["promoted"]
    assert retrained["champion_after"] == retrained["champion"] == weeks[0]["champion"]
    reason = retrained["gate"]["reason"]
    assert "below its floor" in reason or "may have regressed" in reason, reason


def _summary(weeks: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{w['week']} AP {w['live']['average_precision']} {w['monitor']['status']}"
        + (f" gate {w['gate']['decision']}" if w["gate"] else "")
        for w in weeks
    )
