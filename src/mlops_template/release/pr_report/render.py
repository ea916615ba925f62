"""The PR report as Markdown, from plain dicts (the I/O layer, `sources`, reads git and DVC).

Nothing here reads a file or the environment, so tests render any situation from fixture dicts. The
task's words (what a row is, the class names) come in the dict too (`words`, from the data contract).
No images, and no external link unless a tracking server is configured (the MLflow run).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops_template.release.pr_report import charts

MARKER = "<!-- mlops-template:pr-report -->"  # stable: finds the sticky comment whatever CML does
TITLE = "## Model report"
METRICS_FILE = "reports/metrics.json"
# Direction of each metric: True when higher is better.
HIGHER_IS_BETTER = {
    "roc_auc": True,
    "average_precision": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "brier": False,
    "calibration_error": False,
}
MAX_SLICE_ROWS = 15
EPSILON = 1e-12


def _value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"`{value}`"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.2e}" if 0 < abs(value) < 1e-3 else f"{value:.4f}"  # noqa: PLR2004 - tiny: parity


def _param(value: Any) -> str:
    """A params.yaml value as YAML writes it: `0.05`, `true`, `null`, `isotonic`."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _short(commit: str | None) -> str:
    return commit[:8] if commit else "working tree"


def verdict(name: str, old: float | None, new: float | None) -> tuple[str, str]:
    """(arrow with delta, "better" | "worse" | "same" | "new") by the metric's direction."""
    if old is None or new is None:
        return "", "new" if new is not None else ""
    delta = new - old
    if abs(delta) <= EPSILON:
        return "→ 0", "same"
    arrow = "▲" if delta > 0 else "▼"
    better = (delta > 0) == HIGHER_IS_BETTER.get(name, True)
    return f"{arrow} {delta:+.4f}", "✅ better" if better else "🔻 worse"


def header(base: Mapping[str, Any], head: Mapping[str, Any]) -> str:
    return "\n".join(
        [
            MARKER,
            TITLE,
            "",
            (
                f"Head `{head['rev']}` ({_short(head.get('commit'))}) against base `{base['rev']}` "
                f"({_short(base.get('commit'))}), from git and DVC by `mlops-template report`."
            ),
        ]
    )


def metrics_section(diff: Mapping[str, Any], words: Mapping[str, str]) -> str:
    """The model's test metrics (from `dvc metrics diff --all --json`'s entry for metrics.json)."""
    found: Mapping[str, Mapping[str, Any]] = diff.get(METRICS_FILE, {})
    lines = ["### Test metrics", ""]
    if not found:
        return "\n".join([*lines, "No metrics at either revision (run `dvc repro`)."])
    first_run = all(entry.get("old") is None for entry in found.values())
    if first_run:
        lines += ["No metrics at the base revision: this is the first model.", ""]
    lines += ["| metric | base | head | change | |", "|---|---:|---:|---:|---|"]
    for name, higher in HIGHER_IS_BETTER.items():
        entry = found.get(f"model.{name}")
        if entry is None:
            continue
        change, word = verdict(name, entry.get("old"), entry.get("new"))
        arrow = "higher" if higher else "lower"
        lines.append(f"| {name} ({arrow} is better) | {_value(entry.get('old'))} | {_value(entry.get('new'))} "
                     f"| {change} | {word} |")  # fmt: skip
    counts = (("threshold", "threshold"), ("test.rows", "test rows"), ("test.positives", f"test {words['positive']}"))
    for key, label in counts:
        entry = found.get(key)
        if entry is not None:
            lines.append(f"| {label} | {_value(entry.get('old'))} | {_value(entry.get('new'))} | | |")
    return "\n".join(lines)


def other_metrics_section(diff: Mapping[str, Any]) -> str:
    """Every other changed metric (export parity, data quality ...), folded."""
    rows = [
        f"| `{path}` | {key} | {_value(entry.get('old'))} | {_value(entry.get('new'))} |"
        for path, entries in sorted(diff.items())
        if path not in {METRICS_FILE, "reports/slices.json", "reports/gate.json", "reports/fairness.json"}
        for key, entry in sorted(entries.items())
        if entry.get("old") != entry.get("new")
    ]
    if not rows:
        return ""
    table = ["| file | metric | base | head |", "|---|---|---:|---:|", *rows]
    return "\n".join(["<details><summary>Other metrics that changed</summary>", "", *table, "", "</details>"])


