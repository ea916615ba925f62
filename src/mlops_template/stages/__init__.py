"""One module per DVC stage: ingest -> featurize -> train -> export -> profile, evaluate -> register.

A stage imports `model/`, `data/`, `core/` (and the monitor's profile library), never another stage.
Every stage's `main` is `stage_main`: `--params` plus the stage's own arguments, then `run(params, args)`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from mlops_template.core.command import params_argument, run_command
from mlops_template.core.config import Params, load_params


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

    def action(args: argparse.Namespace) -> None:
        run(load_params(args.params), args)

    return run_command(name, parser, argv, action)
