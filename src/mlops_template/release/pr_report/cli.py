"""`mlops-template report --base-rev REV [--head-rev REV] --out report.md`: the PR comment's Markdown."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlops_template.core.command import run_command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops-template report",
        description="Write the PR report (Markdown, Mermaid charts, no images) from git and DVC alone.",
    )
    parser.add_argument("--base-rev", required=True, help="the base branch's commit (e.g. origin/main)")
    parser.add_argument("--head-rev", help="a commit to report on (default: the working tree after `dvc repro`)")
    parser.add_argument("--gate", type=Path, default=Path("reports/gate.json"), help="the gate's evidence")
    parser.add_argument("--out", type=Path, help="write here (default: stdout)")
    return parser


def _write(args: argparse.Namespace) -> None:
    from mlops_template.core import io  # noqa: PLC0415
    from mlops_template.core.config import find_project_root  # noqa: PLC0415
    from mlops_template.release.pr_report import render, sources  # noqa: PLC0415

    gathered = sources.gather(find_project_root(), args.base_rev, args.head_rev, args.gate)
    markdown = render.render(gathered)
    if args.out is None:
        sys.stdout.write(markdown)
    else:
        io.write_text(args.out, markdown)


def main(argv: list[str] | None = None) -> int:
    return run_command("report", _parser(), argv, _write)
