"""Stage `ingest`: raw batches in `data/` -> validated, de-duplicated, time-split tables.

Rows that break the contract go to a quarantine with their reasons; so do rows whose event time
lies outside the ISO week their file is named after (`2026-W47.csv`) or in the future. The stage
fails when the quarantined share exceeds `ingest.max_rejected_share`. Splits are by ISO week:
train on the earlier weeks, validate on the next, test on the latest; no row is in two splits.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from mlops_template.core import io
from mlops_template.core.config import IngestParams, Params
from mlops_template.core.errors import DataContractError
from mlops_template.core.weeks import week_of
from mlops_template.data import schema
from mlops_template.data.sources import batch_files, event_time, read_batch
from mlops_template.data.splits import SPLITS
from mlops_template.stages import stage_main

logger = logging.getLogger("mlops_template.stages.ingest")  # not __main__ under python -m


@dataclass(frozen=True)
class Ingested:
    splits: dict[str, pd.DataFrame]
    weeks: dict[str, list[str]]
    rejected: pd.DataFrame
    rows_read: int
    duplicates_dropped: int


def load_raw(data_dir: Path) -> pd.DataFrame:
    """Every batch in `data_dir`, each checked for column-level problems, with its file name."""
    frames = []
    for path in batch_files(data_dir):
        raw = read_batch(path)
        schema.check_columns(raw, str(path))
        frames.append(raw[list(schema.COLUMNS)].assign(batch=path.name))
    return pd.concat(frames, ignore_index=True)


def split_by_time(frame: pd.DataFrame, params: IngestParams) -> tuple[dict[str, pd.DataFrame], dict[str, list[str]]]:
    """Split valid rows by ISO week of their timestamp: train < valid < test, disjoint."""
    week = week_of(frame[schema.TIMESTAMP])
    weeks = sorted(week.unique())
    needed = params.valid_weeks + params.test_weeks + 1
    if len(weeks) < needed:
        msg = (
            f"{len(weeks)} week(s) of valid data {weeks}; ingest.valid_weeks + ingest.test_weeks + 1 "
            f"= {needed} are needed (at least one week to train on)"
        )
        raise DataContractError(msg)
    test = weeks[-params.test_weeks :]
    valid = weeks[-(params.test_weeks + params.valid_weeks) : -params.test_weeks]
    train = weeks[: -(params.test_weeks + params.valid_weeks)]
    if params.train_weeks is not None:
        train = train[-params.train_weeks :]
    chosen = {"train": train, "valid": valid, "test": test}
    ordered = frame.sort_values([schema.TIMESTAMP, schema.ID], kind="stable")
    splits = {
        name: ordered[week.loc[ordered.index].isin(labels)].reset_index(drop=True) for name, labels in chosen.items()
    }
    return splits, chosen


def ingest(params: IngestParams, raw: pd.DataFrame, now: dt.datetime | pd.Timestamp | None = None) -> Ingested:
    """Pure core of the stage: de-duplicate, validate, quarantine, split.

    `now` (default: the clock) is when "the future" starts for the event-time rule.
    """
    rows_read = len(raw)
    # A re-delivered record is identical in every column: keep one copy, it is not an error.
    deduplicated = raw.drop_duplicates(subset=list(schema.COLUMNS)).reset_index(drop=True)
    mistimed = event_time.quarantine_reasons(
        deduplicated[schema.TIMESTAMP], deduplicated["batch"], event_time.as_utc(now)
    )
    result = schema.validate(deduplicated[list(schema.COLUMNS)], "data", extra_reasons=mistimed)
    rejected = result.rejected.copy()
    rejected.insert(0, "batch", deduplicated["batch"].loc[rejected.index].to_numpy())
    ingested = Ingested(
        splits={},
        weeks={},
        rejected=rejected.reset_index(drop=True),
        rows_read=rows_read,
        duplicates_dropped=rows_read - len(deduplicated),
    )
    if result.rejected_share > params.max_rejected_share:
        return ingested
    splits, weeks = split_by_time(result.valid, params)
    return replace(ingested, splits=splits, weeks=weeks)


def _reason_counts(rejected: pd.DataFrame) -> dict[str, int]:
    """How often each (column: rule) appears among the rejected rows."""
    if rejected.empty:
        return {}
    rules = rejected["reasons"].str.split("; ").explode().str.replace(r" \(got .*\)$", "", regex=True)
    return {str(k): int(v) for k, v in rules.value_counts().sort_index().items()}


def quality_summary(result: Ingested) -> dict[str, object]:
    valid_rows = result.rows_read - result.duplicates_dropped
    summary: dict[str, object] = {
        "rows_read": result.rows_read,
        "duplicates_dropped": result.duplicates_dropped,
        "rows_rejected": len(result.rejected),
        "rejected_share": round(len(result.rejected) / valid_rows, 6) if valid_rows else 0.0,
    }
    for name, frame in result.splits.items():
        summary[f"{name}_rows"] = len(frame)
        summary[f"{name}_positive_rate"] = round(float(frame[schema.LABEL].mean()), 6) if len(frame) else 0.0
    return summary


def _quarantine_report(result: Ingested, summary: dict[str, object], params: IngestParams, passed: bool) -> str:
    counts = _reason_counts(result.rejected)
    share = summary["rejected_share"]
    lines = [
        "# Ingest quarantine",
        "",
        f"- Rows read: {result.rows_read}; exact duplicates dropped: {result.duplicates_dropped}",
        (
            f"- Rows rejected: {len(result.rejected)} (share {share:.4%}; limit "
            f"ingest.max_rejected_share = {params.max_rejected_share:.4%})"
        ),
        f"- Verdict: {'passed' if passed else 'FAILED: too many rows break the contract'}",
        "",
        "| column: rule | rows |",
        "| --- | ---: |",
        *(f"| {rule} | {count} |" for rule, count in counts.items()),
        "",
        "The rejected rows, with the batch they came from and their reasons, are in `rejected.csv`.",
        "",
    ]
    return "\n".join(lines)


def run(
    params: Params, data_dir: Path, out_dir: Path, quality_path: Path, now: dt.datetime | pd.Timestamp | None = None
) -> Ingested:
    raw = load_raw(data_dir)
    result = ingest(params.ingest, raw, now)
    passed = bool(result.splits)
    summary = quality_summary(result)
    quarantine = out_dir / "quarantine"
    io.write_csv(quarantine / "rejected.csv", result.rejected)
    io.write_text(quarantine / "report.md", _quarantine_report(result, summary, params.ingest, passed))
    if not passed:
        counts = sorted(_reason_counts(result.rejected).items(), key=lambda kv: -kv[1])[:3]
        msg = (
            f"{len(result.rejected)} of {result.rows_read - result.duplicates_dropped} rows break the contract "
            f"({summary['rejected_share']:.2%}), above ingest.max_rejected_share="
            f"{params.ingest.max_rejected_share:.2%}; most common: "
            + ", ".join(f"{rule} x{count}" for rule, count in counts)
            + f"; see {quarantine / 'report.md'}. Previous outputs were left unchanged."
        )
        raise DataContractError(msg)
    for name in SPLITS:
        io.write_parquet(out_dir / f"{name}.parquet", result.splits[name])
    io.write_json(out_dir / "weeks.json", result.weeks)
    io.write_json(quality_path, summary)
    logger.info(
        "ingested %d rows: %s; %d rejected, %d duplicates dropped",
        result.rows_read,
        ", ".join(f"{k}={len(v)}" for k, v in result.splits.items()),
        len(result.rejected),
        result.duplicates_dropped,
    )
    return result


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--out", type=Path, default=Path("artifacts/ingest"))
    parser.add_argument("--quality", type=Path, default=Path("reports/data_quality.json"))


def main(argv: list[str] | None = None) -> int:
    return stage_main("ingest", argv, _arguments, lambda p, a: run(p, a.data, a.out, a.quality))


if __name__ == "__main__":
    raise SystemExit(main())
