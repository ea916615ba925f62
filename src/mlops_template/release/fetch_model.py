"""`mlops-template fetch-model URI --out DIR`: the served artifact of a registered version, verified.

For image builds from the registry (the name is params.yaml `tracking.registered_model`):
`mlops-template fetch-model models:/<name>@champion --out build/model && make image MODEL_DIR=build/model`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlops_template.core.command import run_command
from mlops_template.core.config import find_project_root
from mlops_template.model import tracking
from mlops_template.model.artifact import ServedModel


def fetch(uri: str, out: Path) -> None:
    directory = tracking.download_served(uri, out, root=find_project_root())
    served = ServedModel.load(directory)  # every sha256 checked before anything is built from it
    print(f"{directory}: served version {served.version} from {uri}")  # noqa: T201 - the command's output


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops-template fetch-model", description=__doc__.split("\n\n")[0])
    parser.add_argument("uri", help="models:/<name>@<alias> or models:/<name>/<version>")
    parser.add_argument("--out", type=Path, required=True, help="a new directory to write the artifact into")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_command("fetch-model", _parser(), argv, lambda args: fetch(args.uri, args.out))
