"""The promotion gate: is the candidate good enough, and is it no worse than the champion?

Both models score the SAME rows (the candidate's newest test weeks), each through its own served
artifact and at its own threshold. A paired bootstrap draws one resample of rows per replicate and
applies it to both models, so the interval of the difference measures how the two models disagree,
not the sampling noise they share (which is most of it: two similar models have a much narrower
difference interval than either metric's own interval).

Metrics: average precision (threshold-free ranking quality) and recall at the model's threshold (the
share of positives the served model flags). Intervals are bootstrap percentile intervals at `confidence`
(model/statistics.py, whose average precision and bootstrap the monitor uses too).

The decision, in this order, with the rules of params.yaml `gate:` (one set per metric):
1. Floors: every metric's candidate point estimate must reach its `floor`, else FAIL. (Point, not
   lower bound: with a week of test data the lower bound of recall sits ~0.1 below the estimate, and
   a floor on it would reject good models by chance; the interval is in the evidence for a reader.)
2. No champion (the first model): PASS on floors alone.
3. Non-inferiority: for every metric the lower bound of the difference (candidate - champion) must be
   at least `-max_regression`, else FAIL: we ship only when the data rule out a regression larger
   than the margin.
4. Gain: meaningful when, for some metric, the difference's point estimate reaches `min_gain` AND its
   lower bound is above zero (practically and statistically significant). Without one the candidate
   PASSES with a note, unless `require_gain: true`. Why pass by default: a weekly retrain exists to
   keep the model fresh on new data, which one test week rarely shows as a significant gain, and a
   refactor or a params change that is neutral must be mergeable; non-inferiority (3.) already
   protects production. Teams that deploy only improvements set `require_gain: true`.

Fairness (params.yaml `gate.fairness`, on the groups of `evaluate.fairness`, model/fairness.py): both
models are audited on the same rows with the same resamples, so each gap (recall, false positive rate:
highest minus lowest group; flagged-share ratio: lowest over highest) has each model's interval and a
paired interval of its change. A fairness rule fails only on evidence, because the largest of several
noisy group differences is inflated by chance (a rule on the point estimate, or on the interval of the
two extreme groups alone, would fail fair models): the intervals are simultaneous over all pairs of
judged groups (a max-statistic bootstrap, model/fairness.py), so a rule fires on a model with no real
gap (or no real change) at most 1 - confidence of the time:
5. A gap whose lower bound is above its `max_gap` (a ratio whose upper bound is below its `min_ratio`)
   FAILS with the floors (1.), champion or not: the data show a gap larger than allowed.
6. A gap whose growth against the champion has a lower bound above `max_increase` (a ratio whose fall
   has one above `max_decrease`) FAILS with non-inferiority (3.): the change widened it, by evidence.
Null turns a rule off; `gate.fairness.columns` names the groupings the rules judge (the others are
reported, not judged). Groups too small to judge are left out of the gaps (model/fairness.py).

The evidence also carries, for the PR report, each slice's paired change (model/slice_changes.py):
called better or worse only when the slice has `gate.slices.min_positives` positives and the
interval excludes zero.

Output: the evidence as stable JSON (a DVC metric: `dvc metrics diff` shows it), the reason in one
line on stdout, exit status 0 (pass), 1 (fail) or 2 (a user error).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops_template.core.command import EXIT_FAILED, EXIT_OK, params_argument, run_command
from mlops_template.core.config import GATE_METRICS, FairnessParams, GateParams
from mlops_template.core.errors import MlopsTemplateError
from mlops_template.model.statistics import Bootstrap, Interval, Statistic, average_precision, paired_bootstrap, recall

if TYPE_CHECKING:
    from mlops_template.model.fairness import Audit

logger = logging.getLogger(__name__)

PASS, FAIL = "pass", "fail"


class GateError(MlopsTemplateError):
    """The gate's inputs are missing or cannot be compared."""


def model_statistics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Statistic]:
    """The gate's metrics for one model's scores at its own threshold (as evaluate measures them)."""
    return {
        "average_precision": average_precision(labels, scores),
        "recall": recall(labels, scores >= threshold),
    }


# --- the decision ----------------------------------------------------------------------------------------


def _ci(interval: Interval, confidence: float) -> str:
    return f"{confidence:.0%} CI [{interval.low:+.4f}, {interval.high:+.4f}]"


