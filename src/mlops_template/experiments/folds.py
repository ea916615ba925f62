"""Walk-forward folds over the training and validation weeks: what a trial is measured on.

Each fold trains on the weeks before its week and is measured on that week, as the model in
production is trained on the past and judged on the next week. The folds are the last `tune.folds`
weeks that ingest did not put in `test`: the test weeks are never read here, so the tuner never
chooses by them (the gate judges the tuned model there, like any other change).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_template.core import io
from mlops_template.core.errors import ConfigError, StageInputError
from mlops_template.core.weeks import week_of
from mlops_template.data import schema
from mlops_template.data.splits import read_splits

TUNING_SPLITS = ("train", "valid")  # never "test"


@dataclass(frozen=True)
class Fold:
    """One walk-forward step: fit on `train` (the weeks before `week`), measure on `measured` (`week`)."""

    step: int  # 0 for the earliest fold: the pruner's step, the order folds are run in
    train_weeks: tuple[str, ...]
    week: str
    train: pd.DataFrame
    measured: pd.DataFrame


@dataclass(frozen=True)
class TuningData:
    """The rows the tuner may read (training and validation weeks), their weeks in order, their version."""

    rows: pd.DataFrame
    weeks: tuple[str, ...]
    version: str  # sha256 of the split files: a study is only resumed on the same data


def _file_digest(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def load_tuning_data(ingest_dir: Path) -> TuningData:
    """`train` and `valid` as ingest wrote them (never `test`), with their weeks from weeks.json."""
    weeks_path = io.require_artifact(ingest_dir / "weeks.json", "ingest")
    written = io.read_json(weeks_path)
    weeks = tuple(sorted(label for name in TUNING_SPLITS for label in written.get(name, [])))
    rows = read_splits(ingest_dir, TUNING_SPLITS)
    version = _file_digest([io.require_artifact(ingest_dir / f"{name}.parquet", "ingest") for name in TUNING_SPLITS])
    return TuningData(rows=rows, weeks=weeks, version=version)


def _positives(frame: pd.DataFrame) -> int:
    return int(frame[schema.LABEL].astype("int64").sum())


def walk_forward_folds(data: TuningData, folds: int, *, train_weeks: int | None, min_positives: int) -> list[Fold]:
    """The last `folds` weeks of `data`, each measured once after training on the weeks before it.

    `train_weeks` is ingest's sliding window (null: every earlier week), so a fold trains as `train`
    would have on that week. `min_positives` is what calibration needs in training (one per fold).
    """
    weeks = data.weeks
    if folds >= len(weeks):
        msg = (
            f"tune.folds={folds}: needs at least {folds + 1} training and validation weeks (one to train the "
            f"first fold on), ingest wrote {len(weeks)}: {list(weeks)} (rule: folds < weeks before test)"
        )
        raise ConfigError(msg)
    week = week_of(data.rows[schema.TIMESTAMP]).to_numpy()
    found = []
    for step, measured_week in enumerate(weeks[-folds:]):
        before = weeks[: weeks.index(measured_week)]
        if train_weeks is not None:
            before = before[-train_weeks:]
        train = data.rows[np.isin(week, before)].reset_index(drop=True)
        measured = data.rows[week == measured_week].reset_index(drop=True)
        labels = measured[schema.LABEL].astype("int64")
        if labels.nunique() < 2:  # noqa: PLR2004 - average precision needs both classes
            msg = f"fold {step + 1} (week {measured_week}): {len(measured)} row(s) of one class only; average "
            msg += "precision needs both (rule: every measured week holds positives and negatives; lower tune.folds)"
            raise StageInputError(msg)
        positives = _positives(train)
        if min(positives, len(train) - positives) < min_positives:
            msg = (
                f"fold {step + 1} (week {measured_week}): its training weeks {list(before)} hold {positives} "
                f"positive row(s) of {len(train)}; train.calibration.folds={min_positives} needs at least that "
                "many of each class (rule: lower tune.folds, or add weeks of data)"
            )
            raise StageInputError(msg)
        found.append(Fold(step=step, train_weeks=tuple(before), week=measured_week, train=train, measured=measured))
    return found
