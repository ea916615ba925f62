"""Where raw batches come from, and how they land in `data/` (the DVC-tracked raw store).

`data/` holds one file per batch, never edited after it lands ("raw data is immutable").
A source only ever appends: the simulated source generates the next ISO week, the file source
copies the next file from a landing folder (a path or glob of CSV/Parquet files).

A batch lands only if ingest would take it: the contract, and its event times (inside the ISO week
its file is named after, none in the future; see `event_time`). "Nothing new" (the next simulated
week has not ended yet, every landing file is already in `data/`, or a file whose ids (the contract's
ID column) are all in `data/` already) raises `NoNewBatchError`, which a scheduled run treats as "no PR".
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
from pathlib import Path

import pandas as pd

from mlops_template.core import contract_spec, io, params_check
from mlops_template.core.config import FileSourceParams, Params, SimulatedSourceParams
from mlops_template.core.errors import DataContractError, NoNewBatchError, SourceError
from mlops_template.core.weeks import WEEK_PATTERN, shift_week, weeks_between
from mlops_template.data import schema
from mlops_template.data.sources import event_time
from mlops_template.data.sources.simulated import simulate_batch

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


def check_event_times(raw: pd.DataFrame, source: str, now: pd.Timestamp) -> None:
    """Refuse a batch with event times outside the ISO week its name claims, or in the future."""
    if schema.TIMESTAMP not in raw.columns:
        return  # the contract check names the missing column
    why = event_time.refusal(raw[schema.TIMESTAMP], source, now)
    if why is not None:
        raise DataContractError(why)


def known_ids(data_dir: Path) -> set[str]:
    """Every id (the contract's ID column) already in `data/` (as text, however the batch stored it)."""
    if not data_dir.is_dir() or not any(p.suffix in BATCH_SUFFIXES for p in data_dir.iterdir()):
        return set()
    ids: set[str] = set()
    for path in batch_files(data_dir):
        batch = read_batch(path)
        if schema.ID in batch.columns:
            ids.update(batch[schema.ID].dropna().astype(str))
    return ids


def _refuse_if_nothing_new(raw: pd.DataFrame, source: str, data_dir: Path) -> None:
    if schema.ID not in raw.columns:
        return
    incoming = set(raw[schema.ID].dropna().astype(str))
    if incoming and incoming <= known_ids(data_dir):
        msg = (
            f"{source} adds no new rows: all {len(incoming)} of its {schema.ID} values are already in "
            f"{data_dir} (a batch delivered again); nothing written"
        )
        raise NoNewBatchError(msg)


def _refuse_simulated_with_another_contract(params: Params) -> None:
    """The simulator writes the template's rows: with a contract of your own it would write a foreign batch."""
    why = params_check.simulated_source_problem(
        params, schema.active(), contract_spec.default_contract(), str(schema.SOURCE)
    )
    if why is not None:
        raise SourceError(why)


def _simulated_weeks(data_dir: Path) -> list[str]:
    if not data_dir.is_dir():
        return []
    return sorted(p.name.removesuffix(".csv") for p in data_dir.iterdir() if _WEEK_FILE.match(p.name))


def _write_simulated(
    params: SimulatedSourceParams, seed: int, week: str, data_dir: Path, max_share: float, *, now: pd.Timestamp
) -> Path:
    target = data_dir / f"{week}.csv"
    batch = simulate_batch(params, seed, week)
    check_batch(batch, str(target), max_share)
    check_event_times(batch, str(target), now)
    io.write_text(target, batch.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ"))
    logger.info("wrote %s (%d rows)", target, len(batch))
    return target


def _next_file(params: FileSourceParams, data_dir: Path, max_share: float, now: pd.Timestamp) -> Path:
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
        raise NoNewBatchError(msg)
    chosen, target = new[0], data_dir / new[0].name
    raw = read_batch(chosen)
    check_batch(raw, str(chosen), max_share)
    _refuse_if_nothing_new(raw, str(chosen), data_dir)
    check_event_times(raw, str(chosen), now)
    with io.atomic_path(target) as temporary:
        shutil.copyfile(chosen, temporary)
    logger.info("copied %s -> %s", chosen, target)
    return target


def next_batch(params: Params, data_dir: Path, now: dt.datetime | pd.Timestamp | None = None) -> Path:
    """Append the next batch from the configured source to `data_dir`; return its path.

    The batch is checked first (contract, event times against `now`, default the clock): a batch
    that ingest would refuse never lands. Nothing new to add raises `NoNewBatchError`.
    """
    source, share, clock = params.source, params.ingest.max_rejected_share, event_time.as_utc(now)
    if isinstance(source, FileSourceParams):
        return _next_file(source, data_dir, share, clock)
    _refuse_simulated_with_another_contract(params)
    weeks = _simulated_weeks(data_dir)
    week = shift_week(weeks[-1], 1) if weeks else source.first_week
    end = event_time.week_bounds(week)[1]
    if end > clock:
        # A week's batch arrives once the week is over; a second run in the same week adds nothing.
        msg = f"{week} has not ended yet (it ends {end.isoformat()}, now is {clock.isoformat()}); nothing written"
        raise NoNewBatchError(msg)
    return _write_simulated(source, params.base.seed, week, data_dir, share, now=clock)


def generate_history(
    params: Params, data_dir: Path, weeks: int, now: dt.datetime | pd.Timestamp | None = None
) -> list[Path]:
    """Write `weeks` consecutive simulated batches starting at `source.first_week` (none in the future)."""
    source = params.source
    if not isinstance(source, SimulatedSourceParams):
        msg = f"source.kind={source.kind!r}: only the simulated source can generate a history"
        raise SourceError(msg)
    _refuse_simulated_with_another_contract(params)
    last = shift_week(source.first_week, weeks - 1)
    labels = weeks_between(source.first_week, last)
    share, clock = params.ingest.max_rejected_share, event_time.as_utc(now)
    return [_write_simulated(source, params.base.seed, week, data_dir, share, now=clock) for week in labels]
