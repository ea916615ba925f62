"""The scoreboards as a reader sees them: Markdown (charts beside it as .svg files) and one HTML page.

Both formats render the same sections (titled text, tables and charts), so they never say different
things. The HTML page is self-contained: its style is inline, its charts are inline SVG, and it holds
no script and no URL, so it opens the same with no network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlops_template.experiments.compare import charts
from mlops_template.experiments.compare.charts import escape
from mlops_template.model.metric_statistics import METRICS

TOO_FEW = "too few positives to judge"

CHART_TITLES = {
    "roc": "ROC curve",
    "precision_recall": "Precision-recall curve",
    "calibration": "Calibration (reliability)",
    "ablation_average_precision": "Change in average precision when left out",
    "ablation_recall": "Change in recall when left out",
}
STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:90em;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em}"
    "th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:left;font-size:0.9em}"
    "th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "figure{display:inline-block;margin:0.5em}"
)


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    caption: str = ""


@dataclass(frozen=True)
class Section:
    title: str
    text: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    charts: tuple[str, ...] = ()  # names in the page's chart mapping
    notes: tuple[str, ...] = field(default=())  # after the tables


# --- cells -------------------------------------------------------------------------------------------


def interval(found: Mapping[str, Any] | None) -> str:
    if found is None:
        return "n/a"
    return f"{found['value']:.4f} [{found['low']:.4f}, {found['high']:.4f}]"


def difference(found: Mapping[str, Any] | str | None) -> str:
    if found is None:
        return ""
    if isinstance(found, str):
        return found
    return f"{found['value']:+.4f} [{found['low']:+.4f}, {found['high']:+.4f}] {found['verdict']}"


def slice_difference(found: Mapping[str, Any], judged: bool) -> str:
    """A slice's paired difference with the verdict of `model/slice_changes.py`; a slice under
    `gate.slices.min_positives` says so, as its change is within noise whatever the interval."""
    text = f"n/a {found['verdict']}" if found["value"] is None else difference(found)
    return text if judged else f"{text} ({TOO_FEW})"


def number(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


# --- the comparison's sections --------------------------------------------------------------------------


def _models_table(board: Mapping[str, Any]) -> Table:
    return Table(
        ("REF", "kind", "version", "threshold", "source"),
        [
            (
                m["ref"],
                m["kind"],
                m["version"],
                "flags none" if m["threshold"] is None else f"{m['threshold']:.4f}",
                m["source"],
            )
            for m in board["models"]
        ],
    )


def _metrics_table(board: Mapping[str, Any], confidence: str) -> Table:
    models, first = board["models"], board["reference"]
    header = ["metric"]
    for position, model in enumerate(models):
        header.append(f"{model['ref']} ({confidence} CI)")
        if position:
            header.append(f"{model['ref']} - {first} ({confidence} CI)")
    rows = []
    for name in METRICS:
        row = [name]
        for position, model in enumerate(models):
            row.append(interval(model["metrics"].get(name)))
            if position:
                row.append(difference(model["difference"].get(name)))
        rows.append(tuple(row))
    return Table(tuple(header), rows)


def _slice_tables(board: Mapping[str, Any]) -> tuple[Table, ...]:
    models, first = board["models"], board["reference"]
    tables = []
    for column, values in board["slices"].items():
        header = ["value", "rows", "positives"]
        header += [f"{m['ref']} AP / recall" for m in models]
        header += [f"{m['ref']} - {first}: {metric}" for m in models[1:] for metric in ("AP", "recall")]
        rows = []
        for value, found in values.items():
            row = [value, str(found["rows"]), str(found["positives"])]
            for model in models:
                measured = found["models"][model["ref"]]
                row.append(f"{number(measured['average_precision'])} / {number(measured['recall'])}")
            for model in models[1:]:
                changed = found["difference"][model["ref"]]
                row += [slice_difference(changed[name], found["judged"]) for name in ("average_precision", "recall")]
            rows.append(tuple(row))
        tables.append(Table(tuple(header), rows, caption=f"by {column}"))
    return tuple(tables)


def _disagreement_table(board: Mapping[str, Any]) -> Table:
    found = board["disagreements"]
    refs = [m["ref"] for m in board["models"]]
    rows = []
    for rank, row in enumerate(found, start=1):
        cells = [str(rank), row["id"], row["true"]]
        cells += [f"{row['models'][ref]['probability']:.4f} ({row['models'][ref]['label']})" for ref in refs]
        cells.append(", ".join(f"{k}={'missing' if v is None else v}" for k, v in row["inputs"].items()))
        rows.append(tuple(cells))
    return Table(("#", "id", "true label", *refs, "inputs"), rows)


def comparison_sections(board: Mapping[str, Any]) -> list[Section]:
    rows, boot = board["rows"], board["bootstrap"]
    confidence = f"{boot['confidence']:.0%}"
    weeks = ", ".join(rows["weeks"]) or "unknown weeks"
    intro = (
        (
            f"{rows['rows']} test rows ({rows['positives']} {rows['positive_class']}; weeks {weeks}), every model "
            "scored through its served artifact at its own threshold."
        ),
        (
            f"Intervals: bootstrap percentile, {confidence}, {boot['resamples']} resamples (seed {boot['seed']}); "
            f"differences are paired (one resample of rows for every model) against `{board['reference']}`, and "
            "called better or worse only when their interval excludes zero."
        ),
    )
    sections = [
        Section("Model comparison", text=intro),
        Section("Models", tables=(_models_table(board),)),
        Section("Metrics", tables=(_metrics_table(board, confidence),)),
    ]
    if board["slices"]:
        sections.append(
            Section(
                "Slices",
                text=(
                    (
                        f"Average precision and recall per slice value; paired {confidence} intervals of the "
                        "differences (one resample of all rows, the slice taken from it), called better or worse "
                        f"only for a slice of {board['slice_min_positives']} positives or more "
                        "(gate.slices.min_positives), as in the PR report."
                    ),
                ),
                tables=_slice_tables(board),
            )
        )
    if board.get("groups"):
        sections.append(
            Section(
                "Groups",
                text=(
                    (
                        "The fairness audit's groups (evaluate.fairness): rates at each model's threshold with "
                        f"{confidence} intervals; a group too small to judge says so. Gaps are between the highest "
                        "and lowest judged groups; their changes are paired, against the first model audited "
                        "(the baseline, which flags no row, is not)."
                    ),
                ),
                tables=tuple(group_tables(board)),
            )
        )
    if board["disagreements"]:
        sections.append(
            Section(
                "Where the models disagree most",
                text=(
                    (
                        "The rows whose probabilities differ most between the models "
                        "(each model's probability, and its label at its threshold)."
                    ),
                ),
                tables=(_disagreement_table(board),),
            )
        )
    sections.append(Section("Charts", charts=("roc", "precision_recall", "calibration")))
    return sections


GROUP_RATES = ("recall", "false_positive_rate", "flagged_share", "precision")
GROUP_RATE_NAMES = {
    "recall": "recall",
    "false_positive_rate": "FPR",
    "flagged_share": "flagged",
    "precision": "precision",
}


def group_tables(board: Mapping[str, Any]) -> list[Table]:
    """Per grouping column: each group's rates per model, then each gap per model and its paired change."""
    tables = []
    for column, found in board["groups"].items():
        per_model = found["models"]
        refs = [m["ref"] for m in board["models"] if m["ref"] in per_model]
        first = refs[0]
        groups = per_model[first]["groups"]
        header = ["group", "rows", "positives"]
        header += [f"{ref}: {GROUP_RATE_NAMES[rate]}" for ref in refs for rate in GROUP_RATES]
        rows = []
        for name, counts in groups.items():
            row = [name, str(counts["rows"]["value"]), str(counts["positives"]["value"])]
            for ref in refs:
                group = per_model[ref]["groups"][name]
                row += ["too small" if group["too_small"] else interval(group[rate]) for rate in GROUP_RATES]
            rows.append(tuple(row))
        tables.append(Table(tuple(header), rows, caption=f"by {column}: rates at each model's threshold"))
        gaps = per_model[first]["gaps"]
        header = ["gap", *(ref for ref in refs)] + [f"{ref} - {first}" for ref in refs[1:]]
        gap_rows = []
        for gap in gaps:
            row = [gap]
            for ref in refs:
                measured = per_model[ref]["gaps"][gap]
                row.append(interval(measured) if measured.get("value") is not None else str(measured.get("reason")))
            for ref in refs[1:]:
                changed = found["difference"][ref][gap]
                row.append("n/a" if changed is None else difference({**changed, "verdict": ""}).strip())
            gap_rows.append(tuple(row))
        tables.append(Table(tuple(header), gap_rows, caption=f"by {column}: largest gaps between judged groups"))
    return tables


