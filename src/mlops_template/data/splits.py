"""The splits ingest writes, by time: fit on `train`, choose the threshold on `valid`, measure on `test`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlops_template.core import io
from mlops_template.data import schema

SPLITS = ("train", "valid", "test")
HELD_OUT = ("valid", "test")  # the weeks the model did not train on


def read_split(path: Path) -> pd.DataFrame:
    """A split written by ingest; a clear error if it is missing or not one."""
    return io.read_parquet_artifact(path, schema.COLUMNS, "ingest")


def read_splits(ingest_dir: Path, names: tuple[str, ...]) -> pd.DataFrame:
    """The named splits of `ingest_dir`, one after the other."""
    return pd.concat([read_split(ingest_dir / f"{name}.parquet") for name in names], ignore_index=True)