def decide(result: Bootstrap, rules: GateParams, fairness: tuple[list[str], list[str]] = ([], [])) -> tuple[str, str]:
    """(decision, reason in one line) by the rules in this module's docstring. `fairness`: the reasons
    of the fairness rules that failed, (gaps too large, gaps that grew too much): see `fairness_rules`."""
    too_wide, grew = fairness
    below = [
        f"{name} {result.candidate[name].value:.4f} is below its floor {rules.rule(name).floor:.4f}"
        for name in GATE_METRICS
        if result.candidate[name].value < rules.rule(name).floor
    ] + too_wide
    if below:
        return FAIL, "; ".join(below)
    if result.difference is None:
        met = ", ".join(f"{n} {result.candidate[n].value:.4f} >= {rules.rule(n).floor:.4f}" for n in GATE_METRICS)
        return PASS, f"first model (no champion to compare): floors met ({met})"
    diff = result.difference
    regressed = [
        f"{name} may have regressed by more than {rules.rule(name).max_regression:.4f} "
        f"(difference {diff[name].value:+.4f}, {_ci(diff[name], rules.confidence)})"
        for name in GATE_METRICS
        if diff[name].low < -rules.rule(name).max_regression
    ] + grew
    if regressed:
        return FAIL, "; ".join(regressed)
    gains = [
        f"{name} +{diff[name].value:.4f} ({_ci(diff[name], rules.confidence)})"
        for name in GATE_METRICS
        if diff[name].value >= rules.rule(name).min_gain and diff[name].low > 0
    ]
    if gains:
        return PASS, f"better than the champion: {', '.join(gains)}; no metric regressed beyond its margin"
    shown = ", ".join(f"{n} {diff[n].value:+.4f} ({_ci(diff[n], rules.confidence)})" for n in GATE_METRICS)
    if rules.require_gain:
        return FAIL, f"no meaningful gain over the champion and gate.require_gain is true: {shown}"
    return PASS, f"no meaningful gain over the champion, no regression beyond the margins (note): {shown}"


GAP_WORDS = {"recall": "recall gap", "false_positive_rate": "false positive rate gap"}


def fairness_rules(audited: Audit, rules: GateParams) -> tuple[dict[str, Any], tuple[list[str], list[str]]]:
    """The fairness evidence (per grouping and gap: candidate, champion, paired change, rule, verdict)
    and the reasons of the rules that failed: (gaps too large, gaps that grew too much)."""
    ci = f"{rules.confidence:.0%} CI"
    too_wide: list[str] = []
    grew: list[str] = []
    evidence: dict[str, Any] = {}
    change = audited.differences.get("candidate", {})
    judged = rules.fairness.columns
    for column, result in audited.models["candidate"].items():
        evidence[column] = {}
        if judged is not None and column not in judged:  # reported, not judged
            for metric in (*GAP_WORDS, "flagged_share_ratio"):
                old = audited.models["champion"][column].gaps[metric] if "champion" in audited.models else None
                evidence[column][metric] = {
                    "candidate": result.gaps[metric].as_json(),
                    "champion": old.as_json() if old is not None else None,
                    "difference": _rounded(change.get(column, {}).get(metric)),
                    "rule": None,
                    "failed": [],
                }
            continue
        for metric in (*GAP_WORDS, "flagged_share_ratio"):
            gap = result.gaps[metric]
            old = audited.models["champion"][column].gaps[metric] if "champion" in audited.models else None
            moved = change.get(column, {}).get(metric)
            rule = getattr(rules.fairness, metric)
            failures: list[str] = []
            if gap.interval is not None and metric in GAP_WORDS:
                where = f"fairness: {column} {GAP_WORDS[metric]} {gap.interval.value:.4f}"
                bounds = f"{ci} [{gap.interval.low:.4f}, {gap.interval.high:.4f}], {gap.highest} minus {gap.lowest}"
                if rule.max_gap is not None and gap.interval.low > rule.max_gap:
                    too_wide.append(f"{where} ({bounds}) is above gate.fairness.{metric}.max_gap {rule.max_gap:.4f}")
                    failures.append("max_gap")
                if rule.max_increase is not None and moved is not None and moved.low > rule.max_increase:
                    grew.append(
                        f"fairness: {column} {GAP_WORDS[metric]} grew by {moved.value:+.4f} ({ci} "
                        f"[{moved.low:+.4f}, {moved.high:+.4f}]), more than gate.fairness.{metric}.max_increase "
                        f"{rule.max_increase:.4f}"
                    )
                    failures.append("max_increase")
            elif gap.interval is not None:
                where = f"fairness: {column} flagged-share ratio {gap.interval.value:.4f}"
                bounds = f"{ci} [{gap.interval.low:.4f}, {gap.interval.high:.4f}], {gap.lowest} over {gap.highest}"
                if rule.min_ratio is not None and gap.interval.high < rule.min_ratio:
                    too_wide.append(
                        f"{where} ({bounds}) is below gate.fairness.{metric}.min_ratio {rule.min_ratio:.4f}"
                    )
                    failures.append("min_ratio")
                if rule.max_decrease is not None and moved is not None and -moved.high > rule.max_decrease:
                    grew.append(
                        f"fairness: {column} flagged-share ratio fell by {-moved.value:.4f} ({ci} "
                        f"[{moved.low:+.4f}, {moved.high:+.4f}]), more than "
                        f"gate.fairness.{metric}.max_decrease {rule.max_decrease:.4f}"
                    )
                    failures.append("max_decrease")
            evidence[column][metric] = {
                "candidate": gap.as_json(),
                "champion": old.as_json() if old is not None else None,
                "difference": _rounded(moved),
                "rule": rule.model_dump(mode="json"),
                "failed": failures,
            }
    return evidence, (too_wide, grew)


