"""The comparison's charts as inline SVG text: curves overlaid, and intervals around zero.

Drawn by hand (no plotting library): a few hundred bytes of markup per series, no font, style sheet
or script fetched from anywhere, and the same data always gives the same bytes (coordinates to two
decimals). Each series has a colour and a dash pattern, so the lines stay apart in grey too.
Inline in HTML an SVG needs no namespace (so the page holds no URL at all); `standalone` adds it for
an .svg file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape as _escape

# Colour-blind-safe (Okabe-Ito), with dashes for print.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 4")
WIDTH, HEIGHT = 420, 320
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 30, 44
TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


SVG_NAMESPACE = "http://www.w3.org/2000/svg"  # a name, never fetched


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    """Text as markup: escaped, and without the characters XML cannot hold (control characters)."""
    return _escape(_NOT_XML.sub("", text))


def standalone(svg: str) -> str:
    """The chart as an .svg file's text (with the namespace a file needs)."""
    return svg.replace("<svg ", f'<svg xmlns="{SVG_NAMESPACE}" ', 1) + "\n"


def _n(value: float) -> str:
    return f"{value:.2f}"


def _open(title: str, width: int, height: int) -> str:
    size = f'width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
    return f'<svg role="img" aria-label="{escape(title)}" {size} font-family="sans-serif" font-size="11">'


def _frame(title: str, x_label: str, y_label: str) -> list[str]:
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        _open(title, WIDTH, HEIGHT),
        f"<title>{escape(title)}</title>",
        f'<text x="{WIDTH / 2:.0f}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{TOP}" width="{inner_w}" height="{inner_h}" fill="none" stroke="#999"/>',
    ]
    for tick in TICKS:
        x, y = LEFT + tick * inner_w, TOP + (1 - tick) * inner_h
        parts.append(f'<line x1="{_n(x)}" y1="{TOP}" x2="{_n(x)}" y2="{TOP + inner_h}" stroke="#eee"/>')
        parts.append(f'<line x1="{LEFT}" y1="{_n(y)}" x2="{LEFT + inner_w}" y2="{_n(y)}" stroke="#eee"/>')
        parts.append(f'<text x="{_n(x)}" y="{TOP + inner_h + 14}" text-anchor="middle">{tick:g}</text>')
        parts.append(f'<text x="{LEFT - 6}" y="{_n(y + 4)}" text-anchor="end">{tick:g}</text>')
    parts.append(f'<text x="{LEFT + inner_w / 2:.0f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(x_label)}</text>')
    parts.append(
        f'<text x="14" y="{TOP + inner_h / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + inner_h / 2:.0f})">{escape(y_label)}</text>'
    )
    return parts


def curves(
    title: str,
    series: Mapping[str, Sequence[Sequence[float]]],
    *,
    x_label: str,
    y_label: str,
    diagonal: bool = False,
) -> str:
    """Each series' points (x, y in [0, 1]) as one polyline on shared unit axes, with a legend."""
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = _frame(title, x_label, y_label)
    if diagonal:
        parts.append(
            f'<line x1="{LEFT}" y1="{TOP + inner_h}" x2="{LEFT + inner_w}" y2="{TOP}" '
            'stroke="#bbb" stroke-dasharray="3 3"/>'
        )
    for position, (name, points) in enumerate(series.items()):
        colour, dash = PALETTE[position % len(PALETTE)], DASHES[position % len(DASHES)]
        coordinates = " ".join(
            f"{_n(LEFT + min(max(x, 0.0), 1.0) * inner_w)},{_n(TOP + (1 - min(max(y, 0.0), 1.0)) * inner_h)}"
            for x, y in points
        )
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.8"{dashed} points="{coordinates}">'
            f"<title>{escape(name)}</title></polyline>"
        )
        y = TOP + 14 + 14 * position
        parts.append(
            f'<line x1="{LEFT + 8}" y1="{y - 4}" x2="{LEFT + 30}" y2="{y - 4}" '
            f'stroke="{colour}" stroke-width="2"{dashed}/>'
        )
        parts.append(f'<text x="{LEFT + 34}" y="{y}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


@dataclass(frozen=True)
class Bar:
    """One row of an interval chart: a label, a point estimate and its interval."""

    label: str
    value: float
    low: float
    high: float


def intervals(title: str, bars: Sequence[Bar], *, x_label: str) -> str:
    """Each row's point and interval on one horizontal axis through zero; labels on the left, readable."""
    label_width = 8 + 7 * max((len(bar.label) for bar in bars), default=4)
    inner_w, row_h = 360, 22
    height = TOP + row_h * max(len(bars), 1) + BOTTOM
    span = max([abs(v) for bar in bars for v in (bar.low, bar.high, bar.value)] + [1e-6]) * 1.1
    width = label_width + inner_w + RIGHT + 20

    def x(value: float) -> float:
        return label_width + (value + span) / (2 * span) * inner_w

    parts = [
        _open(title, width, height),
        f"<title>{escape(title)}</title>",
        f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>',
        f'<line x1="{_n(x(0))}" y1="{TOP - 4}" x2="{_n(x(0))}" y2="{height - BOTTOM + 4}" stroke="#999"/>',
    ]
    for position, bar in enumerate(bars):
        y = TOP + row_h * position + row_h / 2
        colour = PALETTE[1] if bar.high < 0 else PALETTE[2] if bar.low > 0 else "#777"
        parts.append(f'<text x="{label_width - 6}" y="{_n(y + 4)}" text-anchor="end">{escape(bar.label)}</text>')
        parts.append(
            f'<line x1="{_n(x(bar.low))}" y1="{_n(y)}" x2="{_n(x(bar.high))}" y2="{_n(y)}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        parts.append(
            f'<circle cx="{_n(x(bar.value))}" cy="{_n(y)}" r="3.5" fill="{colour}">'
            f"<title>{escape(bar.label)}: {bar.value:+.4f} [{bar.low:+.4f}, {bar.high:+.4f}]</title></circle>"
        )
    axis_y = height - BOTTOM + 16
    parts.extend(
        f'<text x="{_n(x(value))}" y="{axis_y}" text-anchor="middle">{value:+.3f}</text>'
        for value in (-span / 1.1, 0.0, span / 1.1)
    )
    parts.append(f'<text x="{_n(x(0))}" y="{axis_y + 16}" text-anchor="middle">{escape(x_label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
