"""The one shape of every command's `main`: parse, set up logging, run, turn a user error into one line.

Standard library only (and `core.errors`): the serving process, `init` before anything is installed and
`audit` on a bare runner import it, so it must not pull in pydantic, pandas or anything else. The stages'
shape, which loads params, is `stages.stage_main`.

Exit codes mean the same everywhere:
- 0 done, 1 a verdict that fails (the gate), 2 a user error (one line `error: <command>: <message>`);
- 3 nothing new to add (`data next-batch`);
- the monitor's 4 (breach) and 5 (not enough to judge) are its own (`monitoring.monitor`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from mlops_template.core.errors import MlopsTemplateError

EXIT_OK = 0
EXIT_FAILED = 1  # a verdict, not an error: the gate says "fail"
EXIT_USER_ERROR = 2  # argparse uses 2 for a bad command line too
EXIT_NO_NEW_BATCH = 3  # `data next-batch`: nothing new to add (the retrain workflow opens no PR)


def configure_logging() -> None:
    """Logging set up once, in the entry point (`MLOPS_TEMPLATE_LOG_LEVEL`, default INFO)."""
    level = os.environ.get("MLOPS_TEMPLATE_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)


def positive_int(text: str) -> int:
    """An argparse type: a whole number, at least 1; otherwise its error names the option, the value and the rule."""
    if not text.isdigit() or int(text) < 1:
        msg = f"{text!r} (rule: a whole number, at least 1)"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def params_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: %(default)s)")


def run_guarded(action: Callable[[], int | None], name: str) -> int:
    """Run `action`; its int is the exit code (None is 0); a user-facing error is one line and exit 2."""
    try:
        code = action()
    except MlopsTemplateError as exc:
        sys.stderr.write(f"error: {name}: {exc}\n")  # the one line a user reads for an error they can fix
        return EXIT_USER_ERROR
    return EXIT_OK if code is None else code


def run_command(
    name: str | Callable[[argparse.Namespace], str],
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    action: Callable[[argparse.Namespace], int | None],
) -> int:
    """Every `main`: parse `argv` (a bad command line is argparse's usage and exit 2), set up logging,
    run `action(args)` guarded. `name` is the command as a user types it after `mlops-template`, or,
    for a command with subcommands, a function of the parsed arguments that says which one ran."""
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging()
    return run_guarded(lambda: action(args), name if isinstance(name, str) else name(args))
