"""The study's two charts as SVG files that open without network: its history and the params' importances.

matplotlib with the Agg backend; text is kept as text (searchable, small), ids and metadata are
stable, so a chart committed with a tuning PR diffs cleanly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_template.core import io

HISTORY_TITLE = "Optimisation history"
IMPORTANCE_TITLE = "Parameter importances"


@dataclass(frozen=True)
class TrialPoint:
    number: int
    state: str  # COMPLETE, PRUNED, ...
    value: float | None  # the walk-forward average precision (complete), or the last fold's score (pruned)


def _pyplot() -> Any:
    import matplotlib as mpl  # noqa: PLC0415 - heavy, and only the report draws

    mpl.use("Agg")
    mpl.rcParams["svg.hashsalt"] = "mlops-template-tune"  # stable ids
    mpl.rcParams["svg.fonttype"] = "none"  # text stays text
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def _save(figure: Any, target: Path) -> Path:
    with io.atomic_path(target) as temporary:
        figure.savefig(temporary, format="svg", metadata={"Date": None})
    return target


def history(points: Sequence[TrialPoint], baseline: float | None, target: Path) -> Path:
    """Each trial's score by trial number, the best so far, and today's params (trial 0) as a line."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 4.2), layout="constrained")
    complete = sorted((p.number, p.value) for p in points if p.state == "COMPLETE" and p.value is not None)
    pruned = [(p.number, p.value) for p in points if p.state == "PRUNED" and p.value is not None]
    if pruned:
        numbers, values = zip(*pruned, strict=True)
        axes.scatter(numbers, values, marker="x", color="#a6a6a6", label="pruned (its last fold's score)")
    if complete:
        numbers, values = zip(*complete, strict=True)
        axes.scatter(numbers, values, color="#1f4e79", label="complete trial")
        best, so_far = [], float("-inf")
        for value in values:
            so_far = max(so_far, value)
            best.append(so_far)
        axes.step(numbers, best, where="post", color="#c55a11", label="best so far")
    if baseline is not None:
        axes.axhline(baseline, ls="--", color="#548235", label="today's params (trial 0)")
    if not points:
        axes.text(0.5, 0.5, "no finished trial yet", ha="center", va="center", transform=axes.transAxes)
    axes.set_title(HISTORY_TITLE)
    axes.set_xlabel("trial")
    axes.set_ylabel("walk-forward average precision")
    axes.grid(alpha=0.3)
    if points:
        axes.legend(loc="lower right", fontsize="small")
    try:
        return _save(figure, target)
    finally:
        plt.close(figure)


def importance(importances: Mapping[str, float], target: Path) -> Path:
    """Each searched param's share of the score's variance (fANOVA over the complete trials)."""
    plt = _pyplot()
    names = sorted(
        importances, key=lambda name: (importances[name], name)
    )  # barh draws upwards: the most important on top
    figure, axes = plt.subplots(figsize=(7, 1.2 + 0.45 * max(len(names), 2)), layout="constrained")
    if names:
        axes.barh(names, [importances[name] for name in names], color="#1f4e79")
        axes.set_xlim(0, 1)
        axes.set_xlabel("importance (share of the variance of the walk-forward average precision)")
    else:
        axes.text(
            0.5,
            0.5,
            "needs at least two complete trials with different params",
            ha="center",
            va="center",
            transform=axes.transAxes,
        )
        axes.set_axis_off()
    axes.set_title(IMPORTANCE_TITLE)
    try:
        return _save(figure, target)
    finally:
        plt.close(figure)
