"""The loop's figure (`loop.svg`): live AP and recall week by week with the drift, the monitor's alarms, the
gate's decisions and the promotions; below, which kind of detector breached each week."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import numpy as np

from mlops_template.core import io
from mlops_template.monitoring.detectors import Kind

# The lower panel's rows, top to bottom, in the order `Kind` declares them (the outcome first, then what
# moved, then the feed's faults); detectors.KINDS orders them by harm instead. docs/loop.svg has this order.
BREACH_ROWS: tuple[Kind, ...] = get_args(Kind)


def _drift_scores(weeks: list[dict[str, Any]], detector: str | None) -> list[float]:
    """One detector's statistic per week, or (None) the largest input-drift statistic but the score's."""
    found = []
    for week in weeks:
        detectors = week["monitor"]["detectors"]
        if detector is not None:
            values = [detectors.get(detector, {}).get("statistic")]
        else:
            values = [d["statistic"] for n, d in detectors.items() if d["kind"] == "input_drift" and n != "score_psi"]
        numbers = [float(v) for v in values if v is not None]
        found.append(max(numbers) if numbers else np.nan)
    return found


def plot(document: dict[str, Any], target: Path) -> None:
    """The loop's figure (`loop_figure`) as an SVG (or PNG by suffix), written without network."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure = loop_figure(document)
    target.parent.mkdir(parents=True, exist_ok=True)
    with io.atomic_path(target) as temporary:
        kind = target.suffix.lstrip(".") or "svg"  # svg (stable text, what the docs commit) or png
        figure.savefig(temporary, format=kind, metadata={"Date": None} if kind == "svg" else None)
    plt.close(figure)


def loop_figure(document: dict[str, Any]) -> Any:
    """Live AP and recall over the weeks with the drift, alarms, gate decisions and promotions marked;
    below, which kind of detector breached each week (a matplotlib Figure)."""
    import matplotlib as mpl  # noqa: PLC0415

    mpl.use("Agg")
    mpl.rcParams["svg.hashsalt"] = "mlops-template-loop"  # stable ids: the committed plot diffs cleanly
    import matplotlib.pyplot as plt  # noqa: PLC0415

    weeks = document["weeks"]
    x = np.arange(len(weeks))
    labels = [w["week"] for w in weeks]
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 1.4]}, layout="constrained"
    )
    drifted = [i for i, w in enumerate(weeks) if w["drift_active"]]
    if drifted:
        top.axvspan(drifted[0] - 0.5, len(weeks) - 0.5, color="#f4e3c1", label=f"drift: {document['scenario']}")

    def series(name: str) -> list[float]:
        return [np.nan if w["live"][name] is None else w["live"][name] for w in weeks]

    top.plot(x, series("average_precision"), marker="o", color="#1f4e79", label="live average precision")
    top.plot(x, series("recall"), marker=".", ls="--", color="#5b9bd5", label="live recall")
    for i, week in enumerate(weeks):
        if week["alarm"]:
            top.axvline(i, color="#c00000", lw=1, ls=":")
        if week["gate"] is not None:
            promoted = week["promoted"]
            top.scatter(
                [i], [1.02], marker="*" if promoted else "x", s=120 if promoted else 60,
                color="#2e7d32" if promoted else "#c00000", clip_on=False, zorder=3,
            )  # fmt: skip
    psi = top.twinx()
    psi.plot(x, _drift_scores(weeks, "score_psi"), color="#7f7f7f", lw=1, label="score PSI (right)")
    psi.plot(x, _drift_scores(weeks, None), color="#bf9000", lw=1, ls="-.", label="largest input PSI (right)")
    psi.set_ylabel("PSI against the reference profile")
    psi.set_ylim(0, max(0.25, *(v for v in _drift_scores(weeks, None) if np.isfinite(v))))
    psi.legend(loc="upper left", fontsize=8)
    top.plot([], [], color="#c00000", lw=1, ls=":", label="monitor alarm")
    top.scatter([], [], marker="*", color="#2e7d32", label="retrained, gate passed: promoted")
    top.scatter([], [], marker="x", color="#c00000", label="retrained, gate failed: champion kept")
    top.set_ylim(0, 1.05)
    top.set_ylabel("on the week's traffic")
    top.set_title(f"The closed loop: scenario {document['scenario']}, retrain {document['retrain']}")
    top.legend(loc="lower left", fontsize=8, ncols=2)
    top.grid(alpha=0.3)

    matrix = np.full((len(BREACH_ROWS), len(weeks)), np.nan)
    for j, week in enumerate(weeks):
        monitored = week["monitor"]
        breached = {b["kind"] for b in monitored["breaches"]}
        matrix[:, j] = [1.0 if kind in breached else 0.0 for kind in BREACH_ROWS]
        if monitored["status"] == "insufficient" and not breached:
            matrix[BREACH_ROWS.index("performance"), j] = np.nan  # too few labels to judge performance that week
    colours = mpl.colors.ListedColormap(["#d9ead3", "#e06666"])
    bottom.imshow(matrix, aspect="auto", cmap=colours, vmin=0, vmax=1, interpolation="nearest")
    bottom.set_yticks(range(len(BREACH_ROWS)), [k.replace("_", " ") for k in BREACH_ROWS], fontsize=8)
    bottom.set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
    bottom.set_title("monitor breaches by kind (red), none (green), too few labels (blank)", fontsize=9)
    return figure
