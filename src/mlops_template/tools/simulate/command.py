"""`mlops-template simulate` (and `python -m mlops_template.tools.simulate`): the command line, checked into
`Options`, the loop run, and one line of what happened."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path

from mlops_template.core.command import positive_int, run_command
from mlops_template.core.weeks import parse_week, shift_week, week_label
from mlops_template.tools.simulate.loop import Loop
from mlops_template.tools.simulate.options import RETRAIN, SCENARIOS, Options, SimulationError


def last_ended_week(today: dt.date | None = None) -> str:
    """The ISO week before the current one: the newest whose batch has arrived."""
    return shift_week(week_label(today or dt.datetime.now(dt.UTC).date()), -1)


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops-template simulate",
        description="Run the closed loop week by week in a working copy: serve, replay traffic, delayed labels, "
        "monitor, retrain on a breach, gate, promote. Writes WORKDIR/simulation/timeline.json and loop.svg.",
    )
    parser.add_argument("--weeks", type=positive_int, required=True, help="simulated weeks after the history")
    parser.add_argument("--scenario", choices=SCENARIOS, default="none")
    parser.add_argument(
        "--start-week", type=positive_int, default=3, help="the simulated week (1 = the first) the drift starts at"
    )
    parser.add_argument("--strength", type=float, default=1.0, help="drift strength (source.drift.strength)")
    parser.add_argument("--history", type=positive_int, default=8, help="weeks of data before the first simulated one")
    parser.add_argument("--workdir", type=Path, default=Path("simulation-workdir"), help="a new or empty directory")
    parser.add_argument("--seed", type=int, default=None, help="base.seed of the working copy (default: params')")
    parser.add_argument("--retrain", choices=RETRAIN, default="on-breach")
    parser.add_argument(
        "--corrupt-labels", type=positive_int, action="append", default=[], metavar="K",
        help="the batch of simulated week K arrives with its labels inverted (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--retrain-week", type=positive_int, action="append", default=[], metavar="K",
        help="also retrain at simulated week K, whatever the monitor says (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--last-week", default=None, help="the last simulated ISO week (default: the last week that has ended)"
    )
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="base params (default: %(default)s)")
    return parser


def options_from(args: argparse.Namespace) -> Options:
    last = args.last_week or last_ended_week()
    try:
        ended = parse_week(last) < parse_week(week_label(dt.datetime.now(dt.UTC).date()))
    except ValueError as exc:
        raise SimulationError(f"--last-week: {exc}") from None
    if not ended:
        msg = f"--last-week {last}: has not ended yet (rule: a past week; batches arrive once their week is over)"
        raise SimulationError(msg)
    if args.scenario != "none" and args.start_week > args.weeks:
        msg = f"--start-week {args.start_week}: after the last simulated week (rule: 1..--weeks={args.weeks})"
        raise SimulationError(msg)
    for flag, chosen in (("--corrupt-labels", args.corrupt_labels), ("--retrain-week", args.retrain_week)):
        outside = [k for k in chosen if k > args.weeks]
        if outside:
            msg = f"{flag} {outside[0]}: after the last simulated week (rule: 1..--weeks={args.weeks})"
            raise SimulationError(msg)
    if not args.params.is_file():
        msg = f"--params {args.params}: not found"
        raise SimulationError(msg)
    return Options(
        weeks=args.weeks,
        scenario=args.scenario,
        drift_week=args.start_week,
        history=args.history,
        strength=args.strength,
        seed=args.seed,
        retrain=args.retrain,
        retrain_weeks=tuple(sorted(set(args.retrain_week))),
        corrupt_labels=tuple(sorted(set(args.corrupt_labels))),
        base_params=args.params.resolve(),
        workdir=args.workdir.resolve(),
        last_week=last,
    )


def main(argv: list[str] | None = None) -> int:
    return run_command("simulate", _arguments(), argv, simulate)


def simulate(args: argparse.Namespace) -> None:
    """The loop for the parsed command line; on success, one line: the weeks, alarms, promotions, outputs."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    timeline = Loop(options_from(args)).run()
    out = args.workdir / "simulation"
    alarms = [w["week"] for w in timeline if w["alarm"]]
    promotions = [w["week"] for w in timeline if w["promoted"]]
    sys.stdout.write(
        f"simulate: {len(timeline)} weeks; alarms {alarms or 'none'}; promotions {promotions or 'none'}; "
        f"{out / 'timeline.json'}, {out / 'loop.svg'}\n"
    )