def comparison_charts(board: Mapping[str, Any]) -> dict[str, str]:
    curves = board["curves"]
    return {
        "roc": charts.curves(
            CHART_TITLES["roc"], curves["roc"], x_label="false positive rate", y_label="recall", diagonal=True
        ),
        "precision_recall": charts.curves(
            CHART_TITLES["precision_recall"], curves["precision_recall"], x_label="recall", y_label="precision"
        ),
        "calibration": charts.curves(
            CHART_TITLES["calibration"],
            curves["calibration"],
            x_label="mean predicted probability",
            y_label="observed positive rate",
            diagonal=True,
        ),
    }


# --- the two formats ----------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(sections: Sequence[Section], chart_files: Mapping[str, str]) -> str:
    """Markdown; a chart is an image link to its .svg file beside the page."""
    lines: list[str] = []
    for position, section in enumerate(sections):
        lines += [f"{'#' if position == 0 else '##'} {section.title}", ""]
        for paragraph in section.text:
            lines += [paragraph, ""]
        for table in section.tables:
            if table.caption:
                lines += [f"**{table.caption}**", ""]
            lines.append("| " + " | ".join(_md_cell(h) for h in table.header) + " |")
            lines.append("|" + "|".join(" --- " for _ in table.header) + "|")
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
            lines.append("")
        for name in section.charts:
            lines += [f"![{CHART_TITLES.get(name, name)}]({chart_files[name]})", ""]
        for note in section.notes:
            lines += [note, ""]
    return "\n".join(lines).rstrip() + "\n"