def _rounded(interval: Interval | None) -> dict[str, float] | None:
    return None if interval is None else {k: v + 0.0 for k, v in interval.as_dict().items()}


def report(
    result: Bootstrap,
    rules: GateParams,
    *,
    rows: int,
    weeks: list[str],
    candidate: Mapping[str, Any],
    champion: Mapping[str, Any] | None,
    audited: Audit | None = None,
    slices: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The evidence as a JSON-ready dict (the shape of reports/gate.json)."""
    fairness, failed = fairness_rules(audited, rules) if audited is not None else (None, ([], []))
    decision, reason = decide(result, rules, failed)

    def side(info: Mapping[str, Any], intervals: dict[str, Interval]) -> dict[str, Any]:
        return {
            "version": info["version"],
            "threshold": info["threshold"],
            "metrics": {name: interval.as_dict() for name, interval in intervals.items()},
        }

    dumped = rules.model_dump(mode="json")
    return {
        "decision": decision,
        "reason": reason,
        "rows": rows,
        "weeks": list(weeks),
        "candidate": side(candidate, result.candidate),
        "champion": side(champion, result.champion) if champion is not None and result.champion else None,
        "difference": (
            {name: interval.as_dict() for name, interval in result.difference.items()} if result.difference else None
        ),
        "rules": {name: dumped[name] for name in (*GATE_METRICS, "require_gain", "fairness", "slices")},
        "fairness": fairness,
        "slices": slices,
        "bootstrap": {
            "resamples": rules.resamples,
            "confidence": rules.confidence,
            "seed": rules.seed,
            "replicates_used": result.replicates,
        },
    }


# --- the entry point ----------------------------------------------------------------------------------------


def _score(served_dir: Path, rows: Any) -> tuple[dict[str, Any], np.ndarray]:
    from mlops_template.model.artifact import ServedModel  # noqa: PLC0415
    from mlops_template.model.scoring import served_scores  # noqa: PLC0415

    if not (served_dir / "served.json").is_file():
        msg = f"{served_dir}: not a served model directory (no served.json; run the export stage)"
        raise GateError(msg)
    served = ServedModel.load(served_dir)
    return {"version": served.version, "threshold": served.threshold}, served_scores(served, rows)


def run(
    rules: GateParams,
    *,
    candidate_dir: Path,
    champion_dir: Path | None,
    rows_path: Path,
    weeks_path: Path | None,
    fairness: FairnessParams | None = None,
    slices: Sequence[str] = (),
    min_slice_rows: int = 100,
) -> dict[str, Any]:
    """Score both models on the rows, bootstrap, audit the groups of `fairness`, compare the `slices`,
    decide: the evidence dict."""
    from mlops_template.core import io  # noqa: PLC0415
    from mlops_template.data import schema  # noqa: PLC0415
    from mlops_template.data.splits import read_split  # noqa: PLC0415

    frame = read_split(rows_path)
    labels = frame[schema.LABEL].to_numpy(dtype=int)
    candidate, candidate_scores = _score(candidate_dir, frame)
    statistics = model_statistics(labels, candidate_scores, candidate["threshold"])
    champion, champion_statistics = None, None
    flagged = {"candidate": candidate_scores >= candidate["threshold"]}
    changes = None
    if champion_dir is not None:
        champion, champion_scores = _score(champion_dir, frame)
        champion_statistics = model_statistics(labels, champion_scores, champion["threshold"])
        flagged = {"champion": champion_scores >= champion["threshold"], **flagged}  # the reference first
        changes = _slice_changes(
            frame,
            labels,
            champion=(champion_scores, champion["threshold"]),
            candidate=(candidate_scores, candidate["threshold"]),
            rules=rules,
            columns=slices,
            min_rows=min_slice_rows,
        )
    audited = _audit(frame, labels, flagged, fairness, rules) if fairness is not None and fairness.groups else None
    result = paired_bootstrap(
        len(labels),
        statistics,
        champion_statistics,
        resamples=rules.resamples,
        confidence=rules.confidence,
        seed=rules.seed,
    )
    weeks: list[str] = []
    if weeks_path is not None and weeks_path.is_file():
        weeks = list(io.read_json(weeks_path).get("test", []))
    return report(
        result,
        rules,
        rows=len(labels),
        weeks=weeks,
        candidate=candidate,
        champion=champion,
        audited=audited,
        slices=changes,
    )


def _audit(
    frame: Any, labels: np.ndarray, flagged: dict[str, np.ndarray], fairness: FairnessParams, rules: GateParams
) -> Audit:
    """Both models' fairness audits on the rows, paired (the gate's resamples, confidence and seed)."""
    from mlops_template.core.params_check import fairness_problems  # noqa: PLC0415
    from mlops_template.data import schema  # noqa: PLC0415
    from mlops_template.model import fairness as audit  # noqa: PLC0415 - pandas, fairlearn

    mistakes = fairness_problems(fairness, schema.active())  # the words of `params check`
    if mistakes:
        raise GateError("\n".join(mistakes))
    return audit.audit(
        labels,
        flagged,
        audit.groupings(frame, fairness.groups),
        fairness,
        seed=rules.seed,
        positive=schema.POSITIVE_CLASS,
        resamples=rules.resamples,
        confidence=rules.confidence,
    )


def _slice_changes(
    frame: Any,
    labels: np.ndarray,
    *,
    champion: tuple[np.ndarray, float],
    candidate: tuple[np.ndarray, float],
    rules: GateParams,
    columns: Sequence[str],
    min_rows: int,
) -> list[dict[str, Any]]:
    from mlops_template.core.params_check import slice_problems  # noqa: PLC0415
    from mlops_template.data import schema  # noqa: PLC0415
    from mlops_template.model.slice_changes import Scored, slice_changes  # noqa: PLC0415

    mistakes = slice_problems(tuple(columns), schema.active())
    if mistakes:
        raise GateError("\n".join(mistakes))
    return slice_changes(
        frame,
        labels,
        {"champion": Scored(*champion), "candidate": Scored(*candidate)},
        columns,
        min_rows=min_rows,
        min_positives=rules.slices.min_positives,
        resamples=rules.resamples,
        confidence=rules.confidence,
        seed=rules.seed,
    )


def _arguments() -> argparse.ArgumentParser:

    parser = argparse.ArgumentParser(
        prog="mlops-template gate",
        description="Compare the candidate with the champion on the same rows (paired bootstrap); "
        "exit 0 pass, 1 fail, 2 user error. Rules: params.yaml `gate:`.",
    )
    params_argument(parser)
    parser.add_argument("--candidate", type=Path, default=Path("models/served"), help="served model directory")
    champion = parser.add_mutually_exclusive_group(required=True)
    champion.add_argument("--champion", help="the champion's served directory, or `none` (first model)")
    champion.add_argument(
        "--base-rev",
        help="take the champion from this git revision: MLflow `champion` alias when a tracking server is set, "
        "else its DVC outputs (cache or remote), else reproduced from that commit",
    )
    parser.add_argument("--rows", type=Path, default=Path("artifacts/ingest/test.parquet"))
    parser.add_argument("--weeks", type=Path, help="weeks.json of the rows (default: beside --rows)")
    parser.add_argument("--out", type=Path, default=Path("reports/gate.json"))
    parser.add_argument(
        "--set-alias", action="store_true", help="with a tracking server: alias the candidate's version `challenger`"
    )
    return parser


def _gate(args: argparse.Namespace) -> int:
    """Decide, write the evidence, print the decision's line; exit 0 for pass, 1 for fail."""
    from mlops_template.core import io  # noqa: PLC0415
    from mlops_template.core.config import load_params  # noqa: PLC0415
    from mlops_template.release import champion  # noqa: PLC0415

    params = load_params(args.params)
    weeks_path = args.weeks or args.rows.parent / "weeks.json"
    with tempfile.TemporaryDirectory(prefix="mlops-gate-") as scratch, contextlib.ExitStack() as stack:
        if args.champion is not None:
            champion_dir = None if args.champion.lower() == "none" else Path(args.champion)
            if champion_dir is not None and not champion_dir.is_dir():
                msg = f"--champion: {champion_dir} is not a directory (a served model dir, or `none`)"
                raise GateError(msg)
        else:
            champion_dir = stack.enter_context(champion.obtain(args.base_rev, Path(scratch), params))
        evidence = run(
            params.gate,
            candidate_dir=args.candidate,
            champion_dir=champion_dir,
            rows_path=args.rows,
            weeks_path=weeks_path,
            fairness=params.evaluate.fairness,
            slices=params.evaluate.slices,
            min_slice_rows=params.evaluate.min_slice_rows,
        )
    io.write_json(args.out, evidence)
    if args.set_alias:
        champion.mark_challenger(params, evidence["candidate"]["version"])
    sys.stdout.write(f"gate: {evidence['decision']}: {evidence['reason']}\n")
    return EXIT_OK if evidence["decision"] == PASS else EXIT_FAILED


def main(argv: list[str] | None = None) -> int:

    return run_command("gate", _arguments(), argv, _gate)
