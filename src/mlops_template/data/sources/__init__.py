"""Where raw batches come from, and how they land in `data/` (the DVC-tracked raw store).

`data/` holds one file per batch, never edited after it lands ("raw data is immutable").
A source only ever appends: the simulated source generates the next ISO week, the file source
copies the next file from a landing folder (a path or glob of CSV/Parquet files).
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import pandas as pd

from mlops_template import io
from mlops_template.config import FileSourceParams, Params, SimulatedSourceParams
from mlops_template.data import schema
from mlops_template.data.sources.simulated import simulate_batch
from mlops_template.data.weeks import WEEK_PATTERN, shift_week, weeks_between
from mlops_template.errors import DataContractError, SourceError

logger = logging.getLogger(__name__)

BATCH_SUFFIXES = (".csv", ".parquet")
_WEEK_FILE = re.compile(WEEK_PATTERN.removesuffix("$") + r"\.csv$")


def batch_files(data_dir: Path) -> list[Path]:
    """The batch files in `data_dir`, in name order; an error if there are none."""
    if not data_dir.is_dir():
        msg = f"{data_dir}: data directory not found (run `dvc pull data.dvc` to fetch the default data)"
        raise SourceError(msg)
    files = sorted(p for p in data_dir.iterdir() if p.is_file() and p.suffix in BATCH_SUFFIXES)
    if not files:
        msg = f"{data_dir}: no batch files ({', '.join(BATCH_SUFFIXES)}) found"
        raise SourceError(msg)
    return files


def read_batch(path: Path) -> pd.DataFrame:
    """Read one batch file as raw values; the contract, not the reader, decides the types."""
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=schema.TEXT_COLUMNS)
    except (OSError, ValueError) as exc:
        msg = f"{path}: cannot be read as {path.suffix.lstrip('.')}: {exc}"
        raise DataContractError(msg) from exc


def check_batch(raw: pd.DataFrame, source: str, max_rejected_share: float) -> schema.ContractResult:
    """Refuse a batch that ingest would refuse, before it lands in `data/`."""
    result = schema.validate(raw.drop_duplicates(), source)
    if result.rejected_share > max_rejected_share:
        reasons = result.rejected["reasons"].value_counts().head(3).to_dict()
        msg = (
            f"{source}: {len(result.rejected)} of {len(raw)} rows ({result.rejected_share:.2%}) "
            f"break the contract, above ingest.max_rejected_share={max_rejected_share:.2%}; "
            f"most common: {reasons}"
        )
        raise DataContractError(msg)
    return result


def _simulated_weeks(data_dir: Path) -> list[str]:
    if not data_dir.is_dir():
        return []
    return sorted(p.name.removesuffix(".csv") for p in data_dir.iterdir() if _WEEK_FILE.match(p.name))


def _write_simulated(params: SimulatedSourceParams, seed: int, week: str, data_dir: Path, max_share: float) -> Path:
    target = data_dir / f"{week}.csv"
    batch = simulate_batch(params, seed, week)
    check_batch(batch, str(target), max_share)
    io.write_text(target, batch.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ"))
    logger.info("wrote %s (%d rows)", target, len(batch))
    return target


def _next_file(params: FileSourceParams, data_dir: Path, max_share: float) -> Path:
    pattern = params.path
    if Path(pattern).is_dir():
        pattern = str(Path(pattern) / "*")
    anchor = Path(pattern).anchor or "."
    relative = str(Path(pattern).relative_to(anchor)) if Path(pattern).is_absolute() else pattern
    candidates = sorted(p for p in Path(anchor).glob(relative) if p.suffix in BATCH_SUFFIXES)
    if not candidates:
        msg = f"source.path={params.path!r}: matches no .csv or .parquet file"
        raise SourceError(msg)
    present = {p.name for p in data_dir.iterdir()} if data_dir.is_dir() else set()
    new = [p for p in candidates if p.name not in present]
    if not new:
        msg = f"source.path={params.path!r}: no new batch (all {len(candidates)} file(s) are already in {data_dir})"
        raise SourceError(msg)
    chosen, target = new[0], data_dir / new[0].name
    check_batch(read_batch(chosen), str(chosen), max_share)
    with io.atomic_path(target) as temporary:
        shutil.copyfile(chosen, temporary)
    logger.info("copied %s -> %s", chosen, target)
    return target


def next_batch(params: Params, data_dir: Path) -> Path:
    """Append the next batch from the configured source to `data_dir`; return its path.

    The batch is checked against the contract first: a batch that ingest would refuse never lands.
    """
    source, share = params.source, params.ingest.max_rejected_share
    if isinstance(source, FileSourceParams):
        return _next_file(source, data_dir, share)
    weeks = _simulated_weeks(data_dir)
    week = shift_week(weeks[-1], 1) if weeks else source.first_week
    return _write_simulated(source, params.base.seed, week, data_dir, share)


def generate_history(params: Params, data_dir: Path, weeks: int) -> list[Path]:
    """Write `weeks` consecutive simulated batches starting at `source.first_week`."""
    source = params.source
    if not isinstance(source, SimulatedSourceParams):
        msg = f"source.kind={source.kind!r}: only the simulated source can generate a history"
        raise SourceError(msg)
    last = shift_week(source.first_week, weeks - 1)
    labels = weeks_between(source.first_week, last)
    share = params.ingest.max_rejected_share
    return [_write_simulated(source, params.base.seed, week, data_dir, share) for week in labels]
