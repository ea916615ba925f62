"""compare's slices are judged as the gate and the PR report judge them (model/slice_changes.py): one
resample of all rows, and no better or worse for a slice under `gate.slices.min_positives` (issue 17)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_template.core.config import parse_params
from mlops_template.data import schema
from mlops_template.data.splits import read_split
from mlops_template.experiments.compare import render
from mlops_template.experiments.compare.scoreboard import BoardSettings, build
from mlops_template.experiments.compare.scoring import Scored
from mlops_template.model import slice_changes
from tests.support.params import small_params_dict


@pytest.fixture
def rows(compare_project: Path) -> pd.DataFrame:
    return read_split(compare_project / "artifacts/ingest/test.parquet")


def _models(labels: np.ndarray) -> tuple[Scored, Scored]:
    """A model that ranks every fraud above every legit row, and one that ranks them at random: on every
    slice with a positive, the second's average precision falls with an interval far below zero."""
    noise = np.random.default_rng(7).uniform(0.0, 1.0, len(labels)).round(6)
    sharp = Scored("sharp", "directory", "test", "a", 0.5, labels * 0.5 + 0.25)
    blunt = Scored("blunt", "directory", "test", "b", 0.5, noise)
    return sharp, blunt


def _settings(min_positives: int) -> BoardSettings:
    found = BoardSettings.from_params(parse_params(small_params_dict()), disagreements=0)
    return dataclasses.replace(found, resamples=200, slice_min_positives=min_positives)


def _between(rows: pd.DataFrame, settings: BoardSettings) -> int:
    """A min_positives that leaves some judged slice above it and some slice with positives under it."""
    counts = sorted(
        int(group.sum())
        for column in settings.slices
        for _, group in rows.groupby(column, observed=True)[schema.LABEL]
        if len(group) >= settings.min_slice_rows and group.sum() > 0
    )
    assert counts[0] < counts[-1], counts
    return counts[-1]  # the largest slice is judged; every smaller one is not


def test_a_slice_under_min_positives_is_never_better_or_worse(rows: pd.DataFrame) -> None:
    labels = rows[schema.LABEL].to_numpy(dtype=int)
    least = _between(rows, _settings(1))
    settings = _settings(least)
    board = build(_models(labels), rows, ["2026-W39"], settings)
    assert board["slice_min_positives"] == least
    under = 0
    for values in board["slices"].values():
        for found in values.values():
            assert found["judged"] == (found["positives"] >= least)
            for cell in found["difference"]["blunt"].values():
                if found["positives"] < least:
                    under += 1
                    assert cell["verdict"] == "within noise"
                    assert cell["why"] == f"{found['positives']} positives, fewer than {least}"
    assert under > 0
    # The rule, not the interval, holds them back: an under-rule slice whose interval excludes zero.
    cells = [
        found["difference"]["blunt"]["average_precision"]
        for values in board["slices"].values()
        for found in values.values()
        if not found["judged"] and found["positives"] > 0
    ]
    assert any(cell["high"] < 0 for cell in cells)
    # The judged slice is called worse, and the tables say which slices are too small to judge.
    judged = [found for values in board["slices"].values() for found in values.values() if found["judged"]]
    assert judged
    assert all(found["difference"]["blunt"]["average_precision"]["verdict"] == "worse" for found in judged)
    cells = [
        cell for section in render.comparison_sections(board) for t in section.tables for r in t.rows for cell in r
    ]
    assert any(cell.endswith(f"within noise ({render.TOO_FEW})") for cell in cells)


@pytest.mark.parametrize("least", [1, 20, 10_000])
def test_compare_gives_the_verdicts_of_slice_changes(rows: pd.DataFrame, least: int) -> None:
    labels = rows[schema.LABEL].to_numpy(dtype=int)
    sharp, blunt = _models(labels)
    settings = _settings(least)
    board = build([sharp, blunt], rows, ["2026-W39"], settings)
    expected = slice_changes.slice_changes(
        rows[list(settings.slices)],
        labels,
        {
            "champion": slice_changes.Scored(sharp.scores, sharp.cut),
            "candidate": slice_changes.Scored(blunt.scores, blunt.cut),
        },
        settings.slices,
        min_rows=settings.min_slice_rows,
        min_positives=least,
        resamples=settings.resamples,
        confidence=settings.confidence,
        seed=settings.seed,
    )
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for column, values in board["slices"].items():
        for value, entry in values.items():
            for metric, cell in entry["difference"]["blunt"].items():
                found[f"{column}={value}", metric] = cell
    assert set(found) == {(change["slice"], change["metric"]) for change in expected}
    for change in expected:
        cell = found[change["slice"], change["metric"]]
        assert (cell["verdict"], cell["why"]) == (change["verdict"], change["why"])
        assert {k: cell[k] for k in ("value", "low", "high")} == (
            change["difference"] or dict.fromkeys(("value", "low", "high"))
        )
