"""`mlops-template monitor`: judge a window of the prediction log against the reference profile.

    mlops-template monitor --log SOURCE --profile reports/reference_profile.json \
        [--start ISO --end ISO | --weeks N [--end ISO]] --out DIR [--params params.yaml]

SOURCE is what `logsource.read_window` reads (the API's SQLite log, a directory of Parquet segments
or s3://bucket/prefix). Writes DIR/summary.json, DIR/report.md and DIR/report.html, prints one line
and exits with a status a workflow can branch on:

    0  no breach                 4  breach (`breach: <kind>: <reason>`, the most harmful first)
    5  not enough data to judge  2  bad usage, params, profile or log (`error: monitor: ...`)

Only rows scored by the profiled model version are judged (after a promotion the window may hold
two); the rows a week count every version (traffic does not depend on the model).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_template.core import io
from mlops_template.core.command import EXIT_OK, run_command
from mlops_template.core.config import MonitorParams, load_params
from mlops_template.core.errors import ConfigError, MlopsTemplateError
from mlops_template.monitoring import detectors, history, monitor_report, reference_profile

logger = logging.getLogger(__name__)

EXIT_BREACH = 4
EXIT_INSUFFICIENT = 5
EXIT_CODES = {"ok": EXIT_OK, "breach": EXIT_BREACH, "insufficient": EXIT_INSUFFICIENT}
REQUIRED_COLUMNS = ("ts", "model_version", "probability", "prediction", "label")
Reader = Callable[[str, datetime, datetime], pd.DataFrame]


class MonitorInputError(MlopsTemplateError):
    """The monitor's arguments or its log window are not usable (bad window, missing columns)."""


@dataclass(frozen=True)
class Outcome:
    status: str
    summary: dict[str, Any]
    findings: list[detectors.Finding]
    line: str

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]


def parse_time(value: str, flag: str) -> datetime:
    """An ISO 8601 time (naive = UTC) for `flag`; a typed error naming the flag otherwise."""
    try:
        found = datetime.fromisoformat(value.removesuffix("Z") + ("+00:00" if value.endswith("Z") else ""))
    except ValueError:
        msg = f"{flag} {value!r}: not an ISO 8601 time (rule: e.g. 2026-12-14 or 2026-12-14T00:00:00Z)"
        raise MonitorInputError(msg) from None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def window_bounds(
    start: str | None, end: str | None, weeks: int | None, default_weeks: int, now: datetime
) -> tuple[datetime, datetime]:
    """[start, end): --start/--end, or --weeks (default: monitor.window_weeks) ending at --end or now."""
    if start is not None and weeks is not None:
        msg = f"--start {start!r} with --weeks {weeks}: give one (rule: --start/--end, or --weeks [--end])"
        raise MonitorInputError(msg)
    if start is not None and end is None:
        msg = f"--start {start!r} without --end (rule: a window has both ends, or use --weeks)"
        raise MonitorInputError(msg)
    if weeks is not None and weeks < 1:
        msg = f"--weeks {weeks}: must be at least 1"
        raise MonitorInputError(msg)
    stop = parse_time(end, "--end") if end is not None else now
    first = parse_time(start, "--start") if start is not None else stop - timedelta(weeks=weeks or default_weeks)
    if first >= stop:
        msg = f"--start {first.isoformat()} is not before --end {stop.isoformat()} (rule: start < end)"
        raise MonitorInputError(msg)
    return first, stop


def _check_columns(frame: pd.DataFrame, source: str, profile: reference_profile.Profile) -> None:
    missing = [c for c in (*REQUIRED_COLUMNS, *profile.inputs) if c not in frame.columns]
    if missing:
        msg = f"--log {source}: window lacks column(s) {missing} (rule: the prediction log's columns, see logsource)"
        raise MonitorInputError(msg)


def check_params(params: MonitorParams, profile: reference_profile.Profile) -> None:
    """`monitor.drift` must fit the profile: the same trending inputs, ignored ones that exist."""
    profiled = {
        name: spec.trend_per_day
        for name, spec in profile.inputs.items()
        if isinstance(spec, reference_profile.NumericInput) and spec.trend_per_day
    }
    if dict(params.drift.trending) != profiled:
        msg = (
            f"monitor.drift.trending: {dict(params.drift.trending)} is not the profile's {profiled} "
            "(rule: the profile stage reads it; re-run `dvc repro profile` after changing it)"
        )
        raise ConfigError(msg)
    seasonal = sorted(
        name
        for name, spec in profile.inputs.items()
        if isinstance(spec, reference_profile.NumericInput) and spec.transform == "week_standardised"
    )
    if sorted(params.drift.seasonal) != seasonal:
        msg = (
            f"monitor.drift.seasonal: {sorted(params.drift.seasonal)} is not the profile's {seasonal} "
            "(rule: the profile stage reads it; re-run `dvc repro profile` after changing it)"
        )
        raise ConfigError(msg)
    for name in params.drift.ignored:
        if name not in profile.inputs:
            msg = (
                f"monitor.drift.ignored: {name!r} is not an input of model {profile.model_version} "
                f"({sorted(profile.inputs)})"
            )
            raise ConfigError(msg)


