"""Walk-forward folds: each measured week once, trained on the weeks before it, never a test week."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops_template.core import io
from mlops_template.core.config import parse_params
from mlops_template.core.errors import ConfigError, StageInputError
from mlops_template.core.weeks import week_of
from mlops_template.data import schema
from mlops_template.experiments.folds import load_tuning_data, walk_forward_folds
from mlops_template.experiments.objective import featurize_fold, fold_score


def test_folds_walk_forward_over_training_and_validation_weeks_only(ingested_project: Path) -> None:
    ingest_dir = ingested_project / "artifacts/ingest"
    written = io.read_json(ingest_dir / "weeks.json")
    data = load_tuning_data(ingest_dir)
    assert data.weeks == tuple(written["train"] + written["valid"])
    assert set(week_of(data.rows[schema.TIMESTAMP])) == set(data.weeks)  # no test row is read
    folds = walk_forward_folds(data, 3, train_weeks=None, min_positives=3)
    assert [fold.week for fold in folds] == list(data.weeks[-3:])
    assert [fold.step for fold in folds] == [0, 1, 2]
    for fold in folds:
        trained = set(week_of(fold.train[schema.TIMESTAMP]))
        assert trained == set(fold.train_weeks)
        assert all(week < fold.week for week in trained)
        assert fold.train_weeks == data.weeks[: data.weeks.index(fold.week)]
        assert set(week_of(fold.measured[schema.TIMESTAMP])) == {fold.week}
    assert sum(len(f.measured) for f in folds) + len(folds[0].train) == len(data.rows)


def test_a_sliding_window_trains_each_fold_on_as_many_weeks_as_train_would(ingested_project: Path) -> None:
    data = load_tuning_data(ingested_project / "artifacts/ingest")
    folds = walk_forward_folds(data, 2, train_weeks=2, min_positives=3)
    assert [len(fold.train_weeks) for fold in folds] == [2, 2]
    assert folds[1].train_weeks == data.weeks[-3:-1]


def test_the_data_version_follows_the_split_files(ingested_project: Path, tmp_path: Path) -> None:
    copy = tmp_path / "ingest"
    shutil.copytree(ingested_project / "artifacts/ingest", copy)
    before = load_tuning_data(copy).version
    assert load_tuning_data(copy).version == before
    valid = pd.read_parquet(copy / "valid.parquet")
    io.write_parquet(copy / "valid.parquet", valid.iloc[1:])
    assert load_tuning_data(copy).version != before


def test_more_folds_than_weeks_is_refused_naming_the_key(ingested_project: Path) -> None:
    data = load_tuning_data(ingested_project / "artifacts/ingest")
    with pytest.raises(ConfigError, match=r"tune\.folds=5: needs at least 6 training and validation weeks"):
        walk_forward_folds(data, 5, train_weeks=None, min_positives=3)


def test_a_measured_week_of_one_class_is_refused(ingested_project: Path) -> None:
    data = load_tuning_data(ingested_project / "artifacts/ingest")
    last = data.weeks[-1]
    rows = data.rows.copy()
    rows.loc[week_of(rows[schema.TIMESTAMP]) == last, schema.LABEL] = 0
    one_class = type(data)(rows=rows, weeks=data.weeks, version=data.version)
    with pytest.raises(StageInputError, match=rf"fold 2 \(week {last}\): .* of one class only"):
        walk_forward_folds(one_class, 2, train_weeks=None, min_positives=3)


def test_the_fold_score_is_average_precision_of_the_calibrated_train_classifier(
    ingested_project: Path, tiny_params: dict[str, Any]
) -> None:
    params = parse_params(tiny_params)
    data = load_tuning_data(ingested_project / "artifacts/ingest")
    fold = walk_forward_folds(data, 1, train_weeks=None, min_positives=3)[0]
    features = featurize_fold(params, fold)
    assert len(features.x_train) == len(fold.train)
    assert list(features.x_train.columns) == list(features.x_measured.columns)
    score = fold_score(params.train, params.base.seed, features)
    assert 0.0 < score <= 1.0
    assert fold_score(params.train, params.base.seed, features) == score  # seeded: the same trial, the same score
