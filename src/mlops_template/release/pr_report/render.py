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
SLICE_METRICS = ("average_precision", "recall", "precision", "roc_auc")
SLICE_TOLERANCE = 0.01  # a slice metric "got worse" when it fell by more than this
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
        if path not in {METRICS_FILE, "reports/slices.json", "reports/gate.json"}
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


def worse_slices(base: Mapping[str, Any] | None, head: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Slice metrics that fell by more than SLICE_TOLERANCE, worst first."""
    found = []
    for column, values in sorted((head or {}).items()):
        for value, metrics in sorted(values.items()):
            before = ((base or {}).get(column) or {}).get(value)
            if not before:
                continue
            for name in SLICE_METRICS:
                old, new = before.get(name), metrics.get(name)
                if old is not None and new is not None and new < old - SLICE_TOLERANCE:
                    where = {"slice": f"{column}={value}", "metric": name}
                    found.append(
                        {**where, "old": old, "new": new, **{k: metrics.get(k) for k in ("rows", "positives")}}
                    )
    return sorted(found, key=lambda row: (row["new"] - row["old"], row["slice"], row["metric"]))


def slices_section(base: Mapping[str, Any] | None, head: Mapping[str, Any] | None, words: Mapping[str, str]) -> str:
    lines = ["### Slices that got worse", ""]
    if base is None or head is None:
        return "\n".join([*lines, "No slice metrics at the base revision to compare with."])
    rows = worse_slices(base, head)
    if not rows:
        return "\n".join([*lines, f"No slice metric fell by more than {SLICE_TOLERANCE}."])
    lines += [
        f"| slice | metric | base | head | change | rows ({words['positive']}) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| `{r['slice']}` | {r['metric']} | {r['old']:.4f} | {r['new']:.4f} | ▼ {r['new'] - r['old']:+.4f} "
        f"| {r['rows']} ({r['positives']}) |"
        for r in rows[:MAX_SLICE_ROWS]
    ]
    if len(rows) > MAX_SLICE_ROWS:
        lines += ["", f"… and {len(rows) - MAX_SLICE_ROWS} more (reports/slices.json)."]
    return "\n".join(lines)


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
        slices_section(report["slices"].get("base"), report["slices"].get("head"), words),
        data_section(report["data"].get("base"), report["data"]["head"], words),
        other_metrics_section(report.get("metrics_diff") or {}),
        mlflow_section(report.get("mlflow_run_url")),
        charts_section(report.get("plots") or {}, int(report.get("calibration_bins", 10)), words),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"
