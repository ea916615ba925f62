"""`mlops-template compare REF [REF ...]` and `compare --ablate`: the scoreboards, written to --out.

    mlops-template compare models:/fraud-detector@champion HEAD baseline
    mlops-template compare main my-experiment models/served --out build/compare
    mlops-template compare --ablate --jobs 2 [--group time=timestamp,account_age_days]

Writes compare.{md,html,json} (and the charts' .svg files the Markdown shows) for REFs, and
ablation.{md,html,json} for `--ablate`; the same inputs give the same bytes. Prints where they are
and the headline numbers. Exit 0, or 2 with one line for a REF that cannot be scored.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlops_template.core import io
from mlops_template.core.command import params_argument, positive_int, run_command
from mlops_template.core.config import Params, find_project_root, load_params
from mlops_template.core.errors import ConfigError
from mlops_template.experiments.compare import ablation, charts, refs, render
from mlops_template.experiments.compare.scoreboard import BoardSettings, build
from mlops_template.experiments.compare.scoring import prior, score

logger = logging.getLogger(__name__)

COMPARE, ABLATION = "compare", "ablation"


def _count(text: str) -> int:
    if not text.isdigit():
        msg = f"{text!r} (rule: a whole number, 0 or more)"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops-template compare",
        description="Score models side by side on the same test rows, each through its served artifact at its "
        "own threshold: metrics with intervals, paired differences against the first REF, slices, the rows "
        "they disagree on, curves. A REF is `baseline` (the prior), models:/<name>@<alias>, a served-model "
        "directory, a git revision or a DVC experiment (their models/served from the DVC cache). "
        "--ablate: one retrain per input left out, what each input is worth.",
    )
    parser.add_argument("refs", nargs="*", metavar="REF", help="the models; differences are against the first")
    params_argument(parser)
    parser.add_argument("--ingest", type=Path, default=Path("artifacts/ingest"), help="ingest's splits (test rows)")
    parser.add_argument("--out", type=Path, default=Path("build/compare"), help="directory for the outputs")
    parser.add_argument("--disagreements", type=_count, default=10, help="rows where the models disagree most")
    parser.add_argument("--ablate", action="store_true", help="one retrain per input (or --group) left out")
    parser.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="NAME=COLUMN,COLUMN",
        help="with --ablate: leave these inputs out together (repeatable); other inputs go one by one",
    )
    parser.add_argument("--jobs", type=positive_int, default=1, help="with --ablate: retrains at once (processes)")
    return parser


def _write(
    out: Path, name: str, title: str, board: Any, *, sections: list[render.Section], svgs: Mapping[str, str]
) -> list[Path]:
    files = {chart: f"{chart}.svg" for chart in svgs}
    written = [io.write_text(out / file, charts.standalone(svgs[chart])) for chart, file in files.items()]
    written.append(io.write_json(out / f"{name}.json", board))
    written.append(io.write_text(out / f"{name}.md", render.markdown(sections, files)))
    written.append(io.write_text(out / f"{name}.html", render.html(title, sections, svgs)))
    return written


def compare(params: Params, ref_list: Sequence[str], *, ingest: Path, out: Path, disagreements: int) -> dict[str, Any]:
    """Resolve and score every REF on the test rows, build the scoreboard, write it; the scoreboard."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # noqa: PLC0415 - the train extra

    from mlops_template.data.splits import read_split  # noqa: PLC0415 - pandas only here

    twice = sorted({ref for ref in ref_list if list(ref_list).count(ref) > 1})
    if twice:
        msg = f"REF {twice[0]!r}: given twice (rule: each model once)"
        raise ConfigError(msg)
    root = find_project_root()
    rows = read_split(ingest / "test.parquet")
    weeks_path = ingest / "weeks.json"
    weeks = list(io.read_json(weeks_path).get("test", [])) if weeks_path.is_file() else []
    prior_rate = prior(read_split(ingest / "train.parquet")) if refs.BASELINE in ref_list else 0.0
    with tempfile.TemporaryDirectory(prefix="mlops-compare-") as scratch:
        scored = []
        for position, ref in enumerate(ref_list):
            resolved = refs.resolve(ref, root, Path(scratch) / str(position))
            scored.append(score(resolved, rows, prior_rate))
            logger.info("%s: %s (%s), version %s", ref, resolved.kind, resolved.source, scored[-1].version)
    # One BLAS/OpenMP thread: the bootstrap is many small matrix products, and threads that share busy
    # cores spin (measured on 2 loaded cores: 4.7 s with one thread, 8.1 s with two).
    with threadpool_limits(limits=1):
        board = build(scored, rows, weeks, BoardSettings.from_params(params, disagreements))
    sections, svgs = render.comparison_sections(board), render.comparison_charts(board)
    _write(out, COMPARE, "Model comparison", board, sections=sections, svgs=svgs)
    return board


