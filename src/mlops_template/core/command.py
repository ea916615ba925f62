"""What every entry point shares: logging set up once, user errors as one line and exit code 2."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from mlops_template.core.config import Params, load_params
from mlops_template.core.errors import MlopsTemplateError

EXIT_USER_ERROR = 2


def configure_logging() -> None:
    level = os.environ.get("MLOPS_TEMPLATE_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)


def params_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: %(default)s)")


def run_guarded(action: Callable[[], object], name: str) -> int:
    """Run `action`; a user-facing error becomes `error: <name>: <message>` on stderr and exit 2."""
    try:
        action()
    except MlopsTemplateError as exc:
        print(f"error: {name}: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


def stage_main(
    name: str,
    argv: list[str] | None,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[Params, argparse.Namespace], object],
) -> int:
    """The shape of every stage's `main`: parse args, load params, run, report errors plainly."""
    parser = argparse.ArgumentParser(prog=f"mlops-template {name}", description=f"DVC stage: {name}")
    params_argument(parser)
    add_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging()
    return run_guarded(lambda: run(load_params(args.params), args), name)