def params_section(diff: Mapping[str, Any]) -> str:
    """Changed params (from `dvc params diff --json`)."""
    rows = [
        (f"{name}" if file == "params.yaml" else f"{file}: {name}", entry)
        for file, entries in sorted(diff.items())
        for name, entry in sorted(entries.items())
        if entry.get("old") != entry.get("new")
    ]
    lines = ["### Params", ""]
    if not rows:
        return "\n".join([*lines, "No params changed."])
    lines += ["| param | base | head |", "|---|---|---|"]
    lines += [f"| `{name}` | {_param(entry.get('old'))} | {_param(entry.get('new'))} |" for name, entry in rows]
    return "\n".join(lines)


def _change(entry: Mapping[str, float] | None) -> str:
    if entry is None:
        return "—"
    return f"{entry['value']:+.4f} [{entry['low']:+.4f}, {entry['high']:+.4f}]"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def slices_section(gate: Mapping[str, Any] | None, words: Mapping[str, str]) -> str:
    """Each slice's change, from the gate's paired comparison (the champion and the candidate on the
    same rows): better or worse only when the slice has enough positives and the interval excludes zero;
    the rest, within noise, folded."""
    lines = ["### Slices", ""]
    changes = (gate or {}).get("slices")
    if not changes:
        return "\n".join([*lines, "No paired slice comparison (the gate ran without a champion, or not at all)."])
    confidence = gate["bootstrap"]["confidence"] if gate else 0.95
    least = ((gate or {}).get("rules", {}).get("slices") or {}).get("min_positives")
    header = [
        (f"| slice | metric | base | head | change ({confidence:.0%} CI, paired) | rows ({words['positive']}) | |"),
        "|---|---|---:|---:|---:|---:|---|",
    ]

    def table_row(entry: Mapping[str, Any]) -> str:
        mark = {"better": "✅ better", "worse": "🔻 worse"}.get(entry["verdict"], entry["why"])
        if least is not None and entry["positives"] < least:  # in the task's words
            mark = f"{entry['positives']} {words['positive']} rows, fewer than {least}"
        return (
            f"| `{entry['slice']}` | {entry['metric']} | {_number(entry.get('champion'))} "
            f"| {_number(entry.get('candidate'))} | {_change(entry.get('difference'))} "
            f"| {entry['rows']:,} ({entry['positives']}) | {mark} |"
        )

    judged = sorted(
        (e for e in changes if e["verdict"] in {"better", "worse"}),
        key=lambda e: (e["verdict"] != "worse", e["difference"]["value"], e["slice"], e["metric"]),
    )
    rule = (
        f"A change is called better or worse only when the slice holds at least {least} {words['positive']} "
        "rows and its paired interval excludes zero."
    )
    if judged:
        lines += [rule, "", *header, *(table_row(e) for e in judged[:MAX_SLICE_ROWS])]
        if len(judged) > MAX_SLICE_ROWS:
            lines += ["", f"… and {len(judged) - MAX_SLICE_ROWS} more (reports/gate.json)."]
    else:
        lines += [f"No slice changed beyond noise. {rule}"]
    noise = [e for e in changes if e["verdict"] not in {"better", "worse"}]
    if noise:
        lines += [
            "",
            f"<details><summary>Within noise ({len(noise)})</summary>",
            "",
            *header,
            *(table_row(e) for e in noise),
            "",
            "</details>",
        ]
    return "\n".join(lines)


GAP_NAMES = {
    "recall": "recall gap",
    "false_positive_rate": "false positive rate gap",
    "flagged_share_ratio": "flagged-share ratio",
}