def ablate(params: Params, *, ingest: Path, out: Path, groups: Sequence[str], jobs: int) -> dict[str, Any]:
    """One retrain per input (or group) left out, the paired scoreboard, written; the scoreboard."""
    from threadpoolctl import threadpool_limits  # noqa: PLC0415 - the train extra

    from mlops_template.data import schema  # noqa: PLC0415

    declared: dict[str, tuple[str, ...]] = {}
    for text in groups:
        name, columns = ablation.parse_group(text)
        if name in declared:
            msg = f"--group {name}: declared twice (rule: one --group per name)"
            raise ConfigError(msg)
        declared[name] = columns
    contract = schema.active()
    plan = ablation.input_groups(contract, declared)
    for name in ("train", "valid", "test"):
        io.require_artifact(ingest / f"{name}.parquet", "ingest")
    started = time.perf_counter()
    models, importance = ablation.retrain_all(params, contract, ingest, plan, jobs)
    from mlops_template.data.splits import read_split  # noqa: PLC0415

    labels = read_split(ingest / "test.parquet")[schema.LABEL].to_numpy(dtype=int)
    with threadpool_limits(limits=1):  # as in `compare`
        board = ablation.scoreboard(
            models,
            importance,
            labels,
            resamples=params.gate.resamples,
            confidence=params.gate.confidence,
            seed=params.gate.seed,
        )
    logger.info("%d retrains in %.1f s (--jobs %d)", len(models), time.perf_counter() - started, jobs)
    sections, svgs = render.ablation_sections(board), render.ablation_charts(board)
    _write(out, ABLATION, "What each input is worth", board, sections=sections, svgs=svgs)
    return board


def _summary(board: Mapping[str, Any], out: Path) -> str:
    lines = [f"compare: {board['rows']['rows']} test rows; differences against {board['reference']!r}"]
    for model in board["models"]:
        shown = []
        for name in ("average_precision", "recall"):
            found = model["metrics"][name]
            text = f"{name} {found['value']:.4f} [{found['low']:.4f}, {found['high']:.4f}]"
            if model["difference"] is not None:
                text += f" ({render.difference(model['difference'][name])})"
            shown.append(text)
        lines.append(f"  {model['ref']}: " + ", ".join(shown))
    lines.append(f"  written: {out / (COMPARE + '.md')}, {out / (COMPARE + '.html')}, {out / (COMPARE + '.json')}")
    return "\n".join(lines) + "\n"


def _ablation_summary(board: Mapping[str, Any], out: Path) -> str:
    lines = ["ablation: change in average precision when left out (without - with), most valuable first"]
    lines += [
        f"  {row['left_out']}: {render.difference(row['difference']['average_precision'])}" for row in board["left_out"]
    ]
    lines.append(f"  written: {out / (ABLATION + '.md')}, {out / (ABLATION + '.html')}, {out / (ABLATION + '.json')}")
    return "\n".join(lines) + "\n"


def _run(args: argparse.Namespace) -> None:
    if not args.refs and not args.ablate:
        msg = "give at least one REF (baseline, models:/<name>@<alias>, a directory, a revision or an experiment)"
        msg += " or --ablate"
        raise ConfigError(msg)
    if args.group and not args.ablate:
        msg = "--group: only with --ablate"
        raise ConfigError(msg)
    params = load_params(args.params)
    if args.refs:
        board = compare(params, args.refs, ingest=args.ingest, out=args.out, disagreements=args.disagreements)
        sys.stdout.write(_summary(board, args.out))
    if args.ablate:
        found = ablate(params, ingest=args.ingest, out=args.out, groups=args.group, jobs=args.jobs)
        sys.stdout.write(_ablation_summary(found, args.out))


def main(argv: list[str] | None = None) -> int:
    return run_command(COMPARE, _parser(), argv, _run)
