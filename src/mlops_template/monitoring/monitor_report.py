"""The monitor's report for people: Markdown, and one self-contained HTML page with inline SVG charts.

Nothing in the page points outside it (no scripts, fonts, stylesheets or images from elsewhere; SVG
inline, HTML5 needs no namespace URL), so it can be uploaded as a workflow artifact and opened
offline, and no reader's browser calls anyone.
"""

from __future__ import annotations

from html import escape
from typing import Any

from mlops_template.monitoring.detectors import Finding
from mlops_template.monitoring.reference_profile import Profile

ICONS = {"breach": "BREACH", "ok": "ok", "insufficient": "insufficient"}
COLOURS = {"breach": "#c0392b", "ok": "#2e7d32", "insufficient": "#8d6e00"}
REFERENCE_COLOUR = "#90a4ae"
LIVE_COLOUR = "#1565c0"
SMALL = 1e-3  # shown with significant digits, not four decimals


def _number(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < SMALL and value != 0 else f"{value:.4f}"
    return str(value)


def _cell(text: str) -> str:
    """Text for a Markdown table cell: a pipe would end the cell."""
    return text.replace("|", "\\|")


def band_text(finding: Finding) -> str:
    """The reference weeks' band a finding was judged against ([low, high]; one side open), or why none."""
    band = finding.details.get("band")
    if not band:
        return "none" if finding.details.get("band_note") else "n/a"
    low = None if band["low"] is None else _number(float(band["low"]))
    high = None if band["high"] is None else _number(float(band["high"]))
    shown = f"<= {high}" if low is None else f">= {low}" if high is None else f"[{low}, {high}]"
    return f"{shown} ({band['weeks']} weeks)"


def _value(finding: Finding) -> str:
    return _number(finding.details.get("value"))


def _band_lines(summary: dict[str, Any]) -> list[str]:
    bands = summary.get("bands") or {}
    lines = [
        (
            f"Bands: each statistic per reference week ({len(bands.get('weeks', []))} weeks), centre +/- "
            f"{bands.get('k', 'k')} standard deviations, widened to hold every week; a breach is outside its band too."
        ),
    ]
    lines += [f"Warning: {w}." for w in bands.get("warnings", [])]
    return lines


def _headline(summary: dict[str, Any]) -> str:
    window = summary["window"]
    return (
        f"Window {window['start']} .. {window['end']}: {window['rows']} rows of model {summary['model_version']}, "
        f"{window['labelled']} labelled; reference: held-out weeks {', '.join(summary['reference']['weeks'])}"
        + (f"; bands over {len(bands)} weeks" if (bands := (summary.get("bands") or {}).get("weeks")) else "")
    )


def markdown(summary: dict[str, Any], findings: list[Finding], profile: Profile) -> str:
    """The report as Markdown: status, breaches, then every detector in a table."""
    lines = [
        "# Model monitoring report",
        "",
        f"**Status: {summary['status']}** — {summary['reason']}",
        "",
        _headline(summary),
        "",
    ]
    other = summary.get("rows_other_versions", {})
    if other.get("rows"):
        lines += [f"{other['rows']} rows of other model versions ({', '.join(other['versions'])}) not judged.", ""]
    if summary["breaches"]:
        lines += ["## Breaches", ""]
        lines += [f"- **{b['kind']}** ({b['detector']}): {b['reason']}" for b in summary["breaches"]]
        lines.append("")
    alpha = summary.get("alpha")
    lines += [
        "## Detectors",
        "",
        (
            "A breach needs the effect at or beyond its threshold, the statistic outside the reference weeks' "
            f"band and, where a test applies, p below the run's Bonferroni alpha ({_number(alpha)})."
        ),
        "",
        *_band_lines(summary),
        "",
        "| kind | detector | status | value | reference band | effect | threshold | p-value | reason |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {f.kind} | {f.detector} | {ICONS[f.status]} | {_value(f)} | {band_text(f)} | {_number(f.statistic)} | "
        f"{_number(f.threshold)} | {_number(f.p_value)} | {_cell(f.reason)} |"
        for f in findings
    ]
    lines += [
        "",
        (
            f"Reference (model {profile.model_version}): average precision "
            f"{profile.performance.average_precision:.4f}, "
            f"recall {profile.performance.recall:.4f} at threshold {profile.threshold:.4f}, flagged share "
            f"{profile.flagged_share:.4f}, {profile.calibration.observed} positives where the scores expect "
            f"{profile.calibration.expected:.1f}, {profile.rows_per_week:.0f} rows a week."
        ),
        "",
    ]
    return "\n".join(lines)


# --- SVG charts --------------------------------------------------------------------------------------


def _bars_svg(title: str, labels: list[str], values: list[float], threshold: float, breached: list[bool]) -> str:
    """Horizontal bars (one per label) with a dashed line at the threshold."""
    row, left, width = 18, 230, 360
    height = 30 + row * len(labels)
    top = max([threshold, *values]) * 1.1 or 1.0
    parts = [
        (
            f'<svg role="img" aria-label="{escape(title)}" width="{left + width + 70}" height="{height}" '
            f'viewBox="0 0 {left + width + 70} {height}">'
        ),
        f'<text x="4" y="14" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for i, (label, value, hot) in enumerate(zip(labels, values, breached, strict=True)):
        y = 24 + i * row
        bar = max(value, 0.0) / top * width
        colour = COLOURS["breach"] if hot else LIVE_COLOUR
        parts += [
            f'<text x="{left - 6}" y="{y + 12}" font-size="11" text-anchor="end">{escape(label)}</text>',
            f'<rect x="{left}" y="{y + 2}" width="{bar:.1f}" height="{row - 6}" fill="{colour}"/>',
            f'<text x="{left + bar + 4:.1f}" y="{y + 12}" font-size="10">{value:.3f}</text>',
        ]
    x = left + threshold / top * width
    parts += [
        f'<line x1="{x:.1f}" y1="20" x2="{x:.1f}" y2="{height - 4}" stroke="#000" stroke-dasharray="4 3"/>',
        f'<text x="{x + 3:.1f}" y="{height - 2}" font-size="10">threshold {threshold:g}</text>',
        "</svg>",
    ]
    return "".join(parts)


def _histogram_svg(title: str, bins: list[str], reference: list[int], live: list[int]) -> str:
    """Reference and live shares per bin, side by side."""
    ref_total, live_total = max(sum(reference), 1), max(sum(live), 1)
    ref_share = [c / ref_total for c in reference]
    live_share = [c / live_total for c in live]
    width, height, bottom, left = 560, 200, 160, 40
    top = max([*ref_share, *live_share, 1e-9]) * 1.1
    slot = (width - left) / max(len(bins), 1)
    parts = [
        (
            f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height + 20}" '
            f'viewBox="0 0 {width} {height + 20}">'
        ),
        f'<text x="4" y="14" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{bottom}" x2="{width}" y2="{bottom}" stroke="#000"/>',
    ]
    for i, (r, c) in enumerate(zip(ref_share, live_share, strict=True)):
        x = left + i * slot
        for offset, share, colour in ((0.1, r, REFERENCE_COLOUR), (0.5, c, LIVE_COLOUR)):
            h = share / top * (bottom - 24)
            parts.append(
                f'<rect x="{x + offset * slot:.1f}" y="{bottom - h:.1f}" width="{0.4 * slot:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{escape(bins[i])}: {share:.3f}</title></rect>'
            )
    parts += [
        f'<text x="{left}" y="{bottom + 16}" font-size="10">{escape(bins[0])}</text>',
        f'<text x="{width}" y="{bottom + 16}" font-size="10" text-anchor="end">{escape(bins[-1])}</text>',
        f'<rect x="{left}" y="{height}" width="10" height="10" fill="{REFERENCE_COLOUR}"/>',
        f'<text x="{left + 14}" y="{height + 9}" font-size="11">reference (held-out weeks)</text>',
        f'<rect x="{left + 200}" y="{height}" width="10" height="10" fill="{LIVE_COLOUR}"/>',
        f'<text x="{left + 214}" y="{height + 9}" font-size="11">window</text>',
        "</svg>",
    ]
    return "".join(parts)


def _intervals_svg(title: str, findings: list[Finding]) -> str:
    """Per metric on a 0..1 axis: the reference (grey), the alarm line (dashed), the window with its interval."""
    row, left, width = 34, 170, 400
    height = 34 + row * len(findings)
    parts = [
        (
            f'<svg role="img" aria-label="{escape(title)}" width="{left + width + 30}" height="{height}" '
            f'viewBox="0 0 {left + width + 30} {height}">'
        ),
        f'<text x="4" y="14" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for i, finding in enumerate(findings):
        live = float(finding.details["live"])
        low, high = (float(v) for v in finding.details["interval"])
        reference = live + float(finding.statistic or 0.0)
        alarm = reference - finding.threshold
        y = 34 + i * row

        def x(value: float) -> float:
            return left + max(0.0, min(1.0, value)) * width

        colour = COLOURS["breach"] if finding.status == "breach" else LIVE_COLOUR
        parts += [
            f'<text x="{left - 6}" y="{y + 4}" font-size="11" text-anchor="end">{escape(finding.detector)}</text>',
            f'<line x1="{left}" y1="{y}" x2="{left + width}" y2="{y}" stroke="#ddd"/>',
            (
                f'<line x1="{x(reference):.1f}" y1="{y - 9}" x2="{x(reference):.1f}" y2="{y + 9}" '
                f'stroke="{REFERENCE_COLOUR}" stroke-width="4"><title>reference {reference:.3f}</title></line>'
            ),
            (
                f'<line x1="{x(alarm):.1f}" y1="{y - 9}" x2="{x(alarm):.1f}" '
                f'y2="{y + 9}" stroke="#000" stroke-dasharray="3 2"><title>alarm below {alarm:.3f}'
                "</title></line>"
            ),
            f'<line x1="{x(low):.1f}" y1="{y}" x2="{x(high):.1f}" y2="{y}" stroke="{colour}" stroke-width="2"/>',
            (
                f'<circle cx="{x(live):.1f}" cy="{y}" r="4" fill="{colour}"><title>window {live:.3f} '
                f"[{low:.3f}, {high:.3f}]</title></circle>"
            ),
        ]
    parts += [
        f'<text x="{left}" y="{height - 2}" font-size="10">0</text>',
        f'<text x="{left + width}" y="{height - 2}" font-size="10" text-anchor="end">1</text>',
        (
            f'<text x="{left + width / 2}" y="{height - 2}" font-size="10" text-anchor="middle">grey: held-out weeks; '
            "dashed: alarm line; dot: window with its interval</text>"
        ),
        "</svg>",
    ]
    return "".join(parts)


def _bands_svg(title: str, findings: list[Finding], profile: Profile) -> str:
    """Per statistic on its own axis: the band (grey), the reference weeks (ticks), the window (dot)."""
    row, left, width = 30, 210, 380
    height = 40 + row * len(findings)
    parts = [
        (
            f'<svg role="img" aria-label="{escape(title)}" width="{left + width + 90}" height="{height}" '
            f'viewBox="0 0 {left + width + 90} {height}">'
        ),
        f'<text x="4" y="14" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for i, finding in enumerate(findings):
        band, value = finding.details["band"], float(finding.details["value"])
        reference = profile.bands.get(finding.detector)
        weeks = list(reference.weeks.values()) if reference else []
        ends = [v for v in (band["low"], band["high"]) if v is not None]
        lowest, highest = min([value, *ends, *weeks]), max([value, *ends, *weeks])
        span = (highest - lowest) or 1.0
        lowest, highest = lowest - 0.05 * span, highest + 0.05 * span
        y = 34 + i * row

        def x(v: float, lo: float = lowest, hi: float = highest) -> float:
            return left + (v - lo) / (hi - lo) * width

        low = x(band["low"]) if band["low"] is not None else left
        high = x(band["high"]) if band["high"] is not None else left + width
        colour = COLOURS["breach"] if finding.status == "breach" else LIVE_COLOUR
        parts += [
            f'<text x="{left - 6}" y="{y + 4}" font-size="11" text-anchor="end">{escape(finding.detector)}</text>',
            (
                f'<rect x="{low:.1f}" y="{y - 7}" width="{max(high - low, 1.0):.1f}" height="14" '
                f'fill="{REFERENCE_COLOUR}" opacity="0.5"><title>{escape(band_text(finding))}</title></rect>'
            ),
            *(f'<line x1="{x(w):.1f}" y1="{y - 7}" x2="{x(w):.1f}" y2="{y + 7}" stroke="#455a64"/>' for w in weeks),
            (f'<circle cx="{x(value):.1f}" cy="{y}" r="4" fill="{colour}"><title>window {value:.4g}</title></circle>'),
            f'<text x="{left + width + 6}" y="{y + 4}" font-size="10">{value:.4g}</text>',
        ]
    parts += [
        (
            f'<text x="{left}" y="{height - 4}" font-size="10">grey: band; ticks: reference weeks; '
            "dot: window (red: breach); one scale per row</text>"
        ),
        "</svg>",
    ]
    return "".join(parts)


def charts(findings: list[Finding], profile: Profile | None = None) -> list[str]:
    """The page's charts: each statistic in its band, score distribution, drift per input, effects/thresholds."""
    found: list[str] = []
    banded = [f for f in findings if f.details.get("band") and f.details.get("value") is not None]
    if banded and profile is not None:
        found.append(_bands_svg("Each statistic against its reference weeks' band", banded, profile))
    by_name = {f.detector: f for f in findings}
    measured = [f for f in findings if f.kind == "performance" and "interval" in f.details and f.statistic is not None]
    if measured:
        found.append(_intervals_svg("Performance on the labelled rows", measured))
    score = by_name.get("score_psi")
    if score is not None and "bins" in score.details:
        found.append(
            _histogram_svg(
                "Score distribution (shares per reference bin)",
                score.details["bins"],
                score.details["reference"],
                score.details["live"],
            )
        )
    drift = [f for f in findings if f.kind == "input_drift" and f.statistic is not None]
    if drift:
        found.append(
            _bars_svg(
                "Drift: population stability index",
                [f.detector.removeprefix("psi:") for f in drift],
                [float(f.statistic or 0.0) for f in drift],
                drift[0].threshold if len({f.threshold for f in drift}) == 1 else max(f.threshold for f in drift),
                [f.status == "breach" for f in drift],
            )
        )
    # Effects measured from zero (rows_per_week is a ratio around 1: its reason says it better).
    judged = [
        f
        for f in findings
        if f.kind != "input_drift" and f.detector != "rows_per_week" and f.statistic is not None and f.threshold > 0
    ]
    if judged:
        found.append(
            _bars_svg(
                "Other detectors: effect / threshold (1 = threshold)",
                [f.detector for f in judged],
                [float(f.statistic or 0.0) / f.threshold for f in judged],
                1.0,
                [f.status == "breach" for f in judged],
            )
        )
    return found


def html(summary: dict[str, Any], findings: list[Finding], profile: Profile) -> str:
    """One self-contained page: the headline, the breaches, the charts, every detector."""
    status = summary["status"]
    rows = "".join(
        f'<tr><td>{escape(f.kind)}</td><td>{escape(f.detector)}</td><td style="color:{COLOURS[f.status]}">'
        f"{ICONS[f.status]}</td><td>{escape(_value(f))}</td><td>{escape(band_text(f))}</td>"
        f"<td>{_number(f.statistic)}</td><td>{_number(f.threshold)}</td>"
        f"<td>{_number(f.p_value)}</td><td>{escape(f.reason)}</td></tr>"
        for f in findings
    )
    breach_items = "".join(
        f"<li><b>{escape(b['kind'])}</b> ({escape(b['detector'])}): {escape(b['reason'])}</li>"
        for b in summary["breaches"]
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Model monitoring report</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}"
        "svg{display:block;margin:1em 0}</style></head><body>"
        "<h1>Model monitoring report</h1>"
        f'<p style="font-size:1.2em;color:{COLOURS[status]}"><b>Status: {escape(status)}</b> — '
        f"{escape(summary['reason'])}</p>"
        f"<p>{escape(_headline(summary))}</p>"
        + (f"<h2>Breaches</h2><ul>{breach_items}</ul>" if breach_items else "")
        + "<h2>Charts</h2>"
        + "".join(charts(findings, profile))
        + "<h2>Detectors</h2>"
        + "".join(f"<p>{escape(line)}</p>" for line in _band_lines(summary))
        + "<table><tr><th>kind</th><th>detector</th><th>status</th><th>value</th><th>reference band</th>"
        "<th>effect</th><th>threshold</th><th>p-value</th><th>reason</th></tr>"
        + rows
        + "</table>"
        + f"<p>Bonferroni alpha of this run: {_number(summary.get('alpha'))}. Reference model "
        f"{escape(profile.model_version)}: average precision {profile.performance.average_precision:.4f}, recall "
        f"{profile.performance.recall:.4f} at threshold {profile.threshold:.4f}, flagged share "
        f"{profile.flagged_share:.4f}.</p></body></html>\n"
    )
