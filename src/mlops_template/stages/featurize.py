"""Stage `featurize`: fit the feature transformer on the training split only, apply it to all."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd
from sklearn.pipeline import Pipeline

from mlops_template.core import io
from mlops_template.core.config import FeaturizeParams, Params
from mlops_template.data import schema
from mlops_template.data.splits import SPLITS, read_split
from mlops_template.model.features import build_transformer
from mlops_template.stages import stage_main

logger = logging.getLogger("mlops_template.stages.featurize")  # not __main__ under python -m


def fit_transform(params: FeaturizeParams, splits: dict[str, pd.DataFrame]) -> tuple[Pipeline, dict[str, pd.DataFrame]]:
    """Fit on `splits['train']` only; transform every split, keeping the label beside the features."""
    transformer = build_transformer(params)
    transformer.fit(splits["train"])
    features = {
        name: transformer.transform(frame).assign(**{schema.LABEL: frame[schema.LABEL].astype("int64").to_numpy()})
        for name, frame in splits.items()
    }
    return transformer, features


def run(params: Params, in_dir: Path, out_dir: Path) -> dict[str, pd.DataFrame]:
    splits = {name: read_split(in_dir / f"{name}.parquet") for name in SPLITS}
    transformer, features = fit_transform(params.featurize, splits)
    for name, frame in features.items():
        io.write_parquet(out_dir / f"{name}.parquet", frame)
    io.write_joblib(out_dir / "transformer.joblib", transformer)
    logger.info("featurized %d columns from train (%d rows)", features["train"].shape[1] - 1, len(splits["train"]))
    return features


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in", dest="in_dir", type=Path, default=Path("artifacts/ingest"))
    parser.add_argument("--out", type=Path, default=Path("artifacts/features"))


def main(argv: list[str] | None = None) -> int:
    return stage_main("featurize", argv, _arguments, lambda p, a: run(p, a.in_dir, a.out))


if __name__ == "__main__":
    raise SystemExit(main())