def _numeric(cell: str) -> bool:
    head = cell.split(" ", 1)[0].lstrip("+-")
    return head.replace(".", "", 1).isdigit()


def html(title: str, sections: Sequence[Section], svgs: Mapping[str, str]) -> str:
    """One self-contained page: inline style, inline SVG, no script, no URL."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
    ]
    for position, section in enumerate(sections):
        tag = "h1" if position == 0 else "h2"
        parts.append(f"<{tag}>{escape(section.title)}</{tag}>")
        parts += [f"<p>{escape(paragraph).replace('`', '')}</p>" for paragraph in section.text]
        for table in section.tables:
            parts.append("<table>")
            if table.caption:
                parts.append(f"<caption>{escape(table.caption)}</caption>")
            parts.append("<tr>" + "".join(f"<th>{escape(h)}</th>" for h in table.header) + "</tr>")
            for row in table.rows:
                cells = "".join(
                    f'<td class="n">{escape(c)}</td>' if _numeric(c) else f"<td>{escape(c)}</td>" for c in row
                )
                parts.append(f"<tr>{cells}</tr>")
            parts.append("</table>")
        parts += [f"<figure>{svgs[name]}</figure>" for name in section.charts]
        parts += [f"<p>{escape(note).replace('`', '')}</p>" for note in section.notes]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# --- the ablation's sections ----------------------------------------------------------------------------

ABLATION_CHARTS = ("ablation_average_precision", "ablation_recall")


def ablation_sections(board: Mapping[str, Any]) -> list[Section]:
    rows, boot, full = board["rows"], board["bootstrap"], board["all_inputs"]
    confidence = f"{boot['confidence']:.0%}"
    intro = (
        (
            "One retrain per input (or declared group) left out: the same splits, params and seed; "
            f"{rows['rows']} test rows ({rows['positives']} {rows['positive_class']}), each model at its own threshold."
        ),
        (
            f"With every input: average precision {interval(full['metrics'].get('average_precision'))}, recall "
            f"{interval(full['metrics'].get('recall'))} (threshold {full['threshold']:.4f})."
        ),
        (
            f"Change = without - with, paired bootstrap ({boot['resamples']} resamples, {confidence}, "
            f"seed {boot['seed']}): `worse` means the input is worth something. Permutation importance (the model "
            "with every input; the drop in average precision when the input is shuffled) says what the model uses, "
            "not what the input is worth."
        ),
    )
    table_rows = []
    for found in board["left_out"]:
        importance = found["permutation_importance"]
        shown = ", ".join(f"{c} {v['mean']:+.4f} ± {v['std']:.4f}" for c, v in importance.items())
        table_rows.append(
            (
                found["left_out"]
                if found["columns"] == [found["left_out"]]
                else f"{found['left_out']} ({', '.join(found['columns'])})",
                interval(found["metrics"]["average_precision"]),
                difference(found["difference"]["average_precision"]),
                interval(found["metrics"]["recall"]),
                difference(found["difference"]["recall"]),
                f"{found['threshold']:.4f}",
                shown,
            )
        )
    header = (
        "left out",
        f"average precision ({confidence} CI)",
        "change in average precision",
        f"recall ({confidence} CI)",
        "change in recall",
        "threshold",
        "permutation importance (mean ± std)",
    )
    return [
        Section("What each input is worth", text=intro),
        Section("Scoreboard", tables=(Table(header, table_rows),)),
        Section("Charts", charts=ABLATION_CHARTS),
    ]


def ablation_charts(board: Mapping[str, Any]) -> dict[str, str]:
    found = {}
    for name in ABLATION_CHARTS:
        title = CHART_TITLES[name]
        metric = name.removeprefix("ablation_")
        bars = [
            charts.Bar(row["left_out"], *(row["difference"][metric][k] for k in ("value", "low", "high")))
            for row in board["left_out"]
        ]
        found[name] = charts.intervals(title, bars, x_label="without - with (below zero: the input is worth something)")
    return found
