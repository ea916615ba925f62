"""The gate's fairness rules: a gap beyond its rule fails the gate, with the reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_template.core.config import FairnessGrouping, FairnessParams, GateParams
from mlops_template.model import fairness
from mlops_template.model.statistics import paired_bootstrap
from mlops_template.release import gate

GROUPS = FairnessParams(groups=(FairnessGrouping(column="channel"),), min_rows=50, min_positives=10, resamples=200)


def _evidence(rules: GateParams) -> dict[str, object]:
    # Given two groups with the same fraud rate; the champion finds 60% of the fraud in both, the
    # candidate 90% online and 20% at the point of sale (the same overall recall)
    rng = np.random.default_rng(0)
    n = 4000
    frame = pd.DataFrame({"channel": np.repeat(["online", "pos"], n // 2)})
    labels = (rng.random(n) < 0.1).astype(int)
    online = frame["channel"].to_numpy() == "online"
    draw = rng.random(n)
    champion = np.where(labels == 1, draw < 0.6, draw < 0.02)
    candidate = np.where(labels == 1, draw < np.where(online, 0.9, 0.2), draw < 0.02)
    scores = {name: flags.astype(float) for name, flags in (("champion", champion), ("candidate", candidate))}
    split = fairness.grouping(frame, GROUPS.groups[0])
    audited = fairness.audit(
        labels, {"champion": champion, "candidate": candidate}, [split], GROUPS, seed=1, resamples=200
    )
    result = paired_bootstrap(
        n,
        gate.model_statistics(labels, scores["candidate"], 0.5),
        gate.model_statistics(labels, scores["champion"], 0.5),
        resamples=200,
        confidence=0.95,
        seed=1,
    )
    side = {"version": "v", "threshold": 0.5}
    return gate.report(result, rules, rows=n, weeks=[], candidate=side, champion=side, audited=audited)


def test_a_gap_larger_than_allowed_fails_the_gate_with_its_reason() -> None:
    rules = GateParams.model_validate(
        {
            "recall": {"floor": 0.2, "max_regression": 0.5, "min_gain": 0.01},
            "average_precision": {"floor": 0.0, "max_regression": 0.5, "min_gain": 0.01},
            "fairness": {"recall": {"max_gap": 0.3}},
            "resamples": 200,
        }
    )
    evidence = _evidence(rules)
    assert evidence["decision"] == "fail"
    reason = str(evidence["reason"])
    assert reason.startswith("fairness: channel recall gap 0.")
    assert "online minus pos) is above gate.fairness.recall.max_gap 0.3000" in reason
    assert evidence["fairness"]["channel"]["recall"]["failed"] == ["max_gap"]  # type: ignore[index]


def test_a_gap_that_grew_more_than_allowed_fails_the_gate() -> None:
    rules = GateParams.model_validate(
        {
            "recall": {"floor": 0.2, "max_regression": 0.5, "min_gain": 0.01},
            "average_precision": {"floor": 0.0, "max_regression": 0.5, "min_gain": 0.01},
            "fairness": {"recall": {"max_increase": 0.2}},
            "resamples": 200,
        }
    )
    evidence = _evidence(rules)
    assert evidence["decision"] == "fail"
    assert "fairness: channel recall gap grew by +0." in str(evidence["reason"])
    assert "more than gate.fairness.recall.max_increase 0.2000" in str(evidence["reason"])
    # Without fairness rules the same change passes
    relaxed = rules.model_copy(update={"fairness": GateParams().fairness})
    assert _evidence(relaxed)["decision"] == "pass"


def test_a_grouping_the_rules_do_not_name_is_reported_not_judged() -> None:
    rules = GateParams.model_validate(
        {
            "recall": {"floor": 0.2, "max_regression": 0.5, "min_gain": 0.01},
            "average_precision": {"floor": 0.0, "max_regression": 0.5, "min_gain": 0.01},
            "fairness": {"columns": [], "recall": {"max_gap": 0.3, "max_increase": 0.2}},
            "resamples": 200,
        }
    )
    evidence = _evidence(rules)
    assert evidence["decision"] == "pass"
    reported = evidence["fairness"]["channel"]["recall"]  # type: ignore[index]
    assert reported["rule"] is None
    assert reported["failed"] == []
    assert reported["difference"]["low"] > 0.2  # the growth is there, and shown


def _four_equal_groups(seed: int, n: int = 800) -> tuple[dict[str, object], float]:
    # Given four groups with the same fraud rate, and a champion and a candidate that each find 60% of
    # the fraud and flag 5% of the rest in every group (no real gap, no real change): independent draws
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"channel": rng.choice(["a", "b", "c", "d"], size=n)})
    labels = (rng.random(n) < 0.25).astype(int)
    flags = {
        name: np.where(labels == 1, rng.random(n) < 0.6, rng.random(n) < 0.05) for name in ("champion", "candidate")
    }
    rules = FairnessParams(groups=(FairnessGrouping(column="channel"),), min_rows=20, min_positives=5)
    split = fairness.grouping(frame, rules.groups[0])
    audited = fairness.audit(labels, flags, [split], rules, seed=seed, resamples=200, confidence=0.95)
    gate_rules = GateParams.model_validate(
        {
            "fairness": {
                "recall": {"max_gap": 0.02, "max_increase": 0.0},
                "false_positive_rate": {"max_gap": 0.0, "max_increase": 0.0},
                "flagged_share_ratio": {"min_ratio": 0.98, "max_decrease": 0.0},
            }
        }
    )
    evidence, _ = gate.fairness_rules(audited, gate_rules)
    recall = audited.models["candidate"]["channel"].gaps["recall"].interval
    assert recall is not None
    return evidence["channel"], recall.value


@pytest.mark.slow  # 200 audits
def test_a_model_with_no_real_gap_fails_the_fairness_rules_at_most_at_the_nominal_rate() -> None:
    # The largest of six pairwise differences is inflated by selection (a per-pair interval of the
    # observed extremes fires far above 5% here); the simultaneous intervals fire at most 1 - confidence
    seeds = 200
    fired = dict.fromkeys(("max_gap", "max_increase", "min_ratio", "max_decrease"), 0)
    observed = []
    for seed in range(seeds):
        evidence, recall_gap = _four_equal_groups(seed)
        observed.append(recall_gap)
        for verdict in evidence.values():  # type: ignore[attr-defined]
            for rule in set(verdict["failed"]):
                fired[rule] += 1
    alpha = 0.05
    # each rule is judged on up to two gaps, so at most 2 * alpha per run with slack
    assert all(count <= 2 * 2 * alpha * seeds for count in fired.values()), fired
    assert fired["max_gap"] + fired["max_increase"] <= 2 * 2 * 2 * alpha * seeds, fired
    assert float(np.median(observed)) > 0.05  # the point estimates do show a "gap": selection at work
