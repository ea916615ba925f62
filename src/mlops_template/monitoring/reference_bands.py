"""Reference bands: how far each monitored statistic already moved from week to week in the reference.

A pooled reference hides that its weeks differ among themselves: on real data two reference weeks
can differ in base rate (14% against 32%) or in a seasonal input as much as later weeks do, and a
monitor that compares with the pool fires every week. So each statistic is computed per reference
week (NannyML's chunks), and the monitor breaches only outside the band those weeks span, as well as
beyond its effect-size threshold and sampling test:

    band = [min(centre - k' x spread, lowest week), max(centre + k' x spread, highest week)]

where k' widens k (`monitor.bands.k`, in normal standard deviations) into a prediction interval for
a new week from n reference weeks: the Student's t quantile with n - 1 degrees of freedom at the
normal's tail for k, times sqrt(1 + 1/n). Twelve weeks estimate a spread loosely (a sample's
standard deviation is often 0.7 of the true one), so k = 3 becomes about 4.0 with 12 weeks and 7.3
with 5. With fewer than `monitor.bands.min_weeks` weeks there is no band and a warning says so. The
band always holds every held-out week, so no reference week breaches.

Weeks come in groups: the held-out weeks, which the served model never saw, and the training weeks,
whose scores are in-sample (optimistic in level). A model-dependent statistic of a training week is
therefore moved by the difference of the groups' means (its value minus the training weeks' mean,
plus the held-out weeks' mean): the training weeks give the week-to-week spread, never the level.
The model has no feature that tells one week from another (only hour of day and weekday), so what
varies between training weeks is the process's, not something it learnt. Model-free statistics
(inputs, missing values, traffic) use one group, every week as it is. Drift statistics (PSI) are
per week against the other weeks of its group (leave one out), with the band above them only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

from mlops_template.model import statistics

Side = Literal["both", "low", "high"]
DIGITS = 6


class Band(BaseModel):
    """One statistic per reference week, moved to the held-out level (see the module's docstring)."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    side: Side = Field(description="Which way a breach leaves the band: both, low (below) or high (above).")
    centre: float
    spread: float = Field(ge=0.0, description="Standard deviation of the weeks' values (ddof 1).")
    weeks: dict[str, float]


@dataclass(frozen=True)
class Limits:
    """A band as the monitor applies it; `low`/`high` None on the side that cannot breach."""

    low: float | None
    high: float | None
    weeks: int

    def outside(self, value: float) -> bool:
        """Beyond the band by more than the profile's rounding (a reference week is never outside)."""
        slack = 10.0**-DIGITS
        return (self.low is not None and value < self.low - slack) or (
            self.high is not None and value > self.high + slack
        )

    def as_json(self) -> dict[str, float | int | None]:
        return {
            "low": None if self.low is None else round(self.low, DIGITS),
            "high": None if self.high is None else round(self.high, DIGITS),
            "weeks": self.weeks,
        }

    def text(self) -> str:
        """[low, high]; a one-sided band as <= high or >= low."""
        if self.low is None:
            return f"<= {self.high:.4g}"
        if self.high is None:
            return f">= {self.low:.4g}"
        return f"[{self.low:.4g}, {self.high:.4g}]"

    def describe(self) -> str:
        return f"reference weeks' band {self.text()} over {self.weeks} weeks"


def _band(side: Side, weeks: Mapping[str, float]) -> Band:
    values = np.array(list(weeks.values()), dtype=np.float64)
    spread = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return Band(
        side=side,
        centre=round(float(values.mean()), DIGITS),
        spread=round(spread, DIGITS),
        weeks={week: round(float(value), DIGITS) for week, value in weeks.items()},
    )


def level(values: Mapping[str, float], groups: Mapping[str, str], anchor: str, side: Side = "both") -> Band | None:
    """A band of a level statistic (a share, a ratio, an AUC): the `anchor` group's weeks as they are, each
    other group's moved by the difference of the groups' means (no anchor week: no band).

    `values` maps week -> statistic (weeks where it is undefined left out); `groups` week -> group.
    """
    by_group: dict[str, list[float]] = {}
    for week, value in values.items():
        by_group.setdefault(groups[week], []).append(value)
    if anchor not in by_group:
        return None
    means = {group: float(np.mean(found)) for group, found in by_group.items()}
    return _band(side, {week: value - means[groups[week]] + means[anchor] for week, value in sorted(values.items())})


def drift(counts: Mapping[str, np.ndarray], groups: Mapping[str, str]) -> Band | None:
    """A band of PSI: each week's counts against the summed counts of the other weeks of its group."""
    found: dict[str, float] = {}
    for week, own in sorted(counts.items()):
        others = [c for w, c in counts.items() if w != week and groups[w] == groups[week]]
        if not others or own.sum() == 0:
            continue
        found[week] = statistics.psi(np.sum(others, axis=0), own)
    return _band("high", found) if found else None


def limits(band: Band | None, k: float, min_weeks: int) -> Limits | str:
    """The band's limits, or why there is none (a reason for the report: too few weeks, or none profiled)."""
    if band is None:
        return "no reference band (a profile without weekly bands: `dvc repro profile`)"
    if len(band.weeks) < min_weeks:
        return f"no reference band: {len(band.weeks)} reference weeks (rule: at least {min_weeks}, monitor.bands)"
    values = band.weeks.values()
    width = widened(k, len(values)) * band.spread
    low = min(band.centre - width, *values) if band.side in ("both", "low") else None
    high = max(band.centre + width, *values) if band.side in ("both", "high") else None
    return Limits(low, high, len(band.weeks))


def widened(k: float, weeks: int) -> float:
    """k normal standard deviations as a prediction interval's half-width from `weeks` weeks (Student's t)."""
    tail = float(stats.norm.cdf(k))
    return float(stats.t.ppf(tail, df=max(weeks - 1, 1))) * math.sqrt(1 + 1 / weeks)
