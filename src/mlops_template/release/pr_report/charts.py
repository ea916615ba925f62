"""Mermaid `xychart-beta` charts (GitHub draws them in the comment itself: no image leaves GitHub).

An xychart line places its values evenly along the x axis, so a curve is first resampled on an even
grid (<= ~25 points). Base and head share one chart; the palette makes base grey and head blue.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

GRID = 21  # points on [0, 1] for the curves
TOP_FEATURES = 12
BASE_COLOUR, HEAD_COLOUR, REFERENCE_COLOUR = "#9e9e9e", "#1f77b4", "#d0d0d0"
Table = dict[str, list[float]]  # a plot CSV as columns
LEGEND = "grey: base, blue: head"


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") if value else "0"


def _header(palette: Sequence[str]) -> str:
    colours = ", ".join(palette)
    return "%%{init: {'themeVariables': {'xyChart': {'plotColorPalette': '" + colours + "'}}}}%%"


def xychart(
    title: str,
    x_axis: str,
    y_axis: str,
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    x_labels: Sequence[str] | None = None,
    y_range: tuple[float, float] = (0.0, 1.0),
    palette: Sequence[str] = (BASE_COLOUR, HEAD_COLOUR),
    horizontal: bool = False,
) -> str:
    """One fenced mermaid block; `series` are ("line" | "bar", values). `horizontal` puts the x axis on the
    left, one label per line, so that long category names never overlap (`xychart-beta horizontal`)."""
    kind = "xychart-beta horizontal" if horizontal else "xychart-beta"
    lines = ["```mermaid", _header(palette), kind, f'    title "{title}"']
    if x_labels is None:
        lines.append(f'    x-axis "{x_axis}" 0 --> 1')
    else:
        lines.append(f'    x-axis "{x_axis}" [{", ".join(_quote(label) for label in x_labels)}]')
    lines.append(f'    y-axis "{y_axis}" {_number(y_range[0])} --> {_number(y_range[1])}')
    lines.extend(f"    {kind} [{', '.join(_number(v) for v in values)}]" for kind, values in series)
    lines.append("```")
    return "\n".join(lines)


def _quote(label: str) -> str:
    return '"' + label.replace('"', "'") + '"'


def step_curve(x: Sequence[float], y: Sequence[float], grid: np.ndarray, *, envelope: str) -> list[float]:
    """A curve's y on `grid`: ROC takes the best tpr reached at or before each fpr ("max_before"); PR the
    interpolated precision, the best precision at or beyond each recall ("max_after")."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    out = []
    for point in grid:
        chosen = ys[xs <= point + 1e-12] if envelope == "max_before" else ys[xs >= point - 1e-12]
        out.append(float(chosen.max()) if chosen.size else 0.0)
    return out


def _curve_chart(
    base: Table | None, head: Table, columns: tuple[str, str], labels: tuple[str, str, str], envelope: str
) -> str:
    """One curve per revision (base grey, head blue), resampled on a common grid of x values."""
    grid = np.linspace(0.0, 1.0, GRID)
    x, y = columns
    series = [
        ("line", step_curve(table[x], table[y], grid, envelope=envelope)) for table in (base, head) if table is not None
    ]
    palette = (BASE_COLOUR, HEAD_COLOUR) if base is not None else (HEAD_COLOUR,)
    return xychart(*labels, series, palette=palette)


def roc_chart(base: Table | None, head: Table) -> str:
    labels = ("ROC", "false positive rate", "true positive rate")
    return _curve_chart(base, head, ("fpr", "tpr"), labels, envelope="max_before")


def precision_recall_chart(base: Table | None, head: Table) -> str:
    labels = ("Precision-recall", "recall", "precision")
    return _curve_chart(base, head, ("recall", "precision"), labels, envelope="max_after")


def calibration_chart(base: Table | None, head: Table, bins: int, *, positive: str) -> str:
    """Observed rate of the positive class (named `positive`) per probability bin (empty bins drawn at
    the bin's own centre), and the diagonal (perfect calibration) in light grey."""
    centres = [(b + 0.5) / bins for b in range(bins)]

    def per_bin(table: Table) -> list[float]:
        found = dict(zip((int(b) for b in table["bin"]), table["fraction_positive"], strict=True))
        return [float(found.get(b, centres[b])) for b in range(bins)]

    tables = [table for table in (base, head) if table is not None]
    series = [("line", centres), *(("line", per_bin(table)) for table in tables)]
    palette = (REFERENCE_COLOUR, BASE_COLOUR, HEAD_COLOUR) if base is not None else (REFERENCE_COLOUR, HEAD_COLOUR)
    labels = [_number(c) for c in centres]
    return xychart(
        "Calibration", "mean predicted probability (bin centre)", f"observed {positive} rate", series,
        x_labels=labels, palette=palette,
    )  # fmt: skip


def importance_chart(base: dict[str, float] | None, head: dict[str, float]) -> str:
    """Permutation importance of the head's top features: head as bars, base as a line; drawn horizontally,
    so each feature's name is on a line of its own (vertical bars print ten names on top of each other)."""
    features = sorted(head, key=lambda name: (-head[name], name))[:TOP_FEATURES]
    values = [head[name] for name in features]
    series: list[tuple[str, Sequence[float]]] = [("bar", values)]
    palette: tuple[str, ...] = (HEAD_COLOUR,)
    if base is not None:
        series.append(("line", [base.get(name, 0.0) for name in features]))
        palette = (HEAD_COLOUR, BASE_COLOUR)
        values = [*values, *series[1][1]]
    low, high = min(0.0, *values), max(0.0, *values)
    return xychart(
        "Permutation importance (average precision)", "feature", "importance", series,
        x_labels=features, y_range=(round(low, 3), round(high * 1.05 + 1e-9, 3)), palette=palette, horizontal=True,
    )  # fmt: skip