def judge(
    frame: pd.DataFrame,
    *,
    profile: reference_profile.Profile,
    params: MonitorParams,
    start: datetime,
    end: datetime,
) -> Outcome:
    """The detectors on a window already read; pure apart from the bootstrap's seeded draws."""
    weeks = (end - start).total_seconds() / timedelta(weeks=1).total_seconds()
    ours = frame[frame["model_version"] == profile.model_version]
    others = sorted({str(v) for v in frame["model_version"].unique()} - {profile.model_version})
    labelled = int(ours["label"].notna().sum())
    summary: dict[str, Any] = {
        "window": {"start": start.isoformat(), "end": end.isoformat(), "rows": len(ours), "labelled": labelled},
        "model_version": profile.model_version,
        "reference": {"weeks": profile.weeks, "rows": profile.rows},
        "rows_other_versions": {"rows": len(frame) - len(ours), "versions": others},
    }
    if len(ours) == 0:
        seen = f" (versions in the window: {', '.join(others)})" if others else ""
        line = f"insufficient: no rows of model version {profile.model_version} in the window{seen}"
        summary |= {"status": "insufficient", "breaches": [], "detectors": [], "reason": line}
        return Outcome("insufficient", summary, [], line)
    findings = detectors.run_all(ours, total_rows=len(frame), weeks=weeks, profile=profile, params=params)
    breached = detectors.breaches(findings)
    short = [f for f in findings if f.status == "insufficient"]
    if breached:
        status, line = "breach", f"breach: {breached[0].kind}: {breached[0].reason}"
    elif short:
        status, line = "insufficient", f"insufficient: {short[0].detector}: {short[0].reason}"
    else:
        status, line = "ok", f"ok: {len(findings)} detectors quiet on {len(ours)} rows ({labelled} labelled)"
    alphas = [f.details["alpha"] for f in findings if "alpha" in f.details]
    unbanded = sorted({str(f.details["band_note"]) for f in findings if f.details.get("band_note")})
    summary |= {
        "status": status,
        "reason": line,
        "alpha": alphas[0] if alphas else None,
        "bands": {"k": params.bands.k, "weeks": profile.band_weeks, "warnings": unbanded},
        "breaches": [
            {k: f.as_json()[k] for k in ("kind", "detector", "statistic", "threshold", "p_value", "reason")}
            for f in breached
        ],
        "detectors": [f.as_json() for f in findings],
    }
    return Outcome(status, summary, findings, line)


def run(
    *,
    log: str,
    profile_path: Path,
    start: datetime,
    end: datetime,
    out: Path,
    params: MonitorParams,
    reader: Reader | None = None,
    params_path: Path | None = None,
) -> Outcome:
    """Judge the window; with `params_path`, against the profile of the version production serves
    (`history`: the checkout's, else the one committed with that version, and that commit's params)."""
    profile = reference_profile.load(profile_path)
    if reader is None:
        from mlops_template.monitoring.logsource import read_window  # noqa: PLC0415 (DuckDB only when reading)

        reader = read_window
    frame = reader(log, start, end)
    source = str(profile_path)
    if params_path is not None and "ts" in frame.columns and "model_version" in frame.columns:
        version = history.served_version(frame)
        if version is not None and version != profile.model_version:
            found = history.find(version, profile_path, params_path)
            profile, params, source = found.profile, found.params, f"{found.commit[:12]}:{profile_path}"
            logger.info("model %s serves the window: judged against its profile from commit %s", version, source)
    check_params(params, profile)
    _check_columns(frame, log, profile)
    outcome = judge(frame, profile=profile, params=params, start=start, end=end)
    outcome.summary["reference"]["profile"] = source
    io.write_json(out / "summary.json", outcome.summary)
    io.write_text(out / "report.md", monitor_report.markdown(outcome.summary, outcome.findings, profile))
    io.write_text(out / "report.html", monitor_report.html(outcome.summary, outcome.findings, profile))
    return outcome


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops-template monitor",
        description="Judge a window of the prediction log against the reference profile. Exit 0 no breach, "
        "4 breach, 5 not enough data to judge, 2 bad usage/params/profile/log.",
    )
    parser.add_argument("--log", required=True, help="SQLite log, directory of Parquet segments, or s3://bucket/prefix")
    parser.add_argument("--profile", type=Path, default=Path("reports/reference_profile.json"))
    parser.add_argument("--start", help="window start, ISO 8601 (inclusive; naive = UTC)")
    parser.add_argument("--end", help="window end, ISO 8601 (exclusive; default: now)")
    parser.add_argument(
        "--weeks", type=int, help="window length in weeks, ending at --end (default: monitor.window_weeks)"
    )
    parser.add_argument("--out", type=Path, required=True, help="directory for summary.json, report.md, report.html")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument(
        "--profile-from-history",
        action="store_true",
        help="judge the version that scored the newest row: when it is not --profile's, use the profile and "
        "monitor params committed with it (git history; after a rollback production serves an older model)",
    )
    return parser


def _monitor(args: argparse.Namespace, reader: Reader | None) -> int:
    """Judge the window, print the verdict's one line; its status is the exit code (0, 4 or 5)."""
    params = load_params(args.params).monitor
    start, end = window_bounds(args.start, args.end, args.weeks, params.window_weeks, datetime.now(UTC))
    outcome = run(
        log=args.log,
        profile_path=args.profile,
        start=start,
        end=end,
        out=args.out,
        params=params,
        reader=reader,
        params_path=args.params if args.profile_from_history else None,
    )
    sys.stdout.write(outcome.line + "\n")
    return outcome.exit_code


def main(argv: list[str] | None = None, reader: Reader | None = None) -> int:
    return run_command("monitor", _parser(), argv, lambda args: _monitor(args, reader))


if __name__ == "__main__":
    raise SystemExit(main())