def fairness_section(gate: Mapping[str, Any] | None, words: Mapping[str, str]) -> str:
    """How the change moved each fairness gap (the gate's audit of both models on the same rows)."""
    lines = ["### Fairness", ""]
    found = (gate or {}).get("fairness")
    if not found:
        return "\n".join([*lines, "No fairness audit (params.yaml `evaluate.fairness.groups` is empty, or no gate)."])
    confidence = gate["bootstrap"]["confidence"] if gate else 0.95
    lines += [
        (
            f"Largest gaps between groups at each model's threshold (recall and false positive rate: highest "
            f"minus lowest group; flagged share: lowest over highest, 1 is parity), {confidence:.0%} CI; the "
            f"change is paired (both models on the same resamples). Groups with too few rows or {words['positive']} "
            "rows are left out (reports/fairness.json)."
        ),
        "",
        f"| group by | gap | base | head | change ({confidence:.0%} CI) | groups (head) | rule | |",
        "|---|---|---:|---:|---:|---|---|---|",
    ]
    for column, gaps in found.items():
        for metric, entry in gaps.items():
            head, base = entry["candidate"], entry.get("champion")
            if head.get("value") is None:
                lines.append(f"| {column} | {GAP_NAMES[metric]} | | | | {head.get('reason')} | | |")
                continue
            pair = (
                f"{head['lowest']} / {head['highest']}"
                if metric == "flagged_share_ratio"
                else f"{head['highest']} minus {head['lowest']}"
            )
            rules = entry.get("rule")
            rule = (
                ", ".join(f"{key} {value}" for key, value in rules.items() if value is not None) or "off"
                if rules is not None
                else "reported, not judged"
            )
            mark = "❌ " + ", ".join(entry["failed"]) if entry["failed"] else ""
            lines.append(
                f"| {column} | {GAP_NAMES[metric]} | {_ci(base)} | {_ci(head)} | {_change(entry.get('difference'))} "
                f"| {pair} | {rule} | {mark} |"
            )
    return "\n".join(lines)


def _ci(entry: Mapping[str, Any] | None) -> str:
    if not entry or entry.get("value") is None:
        return "—"
    return f"{entry['value']:.4f} [{entry['low']:.4f}, {entry['high']:.4f}]"


def data_section(base: Mapping[str, Any] | None, head: Mapping[str, Any], words: Mapping[str, str]) -> str:
    """Data version (data.dvc md5), rows and positive rate per split (reports/data_quality.json), weeks."""

    def cell(side: Mapping[str, Any] | None, *path: str) -> Any:
        found: Any = side
        for key in path:
            found = found.get(key) if isinstance(found, Mapping) else None
        return found

    def weeks(side: Mapping[str, Any] | None, split: str) -> str:
        found = cell(side, "weeks", split) or []
        return f"{found[0]} … {found[-1]}" if len(found) > 1 else (found[0] if found else "—")

    lines = ["### Data", "", "| | base | head |", "|---|---|---|"]
    lines.append(f"| data version (data.dvc md5) | {_value(cell(base, 'md5'))} | {_value(cell(head, 'md5'))} |")
    for split in ("train", "valid", "test"):
        old, new = cell(base, "quality", f"{split}_rows"), cell(head, "quality", f"{split}_rows")
        lines.append(f"| {split} rows | {_value(old)} | {_value(new)} |")
        old, new = cell(base, "quality", f"{split}_positive_rate"), cell(head, "quality", f"{split}_positive_rate")
        lines.append(f"| {split} {words['positive']} rate | {_value(old)} | {_value(new)} |")
        lines.append(f"| {split} weeks | {weeks(base, split)} | {weeks(head, split)} |")
    for key, label in (("rows_read", "rows read"), ("rows_rejected", "rows quarantined")):
        lines.append(f"| {label} | {_value(cell(base, 'quality', key))} | {_value(cell(head, 'quality', key))} |")
    return "\n".join(lines)


