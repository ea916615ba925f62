"""Intervals for a share of hits in a count, with the standard library only.

Wilson's score interval is the project's interval of a proportion: the monitor's recall at the
threshold and the review queue's precision and recall (the API, whose image has no SciPy) use it.
`model/statistics.py` re-exports it beside the bootstrap, so it exists once.
"""

from __future__ import annotations

import math
from statistics import NormalDist


def wilson_interval(hits: int, total: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (contains hits/total; (0, 1) when total is 0)."""
    if total == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    share = hits / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, min(centre - half, share)), min(1.0, max(centre + half, share))
