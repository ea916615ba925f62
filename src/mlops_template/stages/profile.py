"""Stage `profile`: the monitor's reference, from the weeks ingest wrote, scored by the served artifact.

The levels (what live weeks are compared with) come from the validation and test weeks, never the
training weeks (the model knows those too well: see monitoring/reference_profile.py); the bands (how
far each statistic moves from week to week) from every week, the training weeks moved to the
held-out level (monitoring/reference_bands.py). Written to reports/reference_profile.json (small,
`cache: false`), which `mlops-template monitor --profile` reads.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from mlops_template.core.config import Params
from mlops_template.core.weeks import week_of
from mlops_template.data import schema
from mlops_template.data.splits import HELD_OUT, SPLITS, read_splits
from mlops_template.model.artifact import ServedModel
from mlops_template.model.scoring import served_scores
from mlops_template.monitoring import reference_profile
from mlops_template.stages import stage_main

logger = logging.getLogger("mlops_template.stages.profile")  # not __main__ under python -m


def build(params: Params, served: ServedModel, ingest_dir: Path) -> reference_profile.Profile:
    """The profile of ingest's splits: levels from the held-out ones, bands from all (bench-monitor uses it too)."""
    rows = read_splits(ingest_dir, SPLITS)
    held_out = read_splits(ingest_dir, HELD_OUT)
    scores = served_scores(served, rows)
    labels = rows[schema.LABEL].to_numpy(dtype=int)
    drift = params.monitor.drift
    return reference_profile.build(
        rows,
        labels,
        scores,
        served,
        params.monitor.profile,
        trending=drift.trending,
        seasonal=drift.seasonal,
        held_out=sorted(set(week_of(pd.to_datetime(held_out[schema.TIMESTAMP], utc=True)).astype(str))),
    )


def run(params: Params, *, served_dir: Path, ingest_dir: Path, out: Path) -> reference_profile.Profile:
    found = build(params, ServedModel.load(served_dir), ingest_dir)
    reference_profile.write(out, found)
    logger.info(
        "reference profile of %s: %d rows in %s (bands over %d weeks), roc_auc=%s recall=%s flagged_share=%.4f",
        found.model_version,
        found.rows,
        ", ".join(found.weeks),
        len(found.band_weeks),
        found.performance.roc_auc,
        found.performance.recall,
        found.flagged_share,
    )
    return found


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--served", type=Path, default=Path("models/served"))
    parser.add_argument("--ingest", type=Path, default=Path("artifacts/ingest"))
    parser.add_argument("--out", type=Path, default=Path("reports/reference_profile.json"))


def main(argv: list[str] | None = None) -> int:
    return stage_main(
        "profile", argv, _arguments, lambda p, a: run(p, served_dir=a.served, ingest_dir=a.ingest, out=a.out)
    )


if __name__ == "__main__":
    raise SystemExit(main())