def gate_section(gate: Mapping[str, Any] | None) -> str:
    lines = ["### Promotion gate", ""]
    if gate is None:
        return "\n".join([*lines, "Not run (no reports/gate.json: run `mlops-template gate`)."])
    mark = "✅ **pass**" if gate["decision"] == "pass" else "❌ **fail**"
    confidence = gate["bootstrap"]["confidence"]
    lines += [f"{mark}: {gate['reason']}", ""]
    champion, difference = gate.get("champion"), gate.get("difference")
    lines += [
        (
            f"| metric | candidate ({confidence:.0%} CI) | champion ({confidence:.0%} CI) "
            f"| difference ({confidence:.0%} CI) | floor | max regression | min gain |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|",
    ]

    def ci(entry: Mapping[str, float] | None, sign: bool = False) -> str:
        if entry is None:
            return "—"
        form = "+.4f" if sign else ".4f"
        return f"{entry['value']:{form}} [{entry['low']:{form}}, {entry['high']:{form}}]"

    for name, found in gate["candidate"]["metrics"].items():
        rule = gate["rules"][name]
        old = champion["metrics"][name] if champion else None
        change = difference[name] if difference else None
        lines.append(
            f"| {name} | {ci(found)} | {ci(old)} | {ci(change, sign=True)} | {rule['floor']} "
            f"| {rule['max_regression']} | {rule['min_gain']} |"
        )
    who = f"candidate `{gate['candidate']['version']}`"
    who += f", champion `{champion['version']}`" if champion else ", no champion (first model)"
    weeks = ", ".join(gate.get("weeks", [])) or "—"
    boot = gate["bootstrap"]
    lines += [
        "",
        (
            f"{who}; {gate['rows']:,} test rows (weeks {weeks}); paired bootstrap, {boot['resamples']} resamples, "
            f"seed {boot['seed']}."
        ),
    ]
    return "\n".join(lines)


def mlflow_section(run_url: str | None) -> str:
    return f"MLflow run: [{run_url}]({run_url})" if run_url else ""


def charts_section(plots: Mapping[str, Any], calibration_bins: int, words: Mapping[str, str]) -> str:
    """Before/after charts drawn by GitHub from Mermaid text (no images)."""
    base, head = plots.get("base") or {}, plots.get("head") or {}
    parts = ["### Charts", "", f"Base and head on the same axes ({charts.LEGEND})."]
    if not head:
        return "\n".join([*parts[:2], "No plot files at the head revision."])
    if "roc" in head:
        parts += ["", charts.roc_chart(base.get("roc"), head["roc"])]
    if "precision_recall" in head:
        parts += ["", charts.precision_recall_chart(base.get("precision_recall"), head["precision_recall"])]
    if "calibration" in head:
        parts += [
            "",
            "Calibration: the light grey line is perfect calibration.",
            "",
            charts.calibration_chart(
                base.get("calibration"), head["calibration"], calibration_bins, positive=words["positive"]
            ),
        ]
    if "feature_importance" in head:

        def importances(table: Mapping[str, list[Any]]) -> dict[str, float]:
            return {str(f): float(v) for f, v in zip(table["feature"], table["importance"], strict=True)}

        old = importances(base["feature_importance"]) if "feature_importance" in base else None
        parts += [
            "",
            "Feature importance: bars are the head, the line the base.",
            "",
            charts.importance_chart(old, importances(head["feature_importance"])),
        ]
    return "\n".join(parts)


def render(report: Mapping[str, Any]) -> str:
    """The whole comment. `report` keys: base, head ({rev, commit}), params_diff, metrics_diff (DVC's
    JSON), slices ({base, head}), data ({base, head}), gate (gate.json or None), mlflow_run_url,
    plots ({base, head}: name -> columns), calibration_bins, words ({row, positive, negative})."""
    words: Mapping[str, str] = report["words"]
    sections = [
        header(report["base"], report["head"]),
        gate_section(report.get("gate")),
        metrics_section(report.get("metrics_diff") or {}, words),
        params_section(report.get("params_diff") or {}),
        fairness_section(report.get("gate"), words),
        slices_section(report.get("gate"), words),
        data_section(report["data"].get("base"), report["data"]["head"], words),
        other_metrics_section(report.get("metrics_diff") or {}),
        mlflow_section(report.get("mlflow_run_url")),
        charts_section(report.get("plots") or {}, int(report.get("calibration_bins", 10)), words),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"
