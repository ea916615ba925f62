"""bench-monitor's bookkeeping (delay, false alarms, targets) and its upstream faults: the table rests on them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks import bench_monitor as bench
from mlops_template.core.config import Params
from mlops_template.data.sources.simulated import generate_week


def _result(expected: str | None, alarms: dict[str, list[str]]) -> bench.ScenarioResult:
    weeks = [bench.shift_week(bench.ONSET, i) for i in range(-2, 4)]
    found = bench.ScenarioResult("s", 1, expected)
    found.weeks = [{"week": w, "status": "breach" if w in alarms else "ok", "kinds": alarms.get(w, [])} for w in weeks]
    return found


def test_an_alarm_the_week_after_onset_naming_the_kind_meets_the_target() -> None:
    found = _result("volume", {bench.shift_week(bench.ONSET, 1): ["volume", "input_drift"]})
    assert (found.delay, found.false_alarms, found.met) == (1, 0, True)


@pytest.mark.parametrize(
    ("expected", "alarms", "why"),
    [
        ("volume", {bench.shift_week(bench.ONSET, 2): ["volume"]}, "two weeks late"),
        ("volume", {bench.ONSET: ["calibration"]}, "named by another kind"),
        ("volume", {bench.shift_week(bench.ONSET, -1): ["volume"], bench.ONSET: ["volume"]}, "an alarm before onset"),
        (None, {bench.shift_week(bench.ONSET, 3): ["input_drift"]}, "any alarm without drift"),
        ("volume", {}, "never caught"),
    ],
)
def test_what_misses_the_target(expected: str | None, alarms: dict[str, list[str]], why: str) -> None:
    assert not _result(expected, alarms).met, why


def test_every_scenario_names_its_kind_and_has_evidentlys_column() -> None:
    assert set(bench.SCENARIOS) == set(bench.EVIDENTLY)
    assert {kind for kind in bench.SCENARIOS.values() if kind} == set(bench.KINDS)  # every kind is benchmarked


def test_the_faults_change_only_what_they_say(small_params: Params) -> None:
    rows = generate_week(small_params.source, 1001, bench.ONSET)
    rng = np.random.default_rng(0)
    blanked = bench.FAULTS["upstream_missing"](rows, rng)
    lost = blanked["customer_age"].isna().mean() - rows["customer_age"].isna().mean()
    assert 0.2 < lost < 0.4
    pd.testing.assert_frame_equal(blanked.drop(columns="customer_age"), rows.drop(columns="customer_age"))
    miles = bench.FAULTS["unit_change"](rows, rng)["distance_from_home_km"]
    km = rows["distance_from_home_km"]
    assert miles.isna().equals(km.isna())
    assert np.allclose(miles.dropna(), (km.dropna() / 1.609344).round(1))


def test_natural_variation_counts_every_alarm_as_false_from_its_own_onset() -> None:
    assert bench.SCENARIOS[bench.NATURAL] is None
    onset = "2026-W47"
    found = bench.ScenarioResult(bench.NATURAL, 1, None, onset)
    weeks = [bench.shift_week(onset, i) for i in range(-1, 30)]
    found.weeks = [{"week": w, "status": "ok", "kinds": []} for w in weeks]
    assert (found.judged_after, found.false_alarms, found.met) == (30, 0, True)
    found.weeks[20] = {"week": weeks[20], "status": "breach", "kinds": ["calibration"]}
    assert (found.false_alarms, found.met) == (1, False)
